"""A far-end fake of Bedrock Runtime's Converse API: a small HTTP server on werkzeug that the real boto3
`bedrock-runtime` client talks to (`endpoint_url=fake.url`, or `AWS_ENDPOINT_URL_BEDROCK_RUNTIME`).

It answers `POST /model/{modelId}/converse` with the documented JSON (botocore's service model: `output.message.
content[].toolUse {toolUseId, name, input}`, `stopReason`, `usage`, `metrics.latencyMs`) and errors the way the
service sends them (HTTP status, `x-amzn-ErrorType` header, `{"message": ...}` body). Each request takes the next
scripted answer; a test scripts them with `answer(...)` and reads `requests` (model id and JSON body of each).

    with FakeBedrock() as fake:
        fake.answer(tool_answer({...}), error(429, "ThrottlingException"))
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import unquote

from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

TOOL_USE_ID = "tooluse_fake_0001"


@dataclass(frozen=True)
class Answer:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


def _json(document: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> Answer:
    return Answer(status, json.dumps(document).encode(), {"Content-Type": "application/json", **(headers or {})})


def converse_body(content: list[dict[str, Any]], stop_reason: str) -> dict[str, Any]:
    return {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": stop_reason,
        "usage": {"inputTokens": 1200, "outputTokens": 300, "totalTokens": 1500},
        "metrics": {"latencyMs": 850},
    }


def tool_answer(tool_input: Any, *, name: str = "record_call_insights", stop_reason: str = "tool_use") -> Answer:
    """The model called the tool (stopReason `tool_use` unless told otherwise, e.g. `max_tokens`)."""
    return _json(
        converse_body([{"toolUse": {"toolUseId": TOOL_USE_ID, "name": name, "input": tool_input}}], stop_reason)
    )


def text_answer(text: str, *, stop_reason: str = "end_turn") -> Answer:
    """The model answered in prose instead of calling the tool."""
    return _json(converse_body([{"text": text}], stop_reason))


def error(status: int, code: str, message: str = "refused by the fake") -> Answer:
    return _json({"message": message}, status, {"x-amzn-ErrorType": f"{code}:http://internal.amazon.com/coral/"})


def raw(body: bytes, status: int = 200) -> Answer:
    """A body that is not what the API documents (e.g. not JSON)."""
    return Answer(status, body, {"Content-Type": "application/json"})


def slow(seconds: float, then: Answer) -> Answer:
    return Answer(then.status, then.body, then.headers, delay_s=seconds)


@dataclass(frozen=True)
class SeenRequest:
    model_id: str
    body: dict[str, Any]


class FakeBedrock:
    def __init__(self) -> None:
        self._answers: deque[Answer] = deque()
        self.requests: list[SeenRequest] = []
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "not started"
        return f"http://127.0.0.1:{self._server.server_port}"

    def answer(self, *answers: Answer) -> None:
        with self._lock:
            self._answers.extend(answers)

    def __enter__(self) -> FakeBedrock:
        # Port 0: the system picks a free port (several test processes share this machine).
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-bedrock", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._closing.set()  # ends any slow answer still waiting
        assert self._server is not None and self._thread is not None
        self._server.shutdown()
        self._thread.join(timeout=5)

    @Request.application
    def _app(self, request: Request) -> Response:
        parts = request.path.split("/")
        if request.method != "POST" or len(parts) != 4 or parts[1] != "model" or parts[3] != "converse":
            return Response(json.dumps({"message": f"no route {request.path}"}), 404)
        with self._lock:
            self.requests.append(SeenRequest(unquote(parts[2]), json.loads(request.get_data() or b"{}")))
            answer = self._answers.popleft() if self._answers else error(500, "InternalServerException", "no answer")
        if answer.delay_s:
            self._closing.wait(answer.delay_s)
        return Response(answer.body, answer.status, answer.headers)
