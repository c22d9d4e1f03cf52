"""agent/exporter.py: the conditional put that never overwrites, the spool that never loses, and the flush.

S3 is moto's in-process S3 (no socket; it answers `If-None-Match: *` with 412 as S3 does) or botocore's Stubber
for the answers moto does not give; a local folder for DirectorySink and the spool.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import logging
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.stub import Stubber

from agent.exporter import (
    INVALID_DIR,
    DirectorySink,
    Exporter,
    PutOutcome,
    S3Sink,
    SinkError,
    encode_record,
    flush_spool,
    s3_sink_from_settings,
    spool,
    spooled_keys,
    store,
)
from agent.settings import AgentSettings
from functions.common.record import RecordInvalidError, parse_record
from local.ports import free_port
from tests.samples import example_record_data

BUCKET = "agent-exports-unit"
KEY = "sessions/year=2026/month=11/day=20/trial-call-0001.json.gz"
BUCKET_ENCRYPTION: Any = {
    "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}, "BucketKeyEnabled": True}]
}


@pytest.fixture
def s3(in_process_aws: None) -> Any:
    client = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET)
    # The template's bucket encryption: SSE-KMS by default, which every record takes.
    client.put_bucket_encryption(Bucket=BUCKET, ServerSideEncryptionConfiguration=BUCKET_ENCRYPTION)
    return client


def body() -> bytes:
    return encode_record(parse_record(example_record_data()))


# ----------------------------------------------------------------------------------------------------- S3Sink


def test_the_first_put_creates_the_object_with_its_type_encoding_version_and_the_buckets_encryption(s3: Any) -> None:
    assert S3Sink(BUCKET, s3).put(KEY, body(), schema_version="1") is PutOutcome.CREATED

    head = s3.head_object(Bucket=BUCKET, Key=KEY)
    assert (head["ContentType"], head["ContentEncoding"]) == ("application/x-ndjson", "gzip")
    assert head["Metadata"] == {"schema-version": "1"}
    assert head["ServerSideEncryption"] == "aws:kms"  # the bucket's default, not a choice of the put
    assert s3.get_object(Bucket=BUCKET, Key=KEY)["Body"].read() == body()


def test_a_second_put_of_the_key_changes_nothing_and_says_it_was_there(s3: Any) -> None:
    sink = S3Sink(BUCKET, s3)
    sink.put(KEY, b"first", schema_version="1")

    assert sink.put(KEY, b"second", schema_version="1") is PutOutcome.ALREADY_EXISTS
    assert s3.get_object(Bucket=BUCKET, Key=KEY)["Body"].read() == b"first"
    versions = s3.list_object_versions(Bucket=BUCKET, Prefix=KEY).get("Versions", [])
    assert len(versions) == 1


def test_the_sink_made_from_settings_has_their_bucket_timeouts_and_retries(s3: Any) -> None:
    settings = AgentSettings(analytics_bucket=BUCKET, s3_connect_timeout_s=7, s3_read_timeout_s=9, s3_max_attempts=5)

    sink = s3_sink_from_settings(settings)
    sink.put(KEY, b"from settings", schema_version="1")

    assert s3.get_object(Bucket=BUCKET, Key=KEY)["Body"].read() == b"from settings"
    config = sink._client.meta.config
    assert (config.connect_timeout, config.read_timeout) == (7, 9)
    assert config.retries == {"mode": "standard", "total_max_attempts": 6}  # botocore's count of max_attempts=5
    assert s3_sink_from_settings(settings, bucket="other").bucket == "other"


def test_a_412_under_another_error_code_also_means_the_object_is_there() -> None:
    client = boto3.client("s3", region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t")
    with Stubber(client) as stubber:
        stubber.add_client_error("put_object", "ConditionalRequestConflict", "conflict", 412)
        stubber.add_client_error("put_object", "PreconditionFailed", "precondition", 400)

        assert S3Sink(BUCKET, client).put(KEY, b"x", schema_version="1") is PutOutcome.ALREADY_EXISTS
        assert S3Sink(BUCKET, client).put(KEY, b"x", schema_version="1") is PutOutcome.ALREADY_EXISTS


def test_a_refused_put_is_a_sink_error_naming_the_destination_and_the_cause(s3: Any) -> None:
    with pytest.raises(SinkError) as refused:
        S3Sink("no-such-bucket-here", s3).put(KEY, b"x", schema_version="1")
    with pytest.raises(SinkError) as invalid:
        S3Sink(BUCKET, s3).put("", b"x", schema_version="1")  # refused by botocore before any request

    assert str(refused.value).startswith(f"put to s3://no-such-bucket-here/{KEY} failed: NoSuchBucket ")
    assert str(invalid.value).startswith(f"put to s3://{BUCKET}/ failed: Parameter validation failed")


def test_a_sink_that_may_read_gives_the_stored_bytes_and_none_for_a_missing_key_with_a_warning(
    s3: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="agent.exporter")
    sink = S3Sink(BUCKET, s3, read_existing=True)
    sink.put(KEY, b"stored", schema_version="1")

    assert sink.read(KEY) == b"stored"
    assert sink.read("sessions/missing.json.gz") is None
    assert [entry.getMessage() for entry in caplog.records] == [
        f"cannot read s3://{BUCKET}/sessions/missing.json.gz to compare it (NoSuchKey)"
    ]


def test_the_agents_sink_never_reads() -> None:
    """The agent's role has no s3:GetObject: its sink answers "cannot compare" without a request (the Stubber has
    no answer queued, so any request would fail)."""
    client = boto3.client("s3", region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t")
    with Stubber(client):
        assert S3Sink(BUCKET, client).read(KEY) is None


@pytest.mark.parametrize(
    ("code", "status", "shown"),
    [
        ("AccessDenied", 403, "AccessDenied"),  # a role without s3:GetObject
        ("NoSuchKey", 400, "NoSuchKey"),  # the code decides, whatever status a compatible store sends with it
        ("AccessDenied", 400, "AccessDenied"),
        ("Forbidden", 403, "Forbidden"),  # the status decides, whatever the code
        ("", 404, "404"),  # no code at all (a HEAD-style answer): the status is what the warning shows
    ],
)
def test_a_read_refused_or_not_found_means_cannot_compare_with_a_warning_naming_why(
    code: str, status: int, shown: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="agent.exporter")
    client = boto3.client("s3", region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t")
    with Stubber(client) as stubber:
        stubber.add_client_error("get_object", code, "refused", status)

        assert S3Sink(BUCKET, client, read_existing=True).read(KEY) is None

    assert [entry.getMessage() for entry in caplog.records] == [
        f"cannot read s3://{BUCKET}/{KEY} to compare it ({shown})"
    ]


def test_a_read_that_fails_otherwise_is_a_sink_error_naming_the_object_and_the_cause() -> None:
    client = boto3.client("s3", region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t")
    with Stubber(client) as stubber:
        stubber.add_client_error("get_object", "InternalError", "try again", 500)
        with pytest.raises(SinkError) as failed:
            S3Sink(BUCKET, client, read_existing=True).read(KEY)

    assert str(failed.value).startswith(f"read of s3://{BUCKET}/{KEY} failed: InternalError ")


def test_a_read_without_an_answer_is_a_sink_error_naming_the_object() -> None:
    """Nothing listens on the port: botocore's connection error, not a ClientError."""
    client = boto3.client(
        "s3",
        region_name="us-east-1",
        aws_access_key_id="t",
        aws_secret_access_key="t",
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        config=Config(connect_timeout=1, retries={"total_max_attempts": 1}),
    )
    with pytest.raises(SinkError) as failed:
        S3Sink(BUCKET, client, read_existing=True).read(KEY)

    assert str(failed.value).startswith(f"read of s3://{BUCKET}/{KEY} failed: Could not connect to the endpoint URL")


def test_an_empty_bucket_name_is_refused_with_the_setting_to_fix(s3: Any) -> None:
    with pytest.raises(ValueError, match="set ANALYTICS_BUCKET"):
        S3Sink("", s3)


# ------------------------------------------------------------------------------------------------ DirectorySink


def test_a_directory_sink_writes_once_and_never_overwrites(tmp_path: Path) -> None:
    sink = DirectorySink(tmp_path)

    assert sink.put(KEY, b"first", schema_version="1") is PutOutcome.CREATED
    assert sink.put(KEY, b"second", schema_version="1") is PutOutcome.ALREADY_EXISTS

    assert (tmp_path / KEY).read_bytes() == b"first"
    assert sorted(path.name for path in (tmp_path / KEY).parent.iterdir()) == ["trial-call-0001.json.gz"]


def test_a_directory_sink_that_loses_the_race_to_another_writer_says_it_was_there(tmp_path: Path) -> None:
    """The key appears between the existence check and the link: here a dangling link, which exists() does not
    see and link() refuses, as it would a file another writer created meanwhile."""
    target = tmp_path / KEY
    target.parent.mkdir(parents=True)
    target.symlink_to(tmp_path / "elsewhere")

    assert DirectorySink(tmp_path).put(KEY, b"late", schema_version="1") is PutOutcome.ALREADY_EXISTS
    assert [path.name for path in target.parent.iterdir()] == ["trial-call-0001.json.gz"]  # no temporary left


def test_a_directory_sink_that_cannot_write_says_where(tmp_path: Path) -> None:
    (tmp_path / "sessions").write_text("a file where a folder should be")

    with pytest.raises(SinkError) as refused:
        DirectorySink(tmp_path).put(KEY, b"x", schema_version="1")

    assert str(refused.value).startswith(f"write to {tmp_path / KEY} failed: ")
    assert DirectorySink(tmp_path).describe(KEY) == str(tmp_path / KEY)


def test_a_directory_sink_reads_what_is_there_none_for_nothing_and_says_where_a_read_failed(tmp_path: Path) -> None:
    sink = DirectorySink(tmp_path)
    sink.put(KEY, b"stored", schema_version="1")
    (tmp_path / "sessions" / "a-folder.json.gz").mkdir()

    assert sink.read(KEY) == b"stored"
    assert sink.read("sessions/missing.json.gz") is None
    with pytest.raises(SinkError) as failed:
        sink.read("sessions/a-folder.json.gz")

    assert str(failed.value).startswith(f"read of {tmp_path / 'sessions' / 'a-folder.json.gz'} failed: ")
    assert isinstance(failed.value.__cause__, IsADirectoryError)


# ----------------------------------------------------------------------------------------------------- Exporter


def export(exporter: Exporter, raw: dict[str, Any] | None = None) -> Any:
    return asyncio.run(exporter.export(raw or example_record_data()))


def test_export_uploads_once_then_reports_already_exported_where_it_may_read(s3: Any, tmp_path: Path) -> None:
    exporter = Exporter(S3Sink(BUCKET, s3, read_existing=True), spool_dir=tmp_path)

    first, second = export(exporter), export(exporter)

    assert (first.status, first.key, first.location, first.error) == ("uploaded", KEY, f"s3://{BUCKET}/{KEY}", None)
    assert (second.status, second.key, second.error) == ("already_exported", KEY, None)
    assert first.duration_ms > 0
    assert s3.get_object(Bucket=BUCKET, Key=KEY)["Body"].read() == body()
    assert spooled_keys(tmp_path) == []


def test_a_second_export_by_the_agent_which_may_not_read_goes_beside_the_first_once(s3: Any, tmp_path: Path) -> None:
    exporter = Exporter(S3Sink(BUCKET, s3), spool_dir=tmp_path)

    first, second, third = export(exporter), export(exporter), export(exporter)

    copy = KEY.removesuffix(".json.gz") + f".dup-{hashlib.sha256(body()).hexdigest()[:16]}.json.gz"
    assert first.status == "uploaded"
    assert (second.status, second.key) == (third.status, third.key) == ("collision", copy)
    assert s3.get_object(Bucket=BUCKET, Key=copy)["Body"].read() == body()
    assert len(s3.list_object_versions(Bucket=BUCKET, Prefix=copy)["Versions"]) == 1


def test_a_record_that_cannot_go_to_its_key_goes_beside_it_with_a_warning_saying_why(
    s3: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """The warning says whether the object at the key differs or could not be read, and whether the copy was
    written now or was there already."""
    caplog.set_level(logging.WARNING, logger="agent.exporter")
    first, other = body(), encode_record(parse_record({**example_record_data(), "duration_s": 1.0}))
    agent, operator = S3Sink(BUCKET, s3), S3Sink(BUCKET, s3, read_existing=True)

    stored = [
        store(agent, KEY, first, schema_version="1"),
        store(agent, KEY, first, schema_version="1"),
        store(agent, KEY, first, schema_version="1"),
        store(operator, KEY, other, schema_version="1"),
    ]

    copy = KEY.removesuffix(".json.gz") + f".dup-{hashlib.sha256(first).hexdigest()[:16]}.json.gz"
    other_copy = KEY.removesuffix(".json.gz") + f".dup-{hashlib.sha256(other).hexdigest()[:16]}.json.gz"
    assert [(entry.status, entry.key) for entry in stored] == [
        ("uploaded", KEY),
        ("collision", copy),
        ("collision", copy),
        ("collision", other_copy),
    ]
    then = (
        "score_lead compares the two: the same record is acknowledged as a duplicate, a different one is scored as "
        "a session of its own"
    )
    assert [entry.getMessage() for entry in caplog.records] == [
        f"s3://{BUCKET}/{KEY} already exists and cannot be compared (no read permission); this record is stored "
        f"under s3://{BUCKET}/{copy} instead (written now). {then}",
        f"s3://{BUCKET}/{KEY} already exists and cannot be compared (no read permission); this record is stored "
        f"under s3://{BUCKET}/{copy} instead (this exact copy was stored earlier). {then}",
        f"s3://{BUCKET}/{KEY} already exists and holds a different record; this record is stored "
        f"under s3://{BUCKET}/{other_copy} instead (written now). {then}",
    ]


def test_export_under_another_prefix(s3: Any, tmp_path: Path) -> None:
    result = export(Exporter(S3Sink(BUCKET, s3), spool_dir=tmp_path, prefix="archive"))

    assert result.key == "archive/year=2026/month=11/day=20/trial-call-0001.json.gz"


def test_a_refused_export_is_spooled_with_the_reason(s3: Any, tmp_path: Path) -> None:
    result = export(Exporter(S3Sink("no-such-bucket-here", s3), spool_dir=tmp_path))

    assert (result.status, result.key, result.location) == ("spooled", KEY, str(tmp_path / KEY))
    assert result.error is not None and result.error.startswith("put to s3://no-such-bucket-here/")
    assert (tmp_path / KEY).read_bytes() == body()
    assert spooled_keys(tmp_path) == [KEY]


class _SilentSink:
    """A store that accepts the connection and never answers (the far side only)."""

    def describe(self, key: str) -> str:
        return f"silent://{key}"

    def put(self, key: str, body: bytes, *, schema_version: str) -> PutOutcome:
        time.sleep(0.6)
        return PutOutcome.CREATED


def test_an_export_without_an_answer_within_the_budget_is_spooled(tmp_path: Path) -> None:
    result = export(Exporter(_SilentSink(), spool_dir=tmp_path, budget_s=0.1))

    assert (result.status, result.error) == ("spooled", "no answer within 0.1 s")
    assert result.duration_ms < 600
    assert spooled_keys(tmp_path) == [KEY]


def test_an_invalid_record_is_kept_aside_and_raised_not_exported(s3: Any, tmp_path: Path) -> None:
    raw = {**example_record_data(), "duration_s": -1}

    with pytest.raises(RecordInvalidError, match="duration_s"):
        export(Exporter(S3Sink(BUCKET, s3), spool_dir=tmp_path), raw)

    [kept] = (tmp_path / INVALID_DIR).iterdir()
    assert json.loads(kept.read_text())["duration_s"] == -1
    assert spooled_keys(tmp_path) == [] and s3.list_objects_v2(Bucket=BUCKET)["KeyCount"] == 0


# ------------------------------------------------------------------------------------------------ spool, flush


def test_spooled_keys_are_the_records_waiting_in_key_order(tmp_path: Path) -> None:
    assert spooled_keys(tmp_path / "missing") == []
    later = "sessions/year=2026/month=11/day=21/b.json.gz"
    spool(tmp_path, later, b"b")
    spool(tmp_path, KEY, b"a")
    (tmp_path / INVALID_DIR).mkdir()
    (tmp_path / INVALID_DIR / "bad.json.gz").write_bytes(b"kept aside")
    (tmp_path / "sessions" / ".tmp-half.json.gz").write_bytes(b"half written")
    (tmp_path / "notes.txt").write_text("not a record")

    assert spooled_keys(tmp_path) == [KEY, later]
    assert spool(tmp_path, KEY, b"again") == tmp_path / KEY and (tmp_path / KEY).read_bytes() == b"again"


def test_flush_uploads_what_waits_and_deletes_it_keeps_what_fails_and_clears_what_was_there(
    s3: Any, tmp_path: Path
) -> None:
    waiting, present = KEY, "sessions/year=2026/month=11/day=21/already.json.gz"
    record = gzip.compress(json.dumps({**example_record_data(), "schema_version": "7"}).encode() + b"\n")
    spool(tmp_path, waiting, record)
    spool(tmp_path, present, b"spooled copy")

    s3.put_object(Bucket=BUCKET, Key=present, Body=b"spooled copy")  # the same bytes, uploaded by a retry

    report = flush_spool(S3Sink(BUCKET, s3, read_existing=True), tmp_path)

    assert (report.uploaded, report.already_present, report.failed) == ([waiting], [present], {})
    assert report.as_dict() == {"uploaded": [waiting], "already_present": [present], "collisions": {}, "failed": {}}
    assert spooled_keys(tmp_path) == []
    assert s3.head_object(Bucket=BUCKET, Key=waiting)["Metadata"] == {"schema-version": "7"}
    assert s3.get_object(Bucket=BUCKET, Key=present)["Body"].read() == b"spooled copy"

    spool(tmp_path, waiting, record)
    failed = flush_spool(S3Sink("no-such-bucket-here", s3), tmp_path)

    assert list(failed.failed) == [waiting] and failed.uploaded == [] == failed.already_present
    assert failed.failed[waiting].startswith("put to s3://no-such-bucket-here/")
    assert spooled_keys(tmp_path) == [waiting]


def test_a_record_put_is_conditional_and_names_no_encryption_of_its_own() -> None:
    """The bucket's encryption (SSE-KMS, its key) applies; a put that named one could only override it. The request
    itself is checked (moto would accept any)."""
    client = boto3.client("s3", region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t")
    expected = {
        "Bucket": BUCKET,
        "Key": KEY,
        "Body": b"x",
        "ContentType": "application/x-ndjson",
        "ContentEncoding": "gzip",
        "Metadata": {"schema-version": "1"},
        "IfNoneMatch": "*",
    }
    with Stubber(client) as stubber:
        stubber.add_response("put_object", {}, expected)

        assert S3Sink(BUCKET, client).put(KEY, b"x", schema_version="1") is PutOutcome.CREATED


def test_retired_encryption_variables_are_named_in_a_warning_and_ignored(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="agent.settings")

    settings = AgentSettings.from_env({"ANALYTICS_BUCKET": BUCKET, "ANALYTICS_S3_SSE": "AES256"})

    assert settings.analytics_bucket == BUCKET
    [warning] = caplog.messages
    assert warning.startswith("ANALYTICS_S3_SSE is set but no longer read: records take the bucket's default")


# ------------------------------------------------------------------------------------------------------- logs


def test_every_export_outcome_is_logged_with_the_session_and_where_the_record_is(
    s3: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="agent.exporter")

    export(Exporter(S3Sink(BUCKET, s3), spool_dir=tmp_path))
    export(Exporter(S3Sink(BUCKET, s3, read_existing=True), spool_dir=tmp_path))
    spooled = export(Exporter(S3Sink("no-such-bucket-here", s3), spool_dir=tmp_path / "spool"))

    records = [record for record in caplog.records if record.name == "agent.exporter"]  # not the analytics line
    messages = [record.getMessage() for record in records]
    assert messages[:2] == [
        f"session trial-call-0001: record uploaded at s3://{BUCKET}/{KEY}",
        f"session trial-call-0001: record already_exported at s3://{BUCKET}/{KEY}",
    ]
    assert messages[2] == (
        f"session trial-call-0001: export to s3://no-such-bucket-here/{KEY} failed ({spooled.error}); record spooled"
        f" to {tmp_path / 'spool' / KEY}, `voice-analytics spool flush` uploads it"
    )
    assert [record.levelname for record in records] == ["INFO", "INFO", "WARNING"]


def test_a_flush_logs_each_record_and_goes_on_after_one_that_fails(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The store refuses the first record's folder (a file is in its way) and takes the second."""
    caplog.set_level(logging.INFO, logger="agent.exporter")
    spool_dir, store = tmp_path / "spool", tmp_path / "store"
    later = "sessions/year=2026/month=11/day=21/b.json.gz"
    spool(spool_dir, KEY, b"first")
    spool(spool_dir, later, b"second")
    (store / "sessions" / "year=2026" / "month=11").mkdir(parents=True)
    (store / "sessions" / "year=2026" / "month=11" / "day=20").write_text("in the way")

    report = flush_spool(DirectorySink(store), spool_dir)

    assert report.uploaded == [later] and list(report.failed) == [KEY]
    assert (store / later).read_bytes() == b"second"
    assert spooled_keys(spool_dir) == [KEY]
    assert caplog.messages == [
        f"spooled record {spool_dir / KEY} still not uploaded ({report.failed[KEY]}); kept for the next flush",
        f"spooled record {spool_dir / later} -> {store / later} (uploaded)",
    ]
    assert [record.levelname for record in caplog.records] == ["WARNING", "INFO"]


class _RacingStore:
    """A store reached by two flushes at once: while this flush's put is under way, the other one uploads the same
    record and deletes its spool file."""

    def __init__(self, spool_dir: Path) -> None:
        self.spool_dir = spool_dir
        self.stored: dict[str, bytes] = {}

    def describe(self, key: str) -> str:
        return f"racing://{key}"

    def put(self, key: str, body: bytes, *, schema_version: str) -> PutOutcome:
        self.stored[key] = body
        (self.spool_dir / key).unlink()
        return PutOutcome.CREATED


def test_a_record_another_flush_removed_meanwhile_is_no_error(tmp_path: Path) -> None:
    spool(tmp_path, KEY, b"record")
    store = _RacingStore(tmp_path)

    report = flush_spool(store, tmp_path)

    assert (report.uploaded, report.failed) == ([KEY], {})
    assert store.stored == {KEY: b"record"} and spooled_keys(tmp_path) == []
