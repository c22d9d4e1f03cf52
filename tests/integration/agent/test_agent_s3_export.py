"""The exporter against a real local S3 (moto server): conditional puts, outage spooling, flush, write check."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from typer.testing import CliRunner

from agent.exporter import Exporter, S3Sink, collision_key, flush_spool, make_s3_client, spooled_keys
from agent.simulate import run_script
from local.ports import free_port
from tests.agent_fixtures import EXAMPLE_SCRIPT, SCHEMA_PATH, example_script, make_settings
from voice_analytics.cli import app

pytestmark = pytest.mark.integration

KEY = "sessions/year=2026/month=11/day=20/trial-call-0001.json.gz"


def _keys(s3: Any, bucket: str) -> list[str]:
    return [item["Key"] for item in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def _closed_port_endpoint() -> str:
    # Nothing listens on a free port, so every connection is refused at once.
    return f"http://127.0.0.1:{free_port()}"


def _exporter(bucket: str, endpoint: str, spool_dir: Path, *, budget_s: float = 5.0) -> Exporter:
    client = make_s3_client(endpoint_url=endpoint, connect_timeout_s=0.5, read_timeout_s=1, max_attempts=2)
    return Exporter(S3Sink(bucket, client), spool_dir=spool_dir, budget_s=budget_s)


def _reader(bucket: str, endpoint: str, spool_dir: Path) -> Exporter:
    """An exporter with credentials that may read records (an operator's), unlike the agent's."""
    return Exporter(S3Sink(bucket, make_s3_client(endpoint_url=endpoint), read_existing=True), spool_dir=spool_dir)


async def test_record_is_put_once_with_type_encoding_schema_version_and_the_buckets_encryption(
    tmp_path: Path, bucket: str, s3: Any, aws_env: str
) -> None:
    outcome = await run_script(
        example_script(), _exporter(bucket, aws_env, tmp_path / "spool"), settings=make_settings()
    )
    again = await _reader(bucket, aws_env, tmp_path / "spool").export(outcome.collector.build_record())

    assert (outcome.export.status, again.status) == ("uploaded", "already_exported")
    assert _keys(s3, bucket) == [KEY]
    head = s3.head_object(Bucket=bucket, Key=KEY)
    assert head["ContentType"] == "application/x-ndjson"
    assert head["ContentEncoding"] == "gzip"
    assert head["ServerSideEncryption"] == "aws:kms"  # the bucket's default (conftest: as the template sets it)
    assert head["Metadata"] == {"schema-version": "1"}
    body = s3.get_object(Bucket=bucket, Key=KEY)["Body"].read()
    jsonschema.validate(json.loads(gzip.decompress(body)), json.loads(SCHEMA_PATH.read_text()))


async def test_s3_outage_spools_the_record_and_a_later_flush_leaves_exactly_one_object(
    tmp_path: Path, bucket: str, s3: Any, aws_env: str, caplog: pytest.LogCaptureFixture
) -> None:
    spool_dir = tmp_path / "spool"
    down = _exporter(bucket, _closed_port_endpoint(), spool_dir, budget_s=3)

    outcome = await run_script(example_script(), down, settings=make_settings())

    assert outcome.export.status == "spooled"
    assert spooled_keys(spool_dir) == [KEY]
    assert any(str(spool_dir / KEY) in message and "spool flush" in message for message in caplog.messages)
    assert _keys(s3, bucket) == []

    up = S3Sink(bucket, make_s3_client(endpoint_url=aws_env))
    first = flush_spool(up, spool_dir)
    second = flush_spool(up, spool_dir)

    assert first.uploaded == [KEY] and not first.failed
    assert second.as_dict() == {"uploaded": [], "already_present": [], "collisions": {}, "failed": {}}
    assert _keys(s3, bucket) == [KEY]
    assert spooled_keys(spool_dir) == []


async def test_flush_of_a_record_that_reached_s3_after_all_deletes_the_spool_copy_without_a_duplicate(
    tmp_path: Path, bucket: str, s3: Any, aws_env: str
) -> None:
    # The put timed out from the agent's side but landed anyway: the object exists and so does the spool file.
    spool_dir = tmp_path / "spool"
    uploaded = await run_script(example_script(), _exporter(bucket, aws_env, spool_dir), settings=make_settings())
    await run_script(example_script(), _exporter(bucket, _closed_port_endpoint(), spool_dir), settings=make_settings())
    assert uploaded.export.status == "uploaded" and spooled_keys(spool_dir) == [KEY]

    report = flush_spool(S3Sink(bucket, make_s3_client(endpoint_url=aws_env), read_existing=True), spool_dir)

    assert report.already_present == [KEY]
    assert _keys(s3, bucket) == [KEY]
    assert spooled_keys(spool_dir) == []


def test_write_check_passes_without_creating_an_object_and_names_a_missing_bucket(
    bucket: str, s3: Any, aws_env: str
) -> None:
    """The probe is a conditional put that S3 authorizes and then refuses for its Content-MD5 (moto refuses it too,
    local/aws/moto_patches.py `s3_content_md5`): a pass, and still no object."""
    client = make_s3_client(endpoint_url=aws_env)
    ok = S3Sink(bucket, client).check_write("sessions")
    missing = S3Sink("no-such-analytics-bucket", client).check_write("sessions")
    unreachable = S3Sink(bucket, make_s3_client(endpoint_url=_closed_port_endpoint(), max_attempts=1)).check_write(
        "sessions"
    )

    assert ok.ok, ok.detail
    assert _keys(s3, bucket) == [], "the probe must never create an object (it would raise an S3 event)"
    assert not missing.ok and "no-such-analytics-bucket" in missing.detail and "NoSuchBucket" in missing.detail
    assert not unreachable.ok and bucket in unreachable.detail


def test_cli_simulate_to_a_bucket_then_spool_flush(tmp_path: Path, bucket: str, s3: Any, aws_env: str) -> None:
    runner = CliRunner()
    env = {"ANALYTICS_SPOOL_DIR": str(tmp_path / "spool"), "ANALYTICS_CALLER_SALT": "cli-salt"}

    simulated = runner.invoke(app, ["simulate", str(EXAMPLE_SCRIPT), "--bucket", bucket], env=env)
    assert simulated.exit_code == 0, simulated.output
    assert json.loads(simulated.stdout.splitlines()[-1])["key"] == KEY
    assert _keys(s3, bucket) == [KEY]

    flushed = runner.invoke(app, ["spool", "flush", "--bucket", bucket], env=env)
    assert flushed.exit_code == 0, flushed.output
    assert json.loads(flushed.stdout.splitlines()[-1]) == {
        "uploaded": [],
        "already_present": [],
        "collisions": {},
        "failed": {},
    }


async def test_the_agent_which_may_not_read_stores_a_repeat_as_a_collision_copy_and_never_overwrites(
    tmp_path: Path, bucket: str, s3: Any, aws_env: str, caplog: pytest.LogCaptureFixture
) -> None:
    agent = _exporter(bucket, aws_env, tmp_path / "spool")
    outcome = await run_script(example_script(), agent, settings=make_settings())
    first_body = s3.get_object(Bucket=bucket, Key=KEY)["Body"].read()

    repeat = await agent.export(outcome.collector.build_record())
    repeat_again = await agent.export(outcome.collector.build_record())

    assert (repeat.status, repeat_again.status) == ("collision", "collision")
    assert repeat.key == repeat_again.key == collision_key(KEY, first_body)
    assert _keys(s3, bucket) == sorted([KEY, repeat.key])
    assert s3.get_object(Bucket=bucket, Key=KEY)["Body"].read() == first_body
    warning = next(message for message in caplog.messages if "cannot be compared" in message)
    assert f"s3://{bucket}/{KEY}" in warning and f"s3://{bucket}/{repeat.key}" in warning


async def test_an_operator_flush_of_a_different_record_at_the_key_keeps_both(
    tmp_path: Path, bucket: str, s3: Any, aws_env: str
) -> None:
    await run_script(example_script(), _exporter(bucket, aws_env, tmp_path / "spool"), settings=make_settings())
    other = await run_script(
        example_script(end_reason="agent_ended"),
        _exporter(bucket, _closed_port_endpoint(), tmp_path / "spool"),
        settings=make_settings(),
    )
    assert other.export.status == "spooled"

    report = flush_spool(S3Sink(bucket, make_s3_client(endpoint_url=aws_env), read_existing=True), tmp_path / "spool")

    (copy_key,) = report.collisions.values()
    assert report.collisions == {KEY: copy_key} and ".dup-" in copy_key
    assert _keys(s3, bucket) == sorted([KEY, copy_key])
    assert json.loads(gzip.decompress(s3.get_object(Bucket=bucket, Key=KEY)["Body"].read()))["end_reason"] == (
        "caller_hangup"
    )
    assert json.loads(gzip.decompress(s3.get_object(Bucket=bucket, Key=copy_key)["Body"].read()))["end_reason"] == (
        "agent_ended"
    )
