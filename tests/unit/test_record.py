"""The session-record contract: models, generated schema, and errors that name the field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from functions.common.record import SCHEMA_VERSION, RecordInvalidError, SessionRecord, hash_caller, parse_record
from functions.common.schema import render

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_FILE = ROOT / "schemas" / "session-record.v1.json"


def minimal_record(**overrides: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "session_id": "trial-call-0001",
        "agent": {"name": "unleash-voice", "version": "0.1.0"},
        "caller": {"key_hash": hash_caller("sip_+14155550123", "salt"), "channel": "sip"},
        "started_at": "2026-11-20T15:04:05Z",
        "ended_at": "2026-11-20T15:09:05Z",
        "duration_s": 300.0,
        "end_reason": "caller_hangup",
    }
    record.update(overrides)
    return record


def test_committed_schema_matches_the_models() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == render(), "schema drifted: run `make schema` and commit"


def test_schema_version_is_the_first_property() -> None:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert next(iter(schema["properties"])) == "schema_version"
    assert next(iter(SessionRecord.model_fields)) == "schema_version"


def test_a_valid_record_parses_and_keys_by_start_date() -> None:
    record = parse_record(minimal_record())
    assert record.object_key() == "sessions/year=2026/month=11/day=20/trial-call-0001.json.gz"


def test_an_invalid_field_is_named_in_the_error() -> None:
    with pytest.raises(RecordInvalidError) as error:
        parse_record(minimal_record(signals={"team_size": "many"}), source="s3://bucket/key")
    assert "signals.team_size" in str(error.value)
    assert "s3://bucket/key" in str(error.value)


def test_an_unknown_field_is_rejected_by_name() -> None:
    with pytest.raises(RecordInvalidError, match="teamsize"):
        parse_record(minimal_record(teamsize=5))


def test_a_missing_field_is_named() -> None:
    data = minimal_record()
    del data["ended_at"]
    with pytest.raises(RecordInvalidError, match="'ended_at'"):
        parse_record(data)


@pytest.mark.parametrize("version", [None, "2", 1])
def test_a_wrong_schema_version_is_rejected(version: Any) -> None:
    with pytest.raises(RecordInvalidError, match="schema_version"):
        parse_record(minimal_record(schema_version=version))


def test_a_session_id_that_could_escape_the_key_is_rejected() -> None:
    with pytest.raises(RecordInvalidError, match="session_id"):
        parse_record(minimal_record(session_id="../../etc/passwd"))


def test_end_before_start_is_rejected() -> None:
    with pytest.raises(RecordInvalidError, match="ended_at is before started_at"):
        parse_record(minimal_record(ended_at="2026-11-20T15:00:00Z"))


def test_a_failed_tool_call_must_say_why() -> None:
    call = {"name": "book_sales_meeting", "started_at": "2026-11-20T15:05:00Z", "duration_ms": 12.0, "success": False}
    with pytest.raises(RecordInvalidError, match="error message"):
        parse_record(minimal_record(tool_calls=[call]))


def test_a_non_object_is_rejected_with_its_type() -> None:
    with pytest.raises(RecordInvalidError, match="got list"):
        parse_record([1, 2])


def test_every_error_names_its_source_and_the_input_when_none_is_given() -> None:
    with pytest.raises(RecordInvalidError) as not_an_object:
        parse_record([1, 2])
    with pytest.raises(RecordInvalidError) as wrong_version:
        parse_record(minimal_record(schema_version="2"), source="s3://bucket/key")

    assert str(not_an_object.value) == "session record <input> is invalid: expected a JSON object, got list"
    assert wrong_version.value.source == "s3://bucket/key"
    assert str(wrong_version.value) == (
        "session record s3://bucket/key is invalid: field 'schema_version': expected '1', got '2'"
    )


def test_a_transcript_with_transcription_off_is_rejected_and_an_end_at_the_start_is_fine() -> None:
    turn = {"index": 0, "role": "user", "text": "hello"}
    with pytest.raises(RecordInvalidError, match="transcript must be empty when transcript_mode is 'off'"):
        parse_record(minimal_record(transcript_mode="off", transcript=[turn]))

    assert parse_record(minimal_record(ended_at="2026-11-20T15:04:05Z", transcript_mode="off")).duration_s == 300.0
