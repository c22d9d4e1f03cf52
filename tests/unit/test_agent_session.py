"""The real AgentSession in text mode, with the scripted LLM and the fake tool backends, exporting to a folder.

No network: the only fakes are at the far side (the LLM provider is the script, the tool services are the
in-process fakes, the bucket is a local folder with the same never-overwrite semantics).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from livekit.agents import AgentSession, APIConnectOptions, APIStatusError, CloseReason, NotGivenOr, llm
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, NOT_GIVEN
from livekit.agents.voice.agent_session import SessionConnectOptions

from agent.assistant import BOOKING_UNAVAILABLE, Assistant
from agent.clients import FakeKnowledgeSearchClient, FakeMeetingBookingClient
from agent.collector import SessionCollector, SimulatedClock
from agent.endings import install_call_timeouts
from agent.exporter import SessionExportOnce, log_task_outcome
from agent.scripted_llm import DEFAULT_REPLY, ConversationScript
from agent.simulate import run_script
from functions.common.record import RecordInvalidError, TranscriptMode, hash_caller, parse_record
from tests.agent_fixtures import (
    SCHEMA_PATH,
    example_script,
    folder_exporter,
    make_settings,
    read_record,
    stored_objects,
)


async def test_example_conversation_lands_signals_tools_usage_and_contact_in_one_record(tmp_path: Path) -> None:
    outcome = await run_script(example_script(), folder_exporter(tmp_path), settings=make_settings())

    objects = stored_objects(tmp_path / "out")
    assert [path.relative_to(tmp_path / "out").as_posix() for path in objects] == [
        "sessions/year=2026/month=11/day=20/trial-call-0001.json.gz"
    ]
    record = read_record(objects[0])
    jsonschema.validate(record, json.loads(SCHEMA_PATH.read_text()))
    parsed = parse_record(record)

    assert parsed.signals.team_size == 12
    assert parsed.signals.monthly_volume == 300
    assert "salesforce" in parsed.signals.integrations
    evidence = {(item.field, item.turn_index) for item in parsed.signals.evidence}
    assert ("team_size", 0) in evidence and ("integrations", 2) in evidence
    assert parsed.transcript[0].role == "user" and "team of 12" in parsed.transcript[0].text

    assert [call.name for call in parsed.tool_calls] == ["unleash_search_knowledge", "book_sales_meeting"]
    search, booking = parsed.tool_calls
    assert search.success and search.arguments == {"query": "salesforce integration", "category": "integrations"}
    assert search.result_summary["results_found"] is True
    assert booking.success and str(booking.result_summary["meeting_id"]).startswith("mtg_")
    assert parsed.contact is not None and parsed.contact.email == "dana.lee@example.com"

    assert parsed.usage.llm[0].model == "scripted" and parsed.usage.llm[0].input_tokens > 0
    assert parsed.usage.llm[0].output_tokens > 0
    # A scripted model's latencies are noise: simulated records leave them out, and so are the same bytes each run.
    assert parsed.latency.llm_ttft_ms is None
    assert {call.duration_ms for call in parsed.tool_calls} == {0.0}
    assert parsed.user_turns == 3
    assert parsed.caller.channel == "sip"
    assert parsed.caller.key_hash == hash_caller("sip_+14155550123", "test-salt")
    assert parsed.end_reason == "caller_hangup"
    assert parsed.started_at.isoformat() == "2026-11-20T15:04:05+00:00"
    assert parsed.duration_s > 0
    assert outcome.export.status == "uploaded"


async def test_failed_tools_are_recorded_and_the_caller_hears_a_graceful_answer(tmp_path: Path) -> None:
    script = example_script()
    turns = [turn.model_dump() for turn in script.turns]
    turns[1]["fail"] = "timeout"  # knowledge search times out; the scripted text after it still plays
    turns[4]["fail"] = "HTTP 503"  # booking fails and the script has no text of its own for that case
    del turns[5]
    script = ConversationScript.model_validate({**script.model_dump(), "turns": turns})

    outcome = await run_script(script, folder_exporter(tmp_path), settings=make_settings())

    record = parse_record(read_record(stored_objects(tmp_path / "out")[0]))
    search, booking = record.tool_calls
    assert not search.success and search.error is not None and "timed out" in search.error
    assert not booking.success and booking.error is not None and "503" in booking.error
    assert search.duration_ms >= 0 and booking.started_at >= search.started_at
    # The model got the caller-safe message and, with no scripted text, said it: no silence, no stack trace.
    assert BOOKING_UNAVAILABLE in outcome.replies
    assert all("Traceback" not in reply and "503" not in reply for reply in outcome.replies)
    # The caller gave their contact even though the booking system failed: sales still gets it.
    assert record.contact is not None and record.contact.name == "Dana Lee"


@pytest.mark.parametrize("mode", list(TranscriptMode))
async def test_transcript_is_kept_as_configured(tmp_path: Path, mode: TranscriptMode) -> None:
    await run_script(example_script(), folder_exporter(tmp_path), settings=make_settings(), transcript_mode=mode)

    record = parse_record(read_record(stored_objects(tmp_path / "out")[0]))
    assert record.transcript_mode is mode
    texts = " ".join(turn.text for turn in record.transcript)
    if mode is TranscriptMode.OFF:
        assert record.transcript == []
    elif mode is TranscriptMode.REDACTED:
        assert "dana.lee@example.com" not in texts and "[email]" in texts
        assert "team of 12" in texts and "300 contracts" in texts
    else:
        assert "dana.lee@example.com" in texts
    # Whatever the transcript mode, the contact given to book_sales_meeting is kept in clear in its own field.
    assert record.contact is not None and record.contact.email == "dana.lee@example.com"


async def test_user_turn_without_scripted_reply_gets_a_short_default_reply(tmp_path: Path) -> None:
    script = ConversationScript.model_validate(
        {"session_id": "quiet-1", "turns": [{"role": "user", "text": "Hello?"}, {"role": "user", "text": "Anyone?"}]}
    )
    outcome = await run_script(script, folder_exporter(tmp_path), settings=make_settings())
    assert outcome.replies == [DEFAULT_REPLY, DEFAULT_REPLY]


async def test_agent_ending_the_call_exports_once_as_agent_ended(tmp_path: Path) -> None:
    script = ConversationScript.model_validate(
        {
            "session_id": "agent-ends-1",
            "started_at": "2026-11-21T09:00:00Z",
            "turns": [
                {"role": "user", "text": "That's all, bye."},
                {"role": "assistant", "text": "Thanks for calling, goodbye!"},
                {"role": "assistant", "tool": "end_call", "args": {}},
                {"role": "user", "text": "this turn never happens"},
            ],
        }
    )
    outcome = await run_script(script, folder_exporter(tmp_path), settings=make_settings())

    objects = stored_objects(tmp_path / "out")
    assert len(objects) == 1
    record = parse_record(read_record(objects[0]))
    assert record.end_reason == "agent_ended"
    assert record.user_turns == 1
    assert outcome.export.status == "uploaded"


class _FailingLLM(llm.LLM[Any]):
    """The provider side failing for good (a non-retryable 500), which makes AgentSession close with ERROR."""

    def chat(
        self,
        *,
        chat_ctx: llm.ChatContext,
        tools: list[llm.Tool] | None = None,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
        parallel_tool_calls: NotGivenOr[bool] = NOT_GIVEN,
        tool_choice: NotGivenOr[llm.ToolChoice] = NOT_GIVEN,
        extra_kwargs: NotGivenOr[dict[str, Any]] = NOT_GIVEN,
    ) -> llm.LLMStream:
        return _FailingStream(self, chat_ctx=chat_ctx, tools=tools or [], conn_options=conn_options)


class _FailingStream(llm.LLMStream):
    async def _run(self) -> None:
        raise APIStatusError("provider down", status_code=500, retryable=False)


async def _session_ending(tmp_path: Path, ending: str) -> tuple[list[Path], dict[str, Any]]:
    """Run one real session to `ending`, then fire the job's shutdown path too, like LiveKit does."""
    identity = "sip_+14155550100" if ending == "sip_hangup" else "web-user-7"
    clock = SimulatedClock(example_script().start_time())
    collector = SessionCollector(
        session_id=f"ending-{ending}",
        agent_name="trial-assistant",
        agent_version="test",
        transcript_mode=TranscriptMode.REDACTED,
        caller_salt="s",
        clock=clock,
    )
    collector.set_caller(identity, "sip" if identity.startswith("sip_") else "web")
    exporter = folder_exporter(tmp_path)
    export_once = SessionExportOnce(exporter, collector.build_record)
    collector.on_end(lambda: log_task_outcome(export_once.trigger()))

    if ending == "error":
        session: AgentSession[Any] = AgentSession(
            llm=_FailingLLM(),
            conn_options=SessionConnectOptions(
                llm_conn_options=APIConnectOptions(max_retry=0), max_unrecoverable_errors=0
            ),
        )
    else:
        from agent.scripted_llm import ScriptedLLM

        session = AgentSession(
            llm=ScriptedLLM(example_script()), user_away_timeout=0.2 if ending == "timeout" else None
        )
    collector.attach(session)
    await session.start(
        Assistant(knowledge=FakeKnowledgeSearchClient(), booking=FakeMeetingBookingClient(), collector=collector)
    )
    if ending == "timeout":
        install_call_timeouts(session, collector, max_call_duration_s=600)

    # The failing provider closes the session during this turn; the run may or may not report it.
    with contextlib.suppress(RuntimeError):
        await session.run(user_input="Hi, we are a team of 12.")

    if ending in ("caller_hangup", "sip_hangup"):
        # What RoomIO does when the linked participant leaves the room.
        session._close_soon(reason=CloseReason.PARTICIPANT_DISCONNECTED)
    elif ending == "worker_shutdown":
        await session.aclose()
    for _ in range(100):
        if collector.ended_at is not None:
            break
        await asyncio.sleep(0.05)
    assert collector.ended_at is not None, f"session never closed for {ending}"

    # LiveKit then runs the job's shutdown callbacks: a second ending of the same session.
    collector.note_shutdown("room disconnected")
    first = await export_once.wait()
    second = await export_once.wait()
    assert first is second
    await session.aclose()
    objects = stored_objects(tmp_path / "out")
    return objects, read_record(objects[0]) if objects else {}


@pytest.mark.parametrize("ending", ["caller_hangup", "sip_hangup", "error", "timeout", "worker_shutdown"])
async def test_every_ending_exports_exactly_once_with_its_reason(tmp_path: Path, ending: str) -> None:
    objects, record = await _session_ending(tmp_path, ending)
    assert len(objects) == 1
    assert record["end_reason"] == ending
    assert record["session_id"] == f"ending-{ending}"
    assert stored_objects(tmp_path / "spool") == []


async def test_invalid_record_is_reported_quarantined_and_not_uploaded(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    script = example_script(session_id="clock-skew-1")
    outcome = await run_script(script, folder_exporter(tmp_path / "first"), settings=make_settings())
    raw = outcome.collector.build_record()
    # A clock that stepped backwards during the call: ended_at before started_at.
    raw["ended_at"] = "2026-11-20T15:00:00+00:00"
    raw["duration_s"] = 0
    exporter = folder_exporter(tmp_path)

    with pytest.raises(RecordInvalidError, match="ended_at is before started_at"):
        await exporter.export(raw)

    assert stored_objects(tmp_path / "out") == []
    quarantined = list((tmp_path / "spool" / "invalid").glob("clock-skew-1-*.json"))
    assert len(quarantined) == 1
    assert json.loads(quarantined[0].read_text())["session_id"] == "clock-skew-1"
    assert any("NOT uploaded" in message and "quarantined" in message for message in caplog.messages)
