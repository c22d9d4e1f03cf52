"""score_lead's decision for a collision copy: the agent stores a record as `<session_id>.dup-<hash>.json.gz` when
`<session_id>.json.gz` exists and it may not read it to compare (agent/exporter.py `store`); score_lead reads both.
The same bytes are a duplicate export (nothing to score), other bytes are another call, scored under a session id
derived from its bytes, and a copy without its primary object is scored as the session.

S3 is moto's in-process S3 with the real boto3 client; the copies are written by the agent's own exporter through
an S3Sink that may not read (as the agent's role), so their names are the ones production writes. GetObject calls
are counted with a botocore event hook on the client.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import re
from typing import Any

import boto3
import pytest

from agent.exporter import S3Sink, encode_record, store
from functions.common.events import S3Location
from functions.common.record import SESSION_ID_PATTERN, SessionRecord, parse_record
from functions.common.settings import ScoreLeadSettings
from functions.score_lead.logic import LoadedSession, load_session, resolve_copy
from tests.samples import example_record_data

BUCKET = "voice-analytics-copies-unit"
LOGIC_LOGGER = "functions.score_lead.logic"  # Powertools prefixes the service name


class _GetObjectCounter:
    def __init__(self) -> None:
        self.keys: list[str] = []

    def __call__(self, params: dict[str, Any], **_: Any) -> None:
        self.keys.append(params["Key"])


@pytest.fixture
def s3(in_process_aws: None) -> Any:
    client = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET)
    return client


def record_body(**changes: Any) -> tuple[SessionRecord, bytes]:
    data = example_record_data()
    data.update(changes)
    record = parse_record(data)
    return record, encode_record(record)


def export(s3: Any, body: bytes, record: SessionRecord) -> str:
    """Store as the agent does (it may not read): the key the record was stored under."""
    sink = S3Sink(BUCKET, s3, read_existing=False)
    return store(sink, record.object_key(), body, schema_version=record.schema_version).key


def loaded(s3: Any, key: str, settings: ScoreLeadSettings | None = None) -> LoadedSession:
    return load_session(s3, S3Location(bucket=BUCKET, key=key), settings or ScoreLeadSettings())


def counting_gets(s3: Any) -> _GetObjectCounter:
    counter = _GetObjectCounter()
    s3.meta.events.register("before-parameter-build.s3.GetObject", counter)
    return counter


def logged(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [entry for entry in caplog.records if entry.name.endswith(LOGIC_LOGGER)]


def test_the_primary_object_is_scored_as_itself_without_reading_another(s3: Any) -> None:
    record, body = record_body()
    key = export(s3, body, record)
    session = loaded(s3, key)
    gets = counting_gets(s3)

    decision = resolve_copy(s3, session, ScoreLeadSettings())

    assert key == record.object_key()
    assert (decision.kind, decision.record) == ("primary", session.record)
    assert gets.keys == []


def test_a_second_export_of_the_same_record_is_a_duplicate_with_nothing_to_score(
    s3: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    record, body = record_body()
    primary = export(s3, body, record)
    copy = export(s3, body, record)  # the agent could not compare: the same bytes go beside the first
    session = loaded(s3, copy)
    gets = counting_gets(s3)

    decision = resolve_copy(s3, session, ScoreLeadSettings())

    assert copy != primary and copy.startswith(primary.removesuffix(".json.gz") + ".dup-")
    assert (decision.kind, decision.record) == ("duplicate", None)
    assert gets.keys == [primary]  # the copy's own folder, the session id's name
    [entry] = logged(caplog)
    assert entry.getMessage() == "Duplicate export of a stored session acknowledged; nothing to do"
    assert entry.levelno == logging.INFO
    assert (entry.session_id, entry.object, entry.primary) == (
        record.session_id,
        f"s3://{BUCKET}/{copy}",
        f"s3://{BUCKET}/{primary}",
    )


def test_another_call_under_the_same_session_id_is_scored_under_an_id_derived_from_its_bytes(
    s3: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    first, first_body = record_body()
    second, second_body = record_body(duration_s=first.duration_s + 60)
    export(s3, first_body, first)
    copy = export(s3, second_body, second)

    decision = resolve_copy(s3, loaded(s3, copy), ScoreLeadSettings())

    derived = f"{second.session_id}-{hashlib.sha256(second_body).hexdigest()[:8]}"
    assert decision.kind == "collision" and decision.record is not None
    assert decision.record.session_id == derived
    assert decision.record.model_dump(exclude={"session_id"}) == second.model_dump(exclude={"session_id"})
    [entry] = logged(caplog)
    assert entry.levelno == logging.WARNING
    assert entry.getMessage() == (
        "Session id collision: a different record under the same session id; scored as a session of its own"
    )
    assert (entry.session_id, entry.object, entry.scored_as) == (second.session_id, f"s3://{BUCKET}/{copy}", derived)


def test_a_copy_whose_primary_object_is_gone_is_scored_as_the_session(
    s3: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    record, body = record_body()
    primary = export(s3, body, record)
    copy = export(s3, body, record)
    s3.delete_object(Bucket=BUCKET, Key=primary)
    session = loaded(s3, copy)

    decision = resolve_copy(s3, session, ScoreLeadSettings())

    assert (decision.kind, decision.record) == ("orphan", session.record)
    [entry] = logged(caplog)
    assert entry.levelno == logging.WARNING
    assert entry.getMessage() == "Session copy without its primary object; scoring it as the session"
    assert (entry.session_id, entry.primary) == (record.session_id, f"s3://{BUCKET}/{primary}")


def test_a_primary_too_big_to_be_a_record_cannot_be_this_one_so_the_copy_is_another_call(s3: Any) -> None:
    record, body = record_body()
    settings = ScoreLeadSettings(max_record_bytes=max(1024, len(body)))
    s3.put_object(Bucket=BUCKET, Key=record.object_key(), Body=b"x" * (settings.max_record_bytes + 1))
    copy = export(s3, body, record)

    decision = resolve_copy(s3, loaded(s3, copy, settings), settings)

    assert decision.kind == "collision" and decision.record is not None
    assert decision.record.session_id == f"{record.session_id}-{hashlib.sha256(body).hexdigest()[:8]}"


def test_a_primary_with_other_bytes_that_still_fits_the_limit_is_read_and_compared(s3: Any) -> None:
    """The size limit applies to the primary as to any object: one of exactly the limit is read, not rejected."""
    record, body = record_body()
    settings = ScoreLeadSettings(max_record_bytes=max(1024, len(body) + 10))
    s3.put_object(Bucket=BUCKET, Key=record.object_key(), Body=body + b"\0" * (settings.max_record_bytes - len(body)))
    copy = export(s3, body, record)
    session = loaded(s3, copy, settings)
    gets = counting_gets(s3)

    decision = resolve_copy(s3, session, settings)

    assert decision.kind == "collision" and gets.keys == [record.object_key()]


def test_the_id_derived_from_the_longest_session_id_is_still_a_valid_session_id(s3: Any) -> None:
    longest = "c" * 128
    first, first_body = record_body(session_id=longest)
    second, second_body = record_body(session_id=longest, duration_s=first.duration_s + 1)
    export(s3, first_body, first)
    copy = export(s3, second_body, second)

    decision = resolve_copy(s3, loaded(s3, copy), ScoreLeadSettings())

    assert decision.record is not None
    derived = decision.record.session_id
    assert derived == "c" * 119 + "-" + hashlib.sha256(second_body).hexdigest()[:8]
    assert len(derived) == 128 and re.match(SESSION_ID_PATTERN, derived)
    # It survives the contract check, as the scored record it becomes must.
    assert parse_record(json.loads(gzip.decompress(encode_record(decision.record)))).session_id == derived
