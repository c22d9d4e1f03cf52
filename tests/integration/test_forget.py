"""`voice-analytics forget` on the local stack (tests/integration/pipeline.py: the template's stack on moto, the
emulators, the real handlers): a person's calls go through the whole pipeline, then forget erases them and reports
each removal; afterwards no object or version of theirs is in the bucket, no row in `voice-analytics query`, no
Amplitude user (once the emulator runs the deletion job, which Amplitude runs 10-13 days later), no Lead or Task;
another person's data is untouched; a second run removes nothing and exits 0. Each scenario ends with its ledger.

Their days are compacted first (`voice-analytics compact`, twice, so that the compacted folders hold older versions):
forget rewrites those days through the compaction, and no version under compacted/ holds or names them afterwards.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner

from agent.exporter import collision_key
from functions.common.amplitude import amplitude_user_id
from functions.compact.logic import Compactor
from functions.compact.store import S3Store
from local.emulators.amplitude import DEMO_USER_ID_KEY
from tests.integration.ledger import every_scenario_closes_a_ledger
from tests.integration.pipeline import Pipeline, gzip_line, record_data, running_pipeline, session_id, session_key
from voice_analytics.cli import app
from voice_analytics.privacy import template_views

pytestmark = pytest.mark.integration

STAGE = "forget"
EMAIL = "Dana.Forget@Example.com"  # as the caller gave it; the lead key is of the normalised address
LEAD_KEY = hashlib.sha256(EMAIL.strip().lower().encode()).hexdigest()
# Days of their calls, apart from the other tests' (whose raw objects arrive after this test's compaction).
SHARED_DAY = "2026-11-23"  # theirs and another person's
THEIR_DAY = "2026-11-24"  # theirs only


def on(day: str) -> dict[str, str]:
    """A call's times on `day` (the example record's, moved there)."""
    return {"started_at": f"{day}T15:04:05Z", "ended_at": f"{day}T15:05:40.400000Z"}


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    with running_pipeline(STAGE, tmp_path_factory.mktemp("forget-logs")) as running:
        yield running


@pytest.fixture(autouse=True)
def ledgers(pipeline: Pipeline) -> Iterator[None]:
    with every_scenario_closes_a_ledger(pipeline.ledgers):
        yield


def forget(pipeline: Pipeline, *args: str, caller_salt: str | None = None) -> Any:
    env = {"SALESFORCE_CA_BUNDLE": pipeline.salesforce.ca_bundle, "ANALYTICS_CALLER_SALT": caller_salt}
    return CliRunner().invoke(app, ["forget", "--stack-name", pipeline.stack.stack_name, *args], env=env)


def query(pipeline: Pipeline, sql: str) -> list[list[Any]]:
    result = CliRunner().invoke(
        app, ["query", "--bucket", pipeline.bucket, "--endpoint", pipeline.stack.endpoint_url, "--json", sql]
    )
    assert result.exit_code == 0, result.output
    [answer] = json.loads(result.stdout)
    rows: list[list[Any]] = answer["rows"]
    return rows


def day_folder(day: str) -> str:
    return f"year={day[:4]}/month={day[5:7]}/day={day[8:10]}/"


def every_version(pipeline: Pipeline) -> list[tuple[str, str]]:
    found = []
    for page in pipeline.s3.get_paginator("list_object_versions").paginate(Bucket=pipeline.bucket):
        for item in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
            found.append((item["Key"], item["VersionId"]))
    return found


def compact(pipeline: Pipeline, *args: str) -> dict[str, Any]:
    result = CliRunner().invoke(
        app, ["compact", "--bucket", pipeline.bucket, "--endpoint", pipeline.stack.endpoint_url, "--json", *args]
    )
    assert result.exit_code == 0, result.output
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def compacted_versions(pipeline: Pipeline) -> list[tuple[str, str, bytes]]:
    """Every version (not delete markers: they hold nothing) of every object under compacted/, with its bytes."""
    found = []
    for page in pipeline.s3.get_paginator("list_object_versions").paginate(Bucket=pipeline.bucket, Prefix="compacted/"):
        for item in page.get("Versions", []):
            body = pipeline.s3.get_object(Bucket=pipeline.bucket, Key=item["Key"], VersionId=item["VersionId"])
            found.append((item["Key"], item["VersionId"], body["Body"].read()))
    return found


def parquet_session_ids(data: bytes, scratch: Path) -> set[str]:
    path = scratch / "read.parquet"
    path.write_bytes(data)
    with duckdb.connect() as con:
        return {row[0] for row in con.execute("SELECT session_id FROM read_parquet(?)", [str(path)]).fetchall()}


def test_forget_erases_a_person_everywhere_reports_each_removal_and_a_second_run_removes_nothing(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    ledger = pipeline.ledger()
    contact = {"name": "Dana Forget", "email": EMAIL, "company": "Acme Legal", "preferred_time": "tomorrow"}
    first, second, other = session_id("forget"), session_id("forget"), session_id("keep")
    alone = session_id("forget")  # theirs, on a day that holds nobody else's
    first_key = pipeline.put_session(first, contact=contact, **on(SHARED_DAY))
    pipeline.put_session(second, contact={**contact, "email": EMAIL.lower()}, **on(SHARED_DAY))
    pipeline.put_session(other, **on(SHARED_DAY))
    pipeline.put_session(alone, contact=contact, **on(THEIR_DAY))
    # Another call the agent was given `first`'s id for: a collision copy beside it, scored as `<first>-<8 hex>`.
    copy_data = copy.deepcopy(record_data(first, contact=contact, **on(SHARED_DAY)))
    copy_data["duration_s"] += 1
    copy_body = gzip_line(copy_data)
    copy_key = collision_key(first_key, copy_body)
    pipeline.put_raw(copy_key, copy_body)
    derived = f"{first}-{hashlib.sha256(copy_body).hexdigest()[:8]}"
    # Something that is no record at all but names them: quarantined, then found by its text.
    broken = session_key(session_id("broken"))
    pipeline.put_raw(broken, f"call {EMAIL} back about the contract".encode())
    pipeline.drain()
    assert pipeline.keys(f"quarantine/{broken}") == [f"quarantine/{broken}", f"quarantine/{broken}.reason.json"]
    # A second version of a scored object (a rescoring would make one): every version must go.
    [scored_key] = pipeline.scored(first)
    rescored = pipeline.s3.get_object(Bucket=pipeline.bucket, Key=scored_key)["Body"].read()
    pipeline.s3.put_object(Bucket=pipeline.bucket, Key=scored_key, Body=rescored)
    # The daily compaction of both days, run twice (forced): the compacted folders hold older versions too.
    for day in (SHARED_DAY, THEIR_DAY):
        assert compact(pipeline, "--day", day)["actions"] == {"compacted": 2}
        assert compact(pipeline, "--day", day, "--force")["actions"] == {"compacted": 2}
    theirs = {first, second, derived, alone}
    assert {key for key, _, body in compacted_versions(pipeline) if any(sid.encode() in body for sid in theirs)}
    assert query(pipeline, f"SELECT count(*) FROM scored WHERE lead_key = '{LEAD_KEY}'") == [[4]]

    result = forget(pipeline, "--email", EMAIL, "--include-crm", "--requester", "privacy@example.com")
    deleted_events = pipeline.amplitude.run_deletion_jobs()  # Amplitude runs the job 10-13 days later

    assert result.exit_code == 0, result.output
    output = result.stdout
    assert output.startswith("4 session(s) found in ")
    bucket = f"s3://{pipeline.bucket}/"
    for key in (
        first_key,
        copy_key,
        session_key(second, on(SHARED_DAY)["started_at"]),
        broken,
        f"quarantine/{broken}",
        scored_key,
    ):
        assert f"s3: {bucket}{key} (deleted: " in output, key
    assert f"s3: {bucket}{scored_key} (deleted: 2 version(s))" in output
    assert f"s3: {bucket}quarantine/{broken}.reason.json (deleted: 1 version(s))" in output
    for view in ("sessions", "scored"):
        shared, alone_day = (f"{bucket}compacted/{view}/{day_folder(day)}" for day in (SHARED_DAY, THEIR_DAY))
        # Three rows: first, second and the collision copy (raw: it carries first's id; scored: an id of its own).
        assert f"s3: {shared} ({view} {SHARED_DAY} rewritten by the compaction without 3 row(s)" in output
        assert f"s3: {alone_day} ({view} {THEIR_DAY} rewritten by the compaction without 1 row(s)" in output
        assert f"s3: {shared}_manifest.json (deleted: 2 older version(s))" in output
    assert output.count("salesforce: Task ") == 4 and output.count("salesforce: Lead ") == 1
    assert output.count("amplitude: user ") == 1 and "deletion requested, Amplitude runs it on " in output
    assert deleted_events == 16  # four calls' four events each
    # Nothing of theirs is left: no object, no version, no row, no Amplitude user, no CRM record.
    assert not [key for key, _ in every_version(pipeline) if any(sid in key for sid in theirs) or broken in key]
    # Under compacted/, no version of any object (Parquet part, manifest, sources) names them or holds their rows.
    for key, version, body in compacted_versions(pipeline):
        assert not [sid for sid in theirs if sid.encode() in body], (key, version)
        if key.endswith(".parquet"):
            assert not parquet_session_ids(body, tmp_path) & theirs, (key, version)
    # The views still work over both compacted days: the other person's rows, none of theirs.
    assert query(pipeline, f"SELECT count(*) FROM sessions WHERE lower(contact.email) = '{EMAIL.lower()}'") == [[0]]
    assert query(pipeline, f"SELECT count(*) FROM scored WHERE lead_key = '{LEAD_KEY}'") == [[0]]
    for view in ("sessions", "scored"):
        assert query(pipeline, f"SELECT session_id FROM {view} WHERE started_at LIKE '{SHARED_DAY}%'") == [[other]]
        assert query(pipeline, f"SELECT count(*) FROM {view} WHERE started_at LIKE '{THEIR_DAY}%'") == [[0]]
    assert compact(pipeline, "--day", SHARED_DAY)["actions"] == {"up to date": 2}
    user = amplitude_user_id(LEAD_KEY, DEMO_USER_ID_KEY)
    assert user not in pipeline.amplitude.users
    assert not [e for e in pipeline.amplitude.events if e["event_properties"]["voice_session_id"] in theirs]
    # ...and the other person's data is all there.
    assert query(pipeline, f"SELECT session_id FROM scored WHERE session_id = '{other}'") == [[other]]
    assert pipeline.tasks(other) and pipeline.leads(other)
    assert [e for e in pipeline.amplitude.events if e["event_properties"]["voice_session_id"] == other]

    again = forget(pipeline, "--email", EMAIL, "--include-crm")

    assert again.exit_code == 0, again.output
    assert again.stdout.startswith("nothing to remove: ")
    assert "s3:" not in again.stdout and "salesforce:" not in again.stdout and "amplitude:" not in again.stdout
    for sid in (first, second, derived, alone):
        ledger.effects(sid, forgotten=True, lead_key=LEAD_KEY)
    ledger.effects(other)
    ledger.quarantined(broken, "not gzip", forgotten=True)
    tally = ledger.close()
    # First run: a Task lookup per session and one Lead lookup, then the deletes; second run: the Lead lookup only.
    assert tally.salesforce_lookups == {"Task": 4, "Lead": 2}
    assert tally.salesforce_deletes == {"Task": 4, "Lead": 1}


def test_a_dry_run_changes_nothing_and_a_run_stopped_after_the_compacted_rewrite_finishes_when_run_again(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    """--dry-run lists the compacted day it would rewrite and touches no version. Then the state of a forget stopped
    right after its first bucket step (the day rewritten by the compaction, its older versions and the raw objects
    still there): the next run finds the day from the raw objects, deletes the older versions and the raw objects."""
    ledger = pipeline.ledger()
    day = "2026-11-25"
    email = "eve.halfway@example.com"
    lead_key = hashlib.sha256(email.encode()).hexdigest()
    theirs, other = session_id("half"), session_id("keep")
    pipeline.put_session(theirs, contact={"name": "Eve", "email": email}, **on(day))
    pipeline.put_session(other, **on(day))
    pipeline.drain()
    assert compact(pipeline, "--day", day)["actions"] == {"compacted": 2}
    assert compact(pipeline, "--day", day, "--force")["actions"] == {"compacted": 2}  # older versions, too
    before = every_version(pipeline)

    dry = forget(pipeline, "--email", email, "--dry-run")

    assert dry.exit_code == 0, dry.output
    for view in ("sessions", "scored"):
        folder = f"s3://{pipeline.bucket}/compacted/{view}/{day_folder(day)}"
        assert f"s3: {folder} (would rewrite {view} {day} without 1 row(s) and 1 source key(s))" in dry.stdout
        assert f"s3: {folder}_manifest.json (would delete: 1 older version(s))" in dry.stdout
    assert every_version(pipeline) == before

    # Where a forget that stopped after the compacted rewrite left the bucket (the rewrite is Compactor's own).
    compactor = Compactor(S3Store(pipeline.s3, pipeline.bucket), template_views())
    for view in compactor.views.values():
        assert compactor.remove_sessions(view, dt.date.fromisoformat(day), [theirs]) == 1
    result = forget(pipeline, "--email", email, "--include-crm")
    pipeline.amplitude.run_deletion_jobs()

    assert result.exit_code == 0, result.output
    assert "rewritten by the compaction" not in result.stdout  # nothing of theirs is left in the current files
    for view in ("sessions", "scored"):
        manifest = f"s3://{pipeline.bucket}/compacted/{view}/{day_folder(day)}_manifest.json"
        assert f"s3: {manifest} (deleted: 2 older version(s))" in result.stdout
    for key, version, body in compacted_versions(pipeline):
        assert theirs.encode() not in body, (key, version)
    assert not [key for key, _ in every_version(pipeline) if theirs in key]
    for view in ("sessions", "scored"):
        assert query(pipeline, f"SELECT session_id FROM {view} WHERE started_at LIKE '{day}%'") == [[other]]
    assert forget(pipeline, "--email", email, "--include-crm").stdout.startswith("nothing to remove: ")
    ledger.effects(theirs, forgotten=True, lead_key=lead_key)
    ledger.effects(other)
    ledger.close()


def test_forget_by_caller_key_erases_the_sessions_of_that_caller_only(pipeline: Pipeline) -> None:
    """A caller who gave no email: found by their phone number, hashed with the agent's salt as the agent hashed it."""
    ledger = pipeline.ledger()
    anonymous, other = session_id("anon"), session_id("known")
    caller = {"key_hash": hashlib.sha256(b"salt:+14155550199").hexdigest(), "channel": "sip"}
    pipeline.put_session(anonymous, contact=None, caller=caller, tool_calls=[])
    pipeline.put_session(other)
    pipeline.drain()
    lead_key = hashlib.sha256(caller["key_hash"].encode()).hexdigest()

    result = forget(pipeline, "--caller-key", "+14155550199", "--include-crm", caller_salt="salt")
    pipeline.amplitude.run_deletion_jobs()

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("1 session(s) found in ")
    assert result.stdout.count("salesforce: Task ") == 1 and result.stdout.count("salesforce: Lead ") == 1
    assert query(pipeline, f"SELECT count(*) FROM scored WHERE session_id = '{anonymous}'") == [[0]]
    assert query(pipeline, f"SELECT count(*) FROM scored WHERE session_id = '{other}'") == [[1]]
    ledger.effects(anonymous, forgotten=True, lead_key=lead_key, events=2)
    ledger.effects(other)
    ledger.close()


def test_forget_without_a_person_is_refused_and_changes_nothing(pipeline: Pipeline) -> None:
    ledger = pipeline.ledger()

    result = forget(pipeline, "--include-crm")

    assert result.exit_code == 2 and "give --email ADDRESS and/or --caller-key IDENTITY" in result.output
    ledger.close()
