"""The collector's pure parts and its handling of LiveKit's own event and usage types (no session, no I/O)."""

from __future__ import annotations

import re

from livekit.agents import (
    CloseEvent,
    CloseReason,
    ConversationItemAddedEvent,
    SessionUsageUpdatedEvent,
    llm,
    metrics,
)

from agent.collector import SessionCollector, percentiles, safe_session_id
from functions.common.record import SESSION_ID_PATTERN, EndReason, TranscriptMode, parse_record
from functions.common.redaction import redact_transcript as redact


def _collector(mode: TranscriptMode = TranscriptMode.REDACTED) -> SessionCollector:
    return SessionCollector(
        session_id="unit-1", agent_name="a", agent_version="1", transcript_mode=mode, caller_salt="s"
    )


def test_redaction_masks_emails_phones_and_long_digit_runs_but_keeps_small_numbers() -> None:
    text = "I'm dana.lee@example.com, call +1 (415) 555-0123 or 415.555.0199, code 12345678; team of 12, 300 a month"
    assert redact(text) == "I'm [email], call [phone] or [phone], code [phone]; team of 12, 300 a month"
    assert redact("order 123456 ready") == "order [number] ready"


def test_odd_room_names_become_valid_distinct_session_ids() -> None:
    import re

    assert safe_session_id("trial-call-0001") == "trial-call-0001"
    first, second = safe_session_id("my room/1"), safe_session_id("my room/2")
    assert first != second
    assert all(re.match(SESSION_ID_PATTERN, value) for value in (first, second, safe_session_id("!!!")))


def test_a_phone_number_or_email_in_the_room_name_never_reaches_the_session_id() -> None:
    sip_room = "call-_+14155550123_x7Yz"
    session_id = safe_session_id(sip_room, "salt")
    assert "4155550123" not in session_id and "555" not in session_id
    assert session_id.startswith("call-") and re.match(SESSION_ID_PATTERN, session_id)
    assert safe_session_id(sip_room, "salt") == session_id  # a retried export lands on the same key
    assert safe_session_id(sip_room, "other-salt") != session_id
    assert "example.com" not in safe_session_id("web-dana@example.com-1", "salt")


def test_percentiles_interpolate_and_are_absent_without_samples() -> None:
    assert percentiles([]) is None
    assert percentiles([10.0]) == {"count": 1, "p50": 10.0, "p95": 10.0}
    assert percentiles([float(value) for value in range(1, 101)]) == {"count": 100, "p50": 50.5, "p95": 95.05}


def test_signals_are_detected_on_the_committed_user_turn_not_on_stt_segments() -> None:
    collector = _collector()
    # An STT provider finalises "a team of twenty five" in segments ("we're about twenty" / "five people"); LiveKit
    # joins them into one user message, which is what the collector reads (tests/unit/test_agent_audio.py drives
    # the segments through a real session).
    greeting = llm.ChatMessage(role="assistant", content=["Hi, how can I help?"])
    message = llm.ChatMessage(role="user", content=["we are a team of twenty five people"])
    for item in (greeting, message):
        collector.on_conversation_item_added(ConversationItemAddedEvent(item=item))

    record = parse_record(collector.build_record())
    assert record.signals.team_size == 25
    assert [(item.field, item.turn_index) for item in record.signals.evidence] == [("team_size", 1)]
    assert record.user_turns == 1


def test_usage_and_latency_come_from_livekit_usage_and_turn_metrics() -> None:
    collector = _collector()
    usage = metrics.AgentSessionUsage(
        model_usage=[
            metrics.LLMModelUsage(provider="openai", model="gpt-4.1-mini", input_tokens=900, output_tokens=120),
            metrics.STTModelUsage(provider="deepgram", model="nova-3", audio_duration=42.5),
            metrics.TTSModelUsage(provider="cartesia", model="sonic-3", characters_count=640, audio_duration=38.0),
            metrics.EOTModelUsage(provider="livekit", model="turn-detector-v1", total_requests=31),
            metrics.InterruptionModelUsage(provider="livekit", model="adaptive", total_requests=4),
        ]
    )
    collector.on_session_usage_updated(SessionUsageUpdatedEvent(usage=usage))
    user = llm.ChatMessage(
        role="user", content=["hello"], metrics={"end_of_turn_delay": 0.4, "transcription_delay": 0.25}
    )
    reply = llm.ChatMessage(
        role="assistant",
        content=["hi"],
        metrics={"llm_node_ttft": 0.35, "tts_node_ttfb": 0.12, "e2e_latency": 1.1},
    )
    for item in (user, reply):
        collector.on_conversation_item_added(ConversationItemAddedEvent(item=item))

    record = parse_record(collector.build_record())
    assert record.usage.eot[0].model == "turn-detector-v1" and record.usage.eot[0].requests == 31
    assert record.usage.interruption[0].requests == 4
    assert record.latency.e2e_latency_ms is not None and record.latency.e2e_latency_ms.p50 == 1100.0
    assert record.latency.transcription_delay_ms is not None and record.latency.transcription_delay_ms.p50 == 250.0
    assert record.usage.llm[0].input_tokens == 900 and record.usage.llm[0].model == "gpt-4.1-mini"
    assert record.usage.stt[0].audio_seconds == 42.5
    assert record.usage.tts[0].characters == 640
    assert record.latency.llm_ttft_ms is not None and record.latency.llm_ttft_ms.p50 == 350.0
    assert record.latency.tts_ttfb_ms is not None and record.latency.tts_ttfb_ms.p95 == 120.0
    assert record.latency.end_of_utterance_delay_ms is not None
    assert record.latency.end_of_utterance_delay_ms.p50 == 400.0


def test_close_reasons_map_to_end_reasons_and_an_explicit_reason_wins() -> None:
    cases = {
        CloseReason.PARTICIPANT_DISCONNECTED: EndReason.SIP_HANGUP,
        CloseReason.ERROR: EndReason.ERROR,
        CloseReason.JOB_SHUTDOWN: EndReason.WORKER_SHUTDOWN,
        CloseReason.USER_INITIATED: EndReason.WORKER_SHUTDOWN,
        CloseReason.TASK_COMPLETED: EndReason.AGENT_ENDED,
    }
    for close_reason, expected in cases.items():
        collector = _collector()
        collector.set_caller("sip_+1555", "sip")
        collector.on_close(CloseEvent(reason=close_reason))
        assert collector.end_reason() is expected, close_reason

    collector = _collector()
    collector.mark_end_reason(EndReason.TIMEOUT)
    collector.on_close(CloseEvent(reason=CloseReason.USER_INITIATED))
    assert collector.end_reason() is EndReason.TIMEOUT


def test_a_session_that_never_closed_takes_its_end_reason_from_the_shutdown() -> None:
    collector = _collector()
    collector.set_caller("web-user", "web")
    collector.note_shutdown("room disconnected")
    assert collector.end_reason() is EndReason.CALLER_HANGUP
    assert parse_record(collector.build_record()).end_reason is EndReason.CALLER_HANGUP


def test_the_room_label_is_recorded_beside_the_session_id() -> None:
    collector = SessionCollector(
        session_id="console-AJ_1",
        room="console",
        agent_name="a",
        agent_version="1",
        transcript_mode=TranscriptMode.OFF,
        caller_salt="s",
    )
    record = parse_record(collector.build_record())
    assert (record.session_id, record.room) == ("console-AJ_1", "console")
    assert "room" not in _collector().build_record()


def test_a_session_id_outside_the_record_alphabet_is_refused_at_once() -> None:
    import pytest

    with pytest.raises(ValueError, match="does not match"):
        SessionCollector(
            session_id="../x", agent_name="a", agent_version="1", transcript_mode=TranscriptMode.OFF, caller_salt="s"
        )
