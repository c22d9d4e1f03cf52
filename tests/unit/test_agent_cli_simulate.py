"""`voice-analytics simulate SCRIPT --out DIR`: one object at the session's key, valid against the JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
from typer.testing import CliRunner

from tests.agent_fixtures import EXAMPLE_SCRIPT, SCHEMA_PATH, read_record, stored_objects
from voice_analytics.cli import app


def test_simulate_writes_exactly_one_valid_record_at_the_partitioned_key(tmp_path: Path) -> None:
    out = tmp_path / "x"
    result = CliRunner().invoke(
        app, ["simulate", str(EXAMPLE_SCRIPT), "--out", str(out)], env={"ANALYTICS_SPOOL_DIR": str(tmp_path / "spool")}
    )

    assert result.exit_code == 0, result.output
    objects = stored_objects(out)
    assert [path.relative_to(out).as_posix() for path in objects] == [
        "sessions/year=2026/month=11/day=20/trial-call-0001.json.gz"
    ]
    jsonschema.validate(read_record(objects[0]), json.loads(SCHEMA_PATH.read_text()))
    assert json.loads(result.stdout.splitlines()[-1])["status"] == "uploaded"


def test_simulate_twice_keeps_the_first_record_and_reports_it_already_exported(tmp_path: Path) -> None:
    out = tmp_path / "x"
    env = {"ANALYTICS_SPOOL_DIR": str(tmp_path / "spool")}
    CliRunner().invoke(app, ["simulate", str(EXAMPLE_SCRIPT), "--out", str(out)], env=env)
    again = CliRunner().invoke(app, ["simulate", str(EXAMPLE_SCRIPT), "--out", str(out)], env=env)

    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout.splitlines()[-1])["status"] == "already_exported"
    assert len(stored_objects(out)) == 1
