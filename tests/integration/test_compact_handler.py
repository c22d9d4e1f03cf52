"""The compact function's handler against moto's S3 and Glue: the tables and views are the template's (created in
moto's Glue as CloudFormation would), the raw objects are in the bucket, the views are rewritten in Glue."""

from __future__ import annotations

import datetime as dt
import importlib
import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from benchmarks.analytics_data import write_synthetic
from functions.compact.tables import compacted_views, decode_presto_view, view_table_input
from tests.integration.conftest import BUCKET, FakeLambdaContext, LocalStack
from tests.samples import example_record_data
from voice_analytics.template import glue_tables, load_template

DATABASE = "voice_analytics_local"


def _resolved(node: Any) -> Any:
    """A TableInput's Fn::Sub of the bucket (its Location and projection template) as CloudFormation resolves it."""
    if isinstance(node, dict):
        if set(node) == {"Fn::Sub"} and isinstance(node["Fn::Sub"], str):
            return node["Fn::Sub"].replace("${SessionsBucket}", BUCKET).replace("${!", "${")
        return {key: _resolved(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_resolved(item) for item in node]
    return node


@pytest.fixture
def glue(local_stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("GLUE_DATABASE", DATABASE)
    client = boto3.client("glue")
    client.create_database(DatabaseInput={"Name": DATABASE})
    template = load_template()
    tables = glue_tables(template)
    views = compacted_views(tables.values())
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Glue::Table":
            table_input = resource["Properties"]["TableInput"]
            if table_input["Name"] in views:  # the view as the template creates it: raw days only
                table_input = view_table_input(views[table_input["Name"]], [], DATABASE)
            client.create_table(DatabaseName=DATABASE, TableInput=_resolved(table_input))
    yield client
    client.delete_database(Name=DATABASE)


class ScheduledRunContext(FakeLambdaContext):
    """The compact function's context: 15 minutes to run (the template's Timeout)."""

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


def _bucket_listing(s3: Any, prefix: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
        found.update({item["Key"]: item["ETag"] for item in page.get("Contents", [])})
    return found


def test_the_daily_run_compacts_finished_days_and_points_the_views_at_them(
    local_stack: LocalStack, glue: Any, tmp_path: Path
) -> None:
    today = dt.datetime.now(dt.UTC).date()
    first = today - dt.timedelta(days=3)
    staging = tmp_path / "bucket"
    # Days first, first + 1 (finished) and today (not finished): 3 sessions each.
    write_synthetic(staging, [json.dumps(example_record_data())], 6, first, 2, prefix="finished")
    write_synthetic(staging, [json.dumps(example_record_data())], 3, today, 1, prefix="today")
    for path in sorted(staging.rglob("*.json.gz")):
        local_stack.s3.upload_file(str(path), BUCKET, path.relative_to(staging).as_posix())
    handler = importlib.import_module("functions.compact.handler")

    summary = handler.lambda_handler({}, ScheduledRunContext(memory_limit_in_mb=2048))

    finished = [first.isoformat(), (first + dt.timedelta(days=1)).isoformat()]
    assert summary["compacted_days"] == {"sessions": finished, "scored": finished}
    # Today's day is outside the daily run's window (the last 7 days before today): not even listed.
    assert {(entry["view"], entry["day"], entry["action"], entry["rows"]) for entry in summary["days"]} == {
        (view, day, "compacted", 3) for view in ("sessions", "scored") for day in finished
    }
    parquet = [key for key in _bucket_listing(local_stack.s3, "compacted/") if key.endswith(".parquet")]
    assert len(parquet) == 4  # one file per view and finished day
    for name in ("sessions", "scored"):
        view = glue.get_table(DatabaseName=DATABASE, Name=name)["Table"]
        sql = decode_presto_view(view["ViewOriginalText"])["originalSql"]
        between = f"BETWEEN '{finished[0]}' AND '{finished[1]}'"
        assert f'FROM "{name}_compacted" WHERE' in sql and between in sql
        assert f'FROM "{name}_raw" WHERE NOT' in sql
        assert view["Parameters"]["compaction.raw_table"] == f"{name}_raw"

    # The next day's run finds nothing to do and writes nothing.
    written = _bucket_listing(local_stack.s3, "compacted/")
    again = handler.lambda_handler({}, ScheduledRunContext(memory_limit_in_mb=2048))
    assert again["actions"] == {"up to date": 4}
    assert _bucket_listing(local_stack.s3, "compacted/") == written


def test_a_request_it_cannot_read_is_refused_naming_what_it_expects(local_stack: LocalStack, glue: Any) -> None:
    handler = importlib.import_module("functions.compact.handler")
    with pytest.raises(ValueError, match=r"expected \{\}.*nothing was compacted"):
        handler.lambda_handler({"day": "yesterday"}, FakeLambdaContext())
