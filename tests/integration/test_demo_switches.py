"""`voice-analytics demo --duplicate-deliveries N --extra-objects DIR` against a normal run of the same scripts.

Both demos run as subprocesses (like `make demo`), side by side, each with its own report folder (so neither
sees the other's kept emulator state). The switched run has every SQS batch delivered three times AND the
malformed files of tests/fixtures/malformed/ put under today's sessions/ partition first: its Salesforce,
Amplitude and alert counts must still equal the normal run's, every extra object must be quarantined with its
reason, and it must exit 0.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
HOT_SCRIPT = REPO / "tests" / "fixtures" / "agent" / "conversation.json"
MALFORMED = REPO / "tests" / "fixtures" / "malformed"
OTHER_SCRIPTS = 2


def _start(conversations: Path, report: Path, *switches: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "voice_analytics.cli", "demo", "--conversations", str(conversations)]
    command += ["--report", str(report), *switches]
    return subprocess.Popen(
        command,
        cwd=REPO,
        env={**os.environ, "COLUMNS": "200"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[int, str, dict[str, Any]]]:
    folder = tmp_path_factory.mktemp("conversations")
    shutil.copy(HOT_SCRIPT, folder / "hot.json")
    for path in sorted((REPO / "conversations").glob("*.json"))[:OTHER_SCRIPTS]:
        shutil.copy(path, folder / path.name)
    reports = {
        "normal": tmp_path_factory.mktemp("normal") / "report.json",
        "switched": tmp_path_factory.mktemp("switched") / "report.json",
    }
    processes = {
        "normal": _start(folder, reports["normal"]),
        "switched": _start(
            folder, reports["switched"], "--duplicate-deliveries", "3", "--extra-objects", str(MALFORMED)
        ),
    }
    results = {}
    for name, process in processes.items():
        output, _ = process.communicate(timeout=240)
        assert reports[name].exists(), f"{name}: no report; exit {process.returncode}\n{output}"
        results[name] = (process.returncode, output, json.loads(reports[name].read_text()))
    return results


def _effects(report: dict[str, Any]) -> dict[str, Any]:
    return {
        "sessions_scored": report["sessions_scored"],
        "salesforce_leads": report["salesforce"]["leads"],
        "salesforce_tasks": report["salesforce"]["tasks"],
        "amplitude_events": report["amplitude_events"],
        "amplitude_event_types": report["amplitude"]["event_types"],
        "sns_alerts": report["sns_alerts"],
        "alerted": report["alerted_session_ids"],
        "grades": report["grades"],
        "dlq_messages": report["dlq_messages"],
    }


def test_both_runs_exit_zero_with_consistent_reports(runs: dict[str, tuple[int, str, dict[str, Any]]]) -> None:
    for name, (code, output, report) in runs.items():
        assert code == 0, f"{name}:\n{output}"
        assert report["problems"] == [], name


def test_triple_delivery_and_malformed_extras_leave_every_far_end_count_equal_to_a_normal_run(
    runs: dict[str, tuple[int, str, dict[str, Any]]],
) -> None:
    normal, switched = runs["normal"][2], runs["switched"][2]

    assert _effects(switched) == _effects(normal)
    assert switched["duplicate_deliveries"] == 3
    assert switched["salesforce"]["duplicate_task_sessions"] == []
    assert switched["amplitude"]["duplicates_dropped"] == 0  # idempotency stopped the re-sends before Amplitude
    # Every batch really was delivered three times.
    for name, stats in switched["functions"].items():
        assert stats["records"] == 3 * (
            normal["functions"][name]["records"]
            + (len(switched["extra_objects"]) if name == "ScoreLeadFunction" else 0)
        ), name


def test_every_extra_object_is_quarantined_and_the_report_says_why(
    runs: dict[str, tuple[int, str, dict[str, Any]]],
) -> None:
    _, output, report = runs["switched"]
    files = sorted(path.name for path in MALFORMED.iterdir() if path.is_file())

    assert sorted(key.rsplit("/", 1)[-1] for key in report["extra_objects"]) == files
    assert report["quarantined"] == len(files)
    by_key = {item["key"]: item for item in report["quarantined_objects"]}
    assert sorted(by_key) == sorted(report["extra_objects"])
    assert all(item["reason"] and item["quarantine_key"] == f"quarantine/{key}" for key, item in by_key.items())
    reasons = {key.rsplit("/", 1)[-1]: item["reason"] for key, item in by_key.items()}
    assert "gzip bomb guard" in reasons["gzip-bomb.json.gz"]
    assert "not gzip" in reasons["empty.json.gz"]
    assert "schema_version" in reasons["wrong-schema-version.json.gz"]
    assert "expected a JSON object, got list" in reasons["json-array.json.gz"]
    assert "Quarantined (" in output and "gzip-bomb.json.gz" in output
    assert runs["normal"][2]["quarantined_objects"] == []
