"""`voice-analytics demo` end to end over the bundled conversations, the hot example and a caller who means to cancel
and is not hot: stack from the template, emulators, real agent, real handlers; each call's outcome checked against
what its script calls for (tests/fixtures/conversations/expected.json, written from the scripts and the scoring rules,
not from a run).

It runs as a subprocess, like `make demo`: the demo imports the handlers with the template's environment, which
must not meet the handler modules conftest.py imported with its own (and moto's backends are per process).
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from local.demo.queries import presets
from local.demo.run import Demo
from local.emulators.amplitude import AmplitudeEmulator
from local.emulators.salesforce import SalesforceEmulator

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
# A hot lead with contact details and a booked meeting: one Lead, one Task, one alert.
HOT_SCRIPT = REPO / "tests" / "fixtures" / "agent" / "conversation.json"
EXPECTED = REPO / "tests" / "fixtures" / "conversations" / "expected.json"
# A freelancer (team of one, ten contracts a month: not hot, grade D) who wants to cancel: one cancel-risk alert only.
CANCEL_SCRIPT = REPO / "tests" / "fixtures" / "agent" / "cancel_not_hot_conversation.json"
CANCEL_SESSION = "cancel-call-0001"


def run_demo(folder: Path, report_path: Path, *extra: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    report_path.unlink(missing_ok=True)
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
            *extra,
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


@pytest.fixture(scope="module")
def demo_folders(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A folder with the hot script, the cancelling one and every bundled one (any folder of scripts works), and a
    report path."""
    folder = tmp_path_factory.mktemp("conversations")
    shutil.copy(HOT_SCRIPT, folder / "hot.json")
    shutil.copy(CANCEL_SCRIPT, folder / "cancel.json")
    bundled = sorted((REPO / "conversations").glob("*.json"))
    for path in bundled:
        shutil.copy(path, folder / path.name)
    return folder, tmp_path_factory.mktemp("demo") / "report.json"


@pytest.fixture(scope="module")
def demo_run(demo_folders: tuple[Path, Path]) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    return run_demo(*demo_folders)


@pytest.fixture(scope="module")
def second_run(
    demo_folders: tuple[Path, Path], demo_run: tuple[Any, dict[str, Any]]
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """The same demo again, with the same report folder, hence the same emulator state (<report dir>/state/)."""
    return run_demo(*demo_folders)


def test_demo_exits_zero_and_the_report_is_consistent(demo_run: tuple[Any, dict[str, Any]]) -> None:
    result, report = demo_run
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    assert report["problems"] == []
    replayed = report["sessions_replayed"]
    assert replayed == report["distinct_sessions_replayed"] >= 1
    assert report["sessions_exported"] == report["sessions_scored"] == replayed
    assert report["dlq_messages"] == 0
    assert report["quarantined"] == 0
    # One alert per call that is hot or means to cancel: the cancelling caller who is not hot is alerted too.
    alert_due = set(report["hot_session_ids"]) | set(report["cancel_intent_session_ids"])
    assert report["sns_alerts"] == len(alert_due) == len(report["hot_session_ids"]) + 1
    assert report["amplitude_events"] > 0 and report["amplitude"]["duplicates_dropped"] == 0


def test_each_bundled_call_ends_as_its_script_calls_for(demo_run: tuple[Any, dict[str, Any]]) -> None:
    """Hot flag, grade band, Lead and alert of each of the 54 calls, as read from its script (expected.json)."""
    _, report = demo_run
    expected = json.loads(EXPECTED.read_text(encoding="utf-8"))["calls"]
    got = {
        entry["session_id"]: {
            "hot": entry["hot"],
            "grade": entry["grade"],
            "lead": entry["salesforce_lead_id"] is not None,
            "alert": entry["alerted"],
        }
        for entry in report["sessions"]
    }

    assert set(got) == {*expected, "trial-call-0001", CANCEL_SESSION}
    assert {sid: got[sid] for sid in expected} == {
        sid: {field: call[field] for field in ("hot", "grade", "lead", "alert")} for sid, call in expected.items()
    }
    assert got[CANCEL_SESSION] == {"hot": False, "grade": "D", "lead": True, "alert": True}
    # The counts that follow from it: 24 hot calls of 54 plus the hot example; a Task for each of the 46 calls with
    # a Lead, the example and the cancelling freelancer (who revealed a team and a volume); one Lead per person, and
    # the example is demo-call-0001's caller (same email). Two callers mean to cancel: 0054, who is hot (one alert
    # of both types), and the freelancer, who is not (a cancel-risk alert only): 26 alerts.
    assert sum(call["hot"] for call in expected.values()) == 24
    assert report["hot_leads"] == 25 and report["sns_alerts"] == 26
    assert report["cancel_intent_session_ids"] == [CANCEL_SESSION, "demo-call-0054"]
    assert report["alerts_by_type"] == {"hot_lead": 25, "cancel_risk": 2}
    assert report["alerted_session_ids_by_type"]["cancel_risk"] == [CANCEL_SESSION, "demo-call-0054"]
    assert sum(call["lead"] for call in expected.values()) == 46
    assert (report["salesforce"]["leads"], report["salesforce"]["tasks"]) == (47, 48)
    assert report["grades"] == {"A": 5, "B": 11, "C": 19, "D": 21}


INSIGHT_FIELDS = {
    "method",
    "fallback_reason",
    "source",
    "summary",
    "sentiment",
    "topics",
    "competitors",
    "objections",
    "unanswered_questions",
    "next_step",
    "risk",
    "metrics",
    "coaching",
}


def _scored_records(report_path: Path) -> dict[str, dict[str, Any]]:
    """The scored records the demo downloaded beside its report (what `voice-analytics query` reads)."""
    records = {}
    for path in sorted((report_path.parent / "scored").rglob("*.json.gz")):
        document = json.loads(gzip.decompress(path.read_bytes()))
        records[document["session_id"]] = document
    return records


def _tone(overall: float) -> str:
    return "positive" if overall >= 0.05 else "negative" if overall <= -0.05 else "neutral"


def test_every_call_has_insights_and_the_insights_calls_read_as_their_scripts_say(
    demo_folders: tuple[Path, Path], demo_run: tuple[Any, dict[str, Any]]
) -> None:
    """Every scored record has the whole insights block (local provider); the calls written for insights pin theirs
    (expected.json), and the far ends show them: the Task, Amplitude's call event, the alert email."""
    _, report = demo_run
    records = _scored_records(demo_folders[1])
    assert len(records) == report["sessions_scored"]
    for sid, record in records.items():
        assert set(record["insights"]) == INSIGHT_FIELDS, sid
        assert record["insights"]["method"] == "local" and record["insights"]["summary"], sid

    expected = json.loads(EXPECTED.read_text(encoding="utf-8"))["calls"]
    pinned = {sid: call["insights"] for sid, call in expected.items() if "insights" in call}
    assert len(pinned) == 4
    for sid, pins in pinned.items():
        insights = records[sid]["insights"]
        got = {
            "sentiment": _tone(insights["sentiment"]["overall"]),
            "topics": [topic for topic in pins["topics"] if topic in insights["topics"]],
            "competitors": insights["competitors"],
            "next_step": insights["next_step"],
            "cancel_intent": insights["risk"]["cancel_intent"],
            "churn_risk": insights["risk"]["churn_risk"],
            "unanswered_questions": len(insights["unanswered_questions"]),
        }
        assert {field: got[field] for field in pins} == pins, sid

    tasks = {task["Voice_Session_Id__c"]: task for task in report["salesforce"]["records"]["Task"]}
    for sid in pinned:
        assert f"Summary: {records[sid]['insights']['summary']}" in tasks[sid]["Description"], sid
    assert (
        "Unanswered questions:\n- hipaa business associate agreement\n- azure tenant"
        in tasks["demo-call-0053"]["Description"]
    )
    state = json.loads((demo_folders[1].parent / "state" / "amplitude.json").read_text(encoding="utf-8"))
    calls = {
        event["event_properties"]["voice_session_id"]: event["event_properties"]
        for event in state["events"]
        if event["event_type"] == "Voice Call Ended"
    }
    assert calls["demo-call-0051"]["competitors"] == ["docusign"] and calls["demo-call-0051"]["sentiment_overall"] < 0
    cancel = next(email for email in report["emails"] if email["session_id"] == "demo-call-0054")
    assert cancel["subject"].startswith("Hot lead + Cancel risk: ")
    assert cancel["alert_types"] == ["hot_lead", "cancel_risk"]
    assert cancel["body"].splitlines()[2] == records["demo-call-0054"]["insights"]["summary"]
    only_cancel = next(email for email in report["emails"] if email["session_id"] == CANCEL_SESSION)
    assert only_cancel["subject"].startswith("Cancel risk: ") and only_cancel["alert_types"] == ["cancel_risk"]


def test_each_session_entry_carries_the_insights_of_its_scored_record(
    demo_folders: tuple[Path, Path], demo_run: tuple[Any, dict[str, Any]]
) -> None:
    """report.json's sessions copy the insights the report shows (read here from the scored objects themselves)."""
    result, report = demo_run
    records = _scored_records(demo_folders[1])
    for entry in report["sessions"]:
        insights = records[entry["session_id"]]["insights"]
        assert entry["insights"] == {
            "summary": insights["summary"],
            "sentiment": {figure: insights["sentiment"][figure] for figure in ("overall", "start", "end")},
            "topics": insights["topics"],
            "competitors": insights["competitors"],
            "next_step": insights["next_step"],
            "cancel_intent": insights["risk"]["cancel_intent"],
            "unanswered_questions": insights["unanswered_questions"],
        }, entry["session_id"]
    by_id = {entry["session_id"]: entry for entry in report["sessions"]}
    assert by_id["demo-call-0051"]["insights"]["competitors"] == ["docusign"]
    assert by_id["demo-call-0053"]["insights"]["unanswered_questions"] == [
        "hipaa business associate agreement",
        "azure tenant",
    ]
    assert by_id[CANCEL_SESSION]["insights"]["cancel_intent"] and by_id[CANCEL_SESSION]["alert_types"] == [
        "cancel_risk"
    ]
    # The console: alerts per type, and the one-line insights summary.
    assert "26 (hot_lead 25, cancel_risk 2)" in result.stdout
    assert "Insights: sentiment mean " in result.stdout


def test_report_has_one_entry_per_session_that_matches_the_far_ends(demo_run: tuple[Any, dict[str, Any]]) -> None:
    _, report = demo_run
    sessions = report["sessions"]
    assert len(sessions) == report["sessions_scored"]
    for entry in sessions:
        assert {"session_id", "score", "grade", "hot", "salesforce_lead_id", "alerted"} <= entry.keys()
        assert entry["alerted"] == (entry["hot"] or entry["insights"]["cancel_intent"])
        assert 0 <= entry["score"] <= 100
    synced = [entry for entry in sessions if entry["salesforce_lead_id"]]
    assert report["salesforce"]["tasks"] == len(synced)
    assert 1 <= report["salesforce"]["leads"] <= report["salesforce"]["tasks"]
    hot = next(entry for entry in sessions if entry["session_id"] == "trial-call-0001")
    assert hot["hot"] and hot["alerted"] and hot["salesforce_lead_id"]
    latency = report["latency_ms"]
    assert latency["session_end_to_alert"]["count"] == report["sns_alerts"]
    assert latency["session_end_to_salesforce"]["p50"] is not None


def test_emails_and_queries_are_in_the_report_and_on_the_console(demo_run: tuple[Any, dict[str, Any]]) -> None:
    result, report = demo_run
    alert = next(email for email in report["emails"] if email["session_id"] == "trial-call-0001")
    assert alert["subject"].startswith("Hot lead:")
    assert "Session: trial-call-0001" in alert["body"]
    assert "Subject: Hot lead:" in result.stdout
    # The template's named queries (presets), run as of the day of the latest call.
    assert [query["name"] for query in report["queries"]] == list(presets())
    queries = {query["name"]: query for query in report["queries"]}
    coverage = queries["signal coverage"]
    assert sum(row[coverage["columns"].index("calls")] for row in coverage["rows"]) == report["sessions_scored"]
    assert len(queries["usage and cost per call"]["rows"]) == report["sessions_scored"]
    assert "DuckDB: hot leads by day" in result.stdout
    unanswered = {row[0]: row[1] for row in queries["top unanswered questions"]["rows"]}
    assert unanswered["azure tenant"] == unanswered["hipaa business associate agreement"] == 1  # demo-call-0053
    mentions = {row[0]: row[1] for row in queries["competitor mentions"]["rows"]}
    assert mentions["docusign"] >= 1 and mentions["adobe_sign"] >= 1


def test_a_second_run_creates_no_duplicate_salesforce_records_or_amplitude_events(
    demo_run: tuple[Any, dict[str, Any]], second_run: tuple[Any, dict[str, Any]]
) -> None:
    """moto (and so the idempotency table) is fresh each run: only the Salesforce upsert by external id and
    Amplitude's insert_id deduplication, over the emulators' kept state, stand between a rerun and duplicates."""
    _, first = demo_run
    result, second = second_run
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    assert second["problems"] == []
    assert first["state"]["loaded"] == {"salesforce": False, "amplitude": False}
    assert second["state"]["loaded"] == {"salesforce": True, "amplitude": True}

    assert first["salesforce_created_this_run"] == {
        "leads": first["salesforce"]["leads"],
        "tasks": first["salesforce"]["tasks"],
    }
    assert (second["salesforce"]["leads"], second["salesforce"]["tasks"]) == (
        first["salesforce"]["leads"],
        first["salesforce"]["tasks"],
    )
    assert second["salesforce_created_this_run"] == {"leads": 0, "tasks": 0}
    first_ids = {kind: sorted(r["Id"] for r in records) for kind, records in first["salesforce"]["records"].items()}
    second_ids = {kind: sorted(r["Id"] for r in records) for kind, records in second["salesforce"]["records"].items()}
    assert first_ids == second_ids

    assert first["amplitude_duplicates_dropped"] == 0
    assert second["amplitude_events"] == first["amplitude_events"] > 0
    assert second["amplitude"]["stored_this_run"] == 0
    assert second["amplitude_duplicates_dropped"] == second["amplitude"]["received"] > 0
    # Everything else is as consistent as on the first run: each session scored again, one alert per hot lead.
    assert second["sessions_scored"] == first["sessions_scored"]
    assert second["alerts_by_type"] == first["alerts_by_type"] == {"hot_lead": 25, "cancel_risk": 2}
    assert [entry["salesforce_lead_id"] for entry in second["sessions"]] == [
        entry["salesforce_lead_id"] for entry in first["sessions"]
    ]
    assert second["latency_ms"]["session_end_to_salesforce"]["count"] == first["salesforce"]["tasks"]
    assert "continued from the previous run" in result.stdout


def test_the_state_is_saved_beside_the_report_and_fresh_forgets_it(
    demo_folders: tuple[Path, Path], second_run: Any, tmp_path: Path
) -> None:
    _, report_path = demo_folders
    state = report_path.parent / "state"
    assert {path.name for path in state.iterdir()} == {"salesforce.json", "amplitude.json"}
    saved = json.loads((state / "salesforce.json").read_text())
    assert saved["records"]["Lead"] and saved["records"]["Task"]

    # Loading (and --fresh) without a whole demo: the same state files, real emulators.
    shutil.copytree(state, tmp_path / "state")
    for fresh, expected_leads in ((False, len(saved["records"]["Lead"])), (True, 0)):
        demo = Demo([HOT_SCRIPT], tmp_path / "report.json", fresh=fresh)
        with SalesforceEmulator() as salesforce, AmplitudeEmulator() as amplitude:
            demo._load_state(salesforce, amplitude)
            assert len(salesforce.records("Lead")) == expected_leads
            assert bool(amplitude.events) is not fresh
            assert demo.state_loaded == {"salesforce": not fresh, "amplitude": not fresh}
            if not fresh:  # ids continue after the kept ones
                assert salesforce.seed("Lead", {"LastName": "Later", "Company": "Acme"}) not in saved["records"]["Lead"]
