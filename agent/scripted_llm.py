"""A scripted `llm.LLM` that replays a conversation script, so the real AgentSession runs offline.

Script format (see ../shared/examples/conversation.json; every key beyond `turns` is optional):

    {
      "session_id": "trial-call-0001",
      "room": "console",
      "caller": {"identity": "sip_+14155550123"},
      "started_at": "2026-11-20T15:04:05Z",
      "end_reason": "caller_hangup",
      "transcript": "redacted",
      "turns": [
        {"role": "user", "text": "..."},
        {"role": "assistant", "tool": "unleash_search_knowledge", "args": {...}},
        {"role": "assistant", "tool": "book_sales_meeting", "args": {...}, "fail": "timeout"},
        {"role": "assistant", "text": "..."}
      ]
    }

The LLM is stateless: on each call it finds the latest user message in the chat context, looks up the
assistant items scripted after the matching user turn, skips the ones already answered (one per assistant
message or function call the session recorded since that user message) and emits the next one. A text item
directly followed by a tool item is emitted in the same response, as a real model would. `fail` is not read
here: the fake tool clients take it from the script (see `failure_plan`).

`room` is the LiveKit room the call would be in. Without `session_id`, `voice-analytics simulate` derives the id as a
live call does (room label plus a call id), the call id being a hash of the script: two scripts in the same room
give two records, the same script twice gives one (see agent/simulate.py).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from livekit.agents import APIConnectOptions, NotGivenOr, llm
from livekit.agents.llm import ChatChunk, ChoiceDelta, CompletionUsage, FunctionToolCall
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, NOT_GIVEN
from pydantic import BaseModel, ConfigDict, Field

from functions.common.record import SESSION_ID_PATTERN, EndReason, TranscriptMode

DEFAULT_REPLY = "Okay, thanks. Is there anything else I can help you with?"
# After a tool that failed and no scripted text: a real model would turn the tool's (caller-safe) error
# message into speech; the scripted one says it verbatim.
AFTER_TOOL_REPLY = "Done. Is there anything else I can help you with?"


class ScriptTurn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["user", "assistant"]
    text: str | None = None
    tool: str | None = None
    args: dict[str, Any] = Field(default_factory=dict)
    fail: str | None = None


class CallerScript(BaseModel):
    model_config = ConfigDict(extra="forbid")

    identity: str | None = None


class ConversationScript(BaseModel):
    """A parsed conversation script; unknown keys are rejected so a typo does not silently change a run."""

    model_config = ConfigDict(extra="forbid")

    session_id: Annotated[str, Field(pattern=SESSION_ID_PATTERN)] | None = None
    room: Annotated[str, Field(min_length=1, max_length=256)] | None = None
    caller: CallerScript = Field(default_factory=CallerScript)
    started_at: datetime | None = None
    end_reason: EndReason = EndReason.CALLER_HANGUP
    transcript: TranscriptMode | None = None
    seconds_per_turn: float = Field(default=6.0, ge=0)
    turns: list[ScriptTurn]

    @classmethod
    def load(cls, path: Path) -> ConversationScript:
        return cls.model_validate(json.loads(path.read_text(encoding="utf-8")))

    def start_time(self) -> datetime:
        started = self.started_at or datetime.now(UTC)
        return started if started.tzinfo else started.replace(tzinfo=UTC)

    def user_texts(self) -> list[str]:
        return [turn.text or "" for turn in self.turns if turn.role == "user"]

    def replies(self) -> list[list[ScriptTurn]]:
        """Assistant items grouped per user turn (index i answers the i-th user turn)."""
        groups: list[list[ScriptTurn]] = []
        for turn in self.turns:
            if turn.role == "user":
                groups.append([])
            elif groups:
                groups[-1].append(turn)
        return groups

    def failure_plan(self) -> dict[str, list[str | None]]:
        """Per tool name, the failure mode of each of its calls in script order (None: succeed)."""
        plan: dict[str, list[str | None]] = {}
        for turn in self.turns:
            if turn.role == "assistant" and turn.tool:
                plan.setdefault(turn.tool, []).append(turn.fail)
        return plan


@dataclass
class _Cursor:
    user_turn: int
    answered: int
    last_output: llm.FunctionCallOutput | None


def _cursor(chat_ctx: llm.ChatContext) -> _Cursor:
    user_turn = -1
    answered = 0
    last_output: llm.FunctionCallOutput | None = None
    for item in chat_ctx.items:
        if isinstance(item, llm.ChatMessage) and item.role == "user":
            user_turn += 1
            answered = 0
            last_output = None
        elif isinstance(item, llm.ChatMessage) and item.role == "assistant":
            answered += 1
            last_output = None
        elif isinstance(item, llm.FunctionCall):
            answered += 1
        elif isinstance(item, llm.FunctionCallOutput):
            last_output = item
    return _Cursor(user_turn=user_turn, answered=answered, last_output=last_output)


def _estimate_tokens(text: str) -> int:
    # About four characters per token, the usual rule of thumb, so usage figures have a realistic size.
    return max(1, len(text) // 4)


class ScriptedLLM(llm.LLM[Any]):
    """Replays `script`'s assistant turns; reports token usage estimated from the text, like a real provider."""

    def __init__(self, script: ConversationScript, *, model_name: str = "scripted") -> None:
        super().__init__()
        self.script = script
        self.model_name = model_name
        self.calls = 0

    @property
    def model(self) -> str:
        return self.model_name

    @property
    def provider(self) -> str:
        return "scripted"

    def chat(
        self,
        *,
        chat_ctx: llm.ChatContext,
        tools: list[llm.Tool] | None = None,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
        parallel_tool_calls: NotGivenOr[bool] = NOT_GIVEN,
        tool_choice: NotGivenOr[llm.ToolChoice] = NOT_GIVEN,
        extra_kwargs: NotGivenOr[dict[str, Any]] = NOT_GIVEN,
    ) -> ScriptedLLMStream:
        self.calls += 1
        return ScriptedLLMStream(self, chat_ctx=chat_ctx, tools=tools or [], conn_options=conn_options)

    def next_response(self, chat_ctx: llm.ChatContext) -> tuple[str, list[ScriptTurn]]:
        """The text and tool calls the script says come next in this chat context."""
        cursor = _cursor(chat_ctx)
        replies = self.script.replies()
        plan: Sequence[ScriptTurn] = replies[cursor.user_turn] if 0 <= cursor.user_turn < len(replies) else []
        remaining = list(plan[cursor.answered :])
        if not remaining:
            if cursor.last_output is not None:
                return (cursor.last_output.output if cursor.last_output.is_error else AFTER_TOOL_REPLY), []
            return DEFAULT_REPLY, []
        first = remaining[0]
        if first.tool:
            return "", [first]
        text = first.text or ""
        if len(remaining) > 1 and remaining[1].tool:
            return text, [remaining[1]]
        return text, []


class ScriptedLLMStream(llm.LLMStream):
    def __init__(
        self,
        scripted: ScriptedLLM,
        *,
        chat_ctx: llm.ChatContext,
        tools: list[llm.Tool],
        conn_options: APIConnectOptions,
    ) -> None:
        super().__init__(scripted, chat_ctx=chat_ctx, tools=tools, conn_options=conn_options)
        self._scripted = scripted

    async def _run(self) -> None:
        text, tool_turns = self._scripted.next_response(self._chat_ctx)
        request_id = f"scripted-{self._scripted.calls}"
        tool_calls = [
            FunctionToolCall(
                name=turn.tool or "",
                arguments=json.dumps(turn.args),
                call_id=f"call_{self._scripted.calls}_{index}",
            )
            for index, turn in enumerate(tool_turns)
        ]
        if text:
            self._event_ch.send_nowait(ChatChunk(id=request_id, delta=ChoiceDelta(role="assistant", content=text)))
        if tool_calls:
            self._event_ch.send_nowait(
                ChatChunk(id=request_id, delta=ChoiceDelta(role="assistant", tool_calls=tool_calls))
            )
        prompt_tokens = sum(_estimate_tokens(item_text(item)) for item in self._chat_ctx.items)
        completion_tokens = _estimate_tokens(text + "".join(call.arguments for call in tool_calls))
        self._event_ch.send_nowait(
            ChatChunk(
                id=request_id,
                usage=CompletionUsage(
                    completion_tokens=completion_tokens,
                    prompt_tokens=prompt_tokens,
                    total_tokens=prompt_tokens + completion_tokens,
                ),
            )
        )


def item_text(item: llm.ChatItem) -> str:
    """The text a model would read for a chat item, for token estimates."""
    if isinstance(item, llm.ChatMessage):
        return item.text_content or ""
    if isinstance(item, llm.FunctionCall):
        return item.name + item.arguments
    if isinstance(item, llm.FunctionCallOutput):
        return item.output
    return ""
