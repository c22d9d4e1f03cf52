"""The agent's log lines carry no email address or phone number: a real AgentSession in text mode (scripted LLM,
in-process tool fakes) whose caller gives both, then the real exporter on its three paths (S3 unreachable, so the
record is spooled; a folder; a record the contract rejects), with every logger of the process captured at DEBUG.

The masking is process-wide (the agent's entry, agent/main.py, and a simulated call install it, see
functions/common/redaction.py), so LiveKit's own records are covered as well as ours.
"""

from __future__ import annotations

import io
import json
import logging
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from agent.exporter import Exporter, S3Sink, make_s3_client, spooled_keys
from agent.scripted_llm import ConversationScript
from agent.simulate import run_script
from functions.common.record import RecordInvalidError, TranscriptMode
from local.ports import free_port
from tests.agent_fixtures import folder_exporter, make_settings, stored_objects
from tests.log_format import EverythingFormatter

ROOT = Path(__file__).resolve().parents[2]
EMAIL = "dana.private@example.com"
PHONE = "+1 415 555 0123"
PHONE_ANY_FORM = re.compile(r"415\D{0,3}555\D{0,3}0123")
# A SIP room name holding the caller's number (agent/collector.py safe_session_id replaces it by a hash).
SESSION_ID = "call-_-14155550123_x7Yz"


@contextmanager
def captured_logs() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(EverythingFormatter("%(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    levels = {name: logging.getLogger(name).level for name in ("", "agent", "livekit")}
    root.addHandler(handler)
    for name in levels:
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def closed_port_endpoint() -> str:
    return f"http://127.0.0.1:{free_port()}"  # nothing listens there: connections are refused


def script_with_personal_data() -> ConversationScript:
    return ConversationScript.model_validate(
        {
            "session_id": SESSION_ID,
            "caller": {"identity": "sip_+14155550123"},
            "started_at": "2026-11-20T15:04:05Z",
            "transcript": "full",
            "turns": [
                {"role": "user", "text": f"Hi, I'm Dana, {EMAIL}, call me on {PHONE}. We're a team of 12."},
                {
                    "role": "assistant",
                    "tool": "book_sales_meeting",
                    "args": {
                        "customer_name": "Dana Private",
                        "customer_email": EMAIL,
                        "company": "Acme Legal",
                        "preferred_time": "tomorrow 2pm",
                    },
                    # The booking service fails with a message that quotes the caller (logged with a traceback).
                    "fail": f"calendar rejected {EMAIL} / {PHONE}",
                },
                {"role": "assistant", "text": "Sorry, the booking did not go through; we will email you."},
                {"role": "user", "text": f"Fine, it's {EMAIL} again. Bye."},
            ],
        }
    )


def assert_no_personal_data(output: str) -> None:
    assert output.strip(), "nothing was logged"
    assert EMAIL not in output, [line for line in output.splitlines() if EMAIL in line]
    assert "dana.private" not in output
    assert not PHONE_ANY_FORM.search(output), [line for line in output.splitlines() if PHONE_ANY_FORM.search(line)]


async def test_agent_session_and_exporter_log_neither_email_nor_phone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)
    client = make_s3_client(endpoint_url=closed_port_endpoint(), connect_timeout_s=0.5, max_attempts=1)
    unreachable = Exporter(S3Sink("agent-bucket", client), spool_dir=tmp_path / "spool", budget_s=3)

    with captured_logs() as logs:
        outcome = await run_script(script_with_personal_data(), unreachable, settings=make_settings())
        raw = outcome.collector.build_record()
        folder = await folder_exporter(tmp_path / "folder").export(raw)
        invalid = {**raw, "ended_at": "2026-11-20T15:00:00+00:00", "duration_s": 0}
        with pytest.raises(RecordInvalidError):
            await folder_exporter(tmp_path / "invalid").export(invalid)

    output = logs.getvalue()
    assert_no_personal_data(output)
    # The paths were taken and logged (with the session named, its number masked)...
    assert outcome.export.status == "spooled" and spooled_keys(tmp_path / "spool")
    assert folder.status == "uploaded" and stored_objects(tmp_path / "folder" / "out")
    assert "spooled to" in output and "record uploaded" in output and "NOT uploaded" in output
    assert "tool book_sales_meeting failed" in output and "Traceback" in output
    # the session id is still in the logs, made from the room name without the caller's number
    assert "call-_-_x7Yz-" in output
    # ...and the personal data was really there: the full transcript and the contact keep it.
    assert raw["transcript_mode"] == TranscriptMode.FULL.value
    assert EMAIL in json.dumps(raw) and PHONE in json.dumps(raw["transcript"])


def test_the_agent_entry_masks_every_logger_of_its_process() -> None:
    """agent/main.py, the module LiveKit loads in the agent server and in each job process, installs the masking:
    a line of LiveKit's logger carrying an email address and a phone number comes out masked."""
    code = (
        "import logging, sys\n"
        "import agent.main\n"
        "logging.basicConfig(stream=sys.stdout, format='%(name)s %(message)s')\n"
        f"logging.getLogger('livekit.agents').warning('caller %s on %s', {EMAIL!r}, {PHONE!r})\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert "livekit.agents caller [email] on [phone]" in result.stdout, result.stdout + result.stderr
