"""A small `voice-analytics demo` end to end: stack from the template, emulators, real agent, real handlers.

It runs as a subprocess, like `make demo`: the demo imports the handlers with the template's environment, which
must not meet the handler modules conftest.py imported with its own (and moto's backends are per process).
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
# A hot lead with contact details and a booked meeting: one Lead, one Task, one alert.
HOT_SCRIPT = REPO / "tests" / "fixtures" / "agent" / "conversation.json"
OTHER_SCRIPTS = 3


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    folder = tmp_path_factory.mktemp("conversations")
    shutil.copy(HOT_SCRIPT, folder / "hot.json")
    bundled = sorted((REPO / "conversations").glob("*.json"))[:OTHER_SCRIPTS]
    for path in bundled:
        shutil.copy(path, folder / path.name)
    report_path = tmp_path_factory.mktemp("demo") / "report.json"
    env = {**os.environ, "COLUMNS": "120"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "voice_analytics.cli",
            "demo",
            "--conversations",
            str(folder),
            "--report",
            str(report_path),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert report_path.exists(), f"no report; exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result, json.loads(report_path.read_text())


def test_demo_exits_zero_and_the_report_is_consistent(demo_run: tuple[Any, dict[str, Any]]) -> None:
    result, report = demo_run
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    assert report["problems"] == []
    replayed = report["sessions_replayed"]
    assert replayed == report["distinct_sessions_replayed"] >= 1
    assert report["sessions_exported"] == report["sessions_scored"] == replayed
    assert report["dlq_messages"] == 0
    assert report["quarantined"] == 0
    assert report["hot_leads"] == report["sns_alerts"] >= 1
    assert report["amplitude_events"] > 0 and report["amplitude"]["duplicates_dropped"] == 0


def test_report_has_one_entry_per_session_that_matches_the_far_ends(demo_run: tuple[Any, dict[str, Any]]) -> None:
    _, report = demo_run
    sessions = report["sessions"]
    assert len(sessions) == report["sessions_scored"]
    for entry in sessions:
        assert {"session_id", "score", "grade", "hot", "salesforce_lead_id", "alerted"} <= entry.keys()
        assert entry["alerted"] == entry["hot"]
        assert 0 <= entry["score"] <= 100
    synced = [entry for entry in sessions if entry["salesforce_lead_id"]]
    assert report["salesforce"]["tasks"] == len(synced)
    assert 1 <= report["salesforce"]["leads"] <= report["salesforce"]["tasks"]
    hot = next(entry for entry in sessions if entry["session_id"] == "trial-call-0001")
    assert hot["hot"] and hot["alerted"] and hot["salesforce_lead_id"]
    latency = report["latency_ms"]
    assert latency["session_end_to_alert"]["count"] == report["hot_leads"]
    assert latency["session_end_to_salesforce"]["p50"] is not None


def test_emails_and_queries_are_in_the_report_and_on_the_console(demo_run: tuple[Any, dict[str, Any]]) -> None:
    result, report = demo_run
    alert = next(email for email in report["emails"] if email["session_id"] == "trial-call-0001")
    assert alert["subject"].startswith("Hot lead:")
    assert "Session: trial-call-0001" in alert["body"]
    assert "Subject: Hot lead:" in result.stdout
    names = [query["name"] for query in report["queries"]]
    assert names == ["hot leads by day", "signal coverage", "tool success rate"]
    assert report["queries"][1]["rows"][0][0] == report["sessions_scored"]
