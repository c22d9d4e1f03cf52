"""agent/analytics_log.py: the session's one `session_analytics` line, what it carries, and what it never carries."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.analytics_log import LOGGER_NAME, install_session_analytics_log, log_session_analytics, session_analytics
from agent.exporter import DirectorySink, Exporter
from functions.common.record import SessionRecord, parse_record
from functions.common.redaction import EMAIL, install_log_masking, mask_text
from tests.samples import example_record, example_record_data

PII_EMAIL = "jordan.privat@example.org"
PII_PHONE = "+1 415 555 0199"
PII_NAME = "Jordan Privatperson"
PII_COMPANY = "Privatperson Holdings"


@pytest.fixture
def analytics_stream() -> Iterator[io.StringIO]:
    """The line's own handler, writing to a buffer; removed again afterwards."""
    stream = io.StringIO()
    handler = install_session_analytics_log(stream)
    try:
        yield stream
    finally:
        logger = logging.getLogger(LOGGER_NAME)
        logger.removeHandler(handler)
        logger.propagate = True


def record_full_of_personal_data() -> SessionRecord:
    """The example call with the caller's name, email, phone and company in every free-text field the record has."""
    data = example_record_data()
    said = f"I'm {PII_NAME} from {PII_COMPANY}, {PII_EMAIL}, call me on {PII_PHONE}"
    data["room"] = "sip-14155550199"
    data["contact"] = {"name": PII_NAME, "email": PII_EMAIL, "company": PII_COMPANY, "preferred_time": PII_PHONE}
    data["signals"]["urgency"] = f"asap, ring {PII_PHONE}"
    for evidence in data["signals"]["evidence"]:
        evidence["text"] = said
    data["tool_calls"][1]["arguments"] = {"customer_name": PII_NAME, "customer_email": PII_EMAIL, "phone": PII_PHONE}
    data["tool_calls"][1]["error"] = f"could not book {PII_EMAIL} at {PII_PHONE}"
    data["tool_calls"][1]["success"] = False
    data["tool_calls"][0]["result_summary"] = {"top_title": said}
    data["transcript_mode"] = "full"
    data["transcript"] = [{"index": 0, "role": "user", "text": said}]
    return parse_record(data, source="a record full of personal data")


def test_the_line_carries_the_calls_signals_tools_and_usage() -> None:
    line = session_analytics(example_record()).model_dump(mode="json", by_alias=True, exclude_none=True)

    assert line == {
        "_event_type": "session_analytics",
        "line_version": 1,
        "session_id": "trial-call-0001",
        "agent_version": "0.1.0",
        "channel": "sip",
        "started_at": "2026-11-20T15:04:05+00:00",
        "duration_s": 95.4,
        "end_reason": "caller_hangup",
        "user_turns": 3,
        "signals": {
            "team_size": 12,
            "monthly_volume": 300,
            "integrations": ["salesforce"],
            "urgency": True,
            "industry": "legal",
        },
        "meeting_booked": True,
        "email_given": True,
        "tool_calls_total": 2,
        "tool_calls_succeeded": 2,
        "tool_calls": [
            {"name": "unleash_search_knowledge", "success": True, "duration_ms": 412.5},
            {"name": "book_sales_meeting", "success": True, "duration_ms": 655.0},
        ],
        "llm_tokens": 5330,
        "stt_audio_s": 41.2,
        "tts_characters": 236,
        "latency_ms": {
            "llm_ttft_p50": 420.0,
            "tts_ttfb_p50": 180.0,
            "end_of_utterance_delay_p50": 650.0,
            "end_of_utterance_delay_p95": 900.0,
        },
        "transcript_mode": "redacted",
    }


def test_a_signal_not_heard_is_left_out_so_insights_counts_only_calls_that_have_it() -> None:
    record = example_record(signals={"team_size": 3}, tool_calls=[], contact=None)

    line = session_analytics(record).model_dump(mode="json", by_alias=True, exclude_none=True)

    assert line["signals"] == {"team_size": 3}
    assert (line["meeting_booked"], line["email_given"], line["tool_calls_total"], line["tool_calls"]) == (
        False,
        False,
        0,
        [],
    )


def test_the_line_of_a_record_full_of_personal_data_carries_none_of_it(analytics_stream: io.StringIO) -> None:
    install_log_masking()  # as the agent's entry does; the line must be clean without it too (checked below)
    record = record_full_of_personal_data()

    log_session_analytics(record)

    [written] = analytics_stream.getvalue().splitlines()
    unmasked = json.dumps(session_analytics(record).model_dump(mode="json", by_alias=True, exclude_none=True))
    for text in (written, unmasked):
        for personal in (PII_EMAIL, PII_PHONE, PII_NAME, PII_COMPANY, "14155550199", "Jordan", "Privat", "ring"):
            assert personal not in text
        assert EMAIL.search(text) is None
        assert mask_text(text) == text  # the log masking's phone and email patterns find nothing to mask
    line = json.loads(written)
    assert not {"contact", "transcript", "caller", "room", "evidence", "arguments", "error"} & set(_keys(line))
    assert line["tool_calls_succeeded"] == 1 and line["signals"]["urgency"] is True


def _keys(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _keys(item)
    elif isinstance(value, list):
        for item in value:
            yield from _keys(item)


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_each_export_writes_one_compact_json_line_and_nothing_else_to_its_stream(
    analytics_stream: io.StringIO, tmp_path: Path
) -> None:
    exporter = Exporter(DirectorySink(tmp_path / "out"), spool_dir=tmp_path / "spool", budget_s=5)
    root = _Collect()  # stands for the root logger's handler (LiveKit's format in the agent)
    logging.getLogger().addHandler(root)
    try:
        asyncio.run(exporter.export(example_record_data()))
    finally:
        logging.getLogger().removeHandler(root)

    [written] = analytics_stream.getvalue().splitlines()
    assert written.startswith('{"_event_type":"session_analytics","line_version":1,"session_id":"trial-call-0001"')
    assert json.dumps(json.loads(written), separators=(",", ":")) == written  # compact: no spaces, one line
    assert json.loads(written)["signals"]["team_size"] == 12
    # Its own handler only: the root logger does not print it a second time.
    assert [record.name for record in root.records if record.name == LOGGER_NAME] == []
