"""The demo report's consistency rule for alerts, its insights digest and its console summary (local/demo/report.py).

An alert is due for every session that is hot or whose caller means to cancel, one message per session, carrying
the types that apply (hot_lead_alert's `alert_type` attribute). The reports here are written by hand for the rule;
tests/integration/test_demo.py runs the whole demo with a caller who means to cancel and is not hot.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from rich.console import Console

from local.demo.report import alert_types_of, check_report, insights_digest, insights_line, print_report
from local.demo.run import DemoResult


def digest(overall: float | None, topics: list[str], next_step: str, *, cancel: bool = False) -> dict[str, Any]:
    return {
        "summary": f"a call about {', '.join(topics) or 'nothing'}",
        "sentiment": {"overall": overall, "start": None, "end": None},
        "topics": topics,
        "competitors": [],
        "next_step": next_step,
        "cancel_intent": cancel,
        "unanswered_questions": ["azure tenant"] if next_step == "follow_up" else [],
    }


def session(session_id: str, *, hot: bool, insights: dict[str, Any], alert_types: list[str]) -> dict[str, Any]:
    return {
        "session_id": session_id,
        "score": 80 if hot else 10,
        "grade": "A" if hot else "D",
        "hot": hot,
        "meeting_booked": False,
        "salesforce_lead_id": None,
        "alerted": bool(alert_types),
        "alert_types": alert_types,
        "insights": insights,
    }


def email(session_id: str, types: list[str]) -> dict[str, Any]:
    return {
        "from": "no-reply@sns.amazonaws.com",
        "to": "sales@example.com",
        "subject": f"alert for {session_id}",
        "body": f"Session: {session_id}",
        "session_id": session_id,
        "alert_types": types,
    }


def consistent_report() -> dict[str, Any]:
    """A hot caller, a caller who means to cancel and is NOT hot, and a caller who is neither: two alerts."""
    sessions = [
        session(
            "call-hot", hot=True, insights=digest(0.5, ["pricing", "api"], "meeting_booked"), alert_types=["hot_lead"]
        ),
        session(
            "call-cancel",
            hot=False,
            insights=digest(-0.3, ["pricing"], "follow_up", cancel=True),
            alert_types=["cancel_risk"],
        ),
        session("call-quiet", hot=False, insights=digest(None, [], "none"), alert_types=[]),
    ]
    return {
        "sessions_replayed": 3,
        "distinct_sessions_replayed": 3,
        "sessions_exported": 3,
        "sessions_spooled": [],
        "sessions_scored": 3,
        "unscored_session_ids": [],
        "hot_leads": 1,
        "hot_session_ids": ["call-hot"],
        "cancel_intent_session_ids": ["call-cancel"],
        "alerted_session_ids": ["call-cancel", "call-hot"],
        "alerted_session_ids_by_type": {"hot_lead": ["call-hot"], "cancel_risk": ["call-cancel"]},
        "sns_alerts": 2,
        "alerts_by_type": {"hot_lead": 1, "cancel_risk": 1},
        "alerts_without_type": [],
        "emails": [email("call-hot", ["hot_lead"]), email("call-cancel", ["cancel_risk"])],
        "grades": {"A": 1, "D": 2},
        "salesforce": {"leads": 0, "tasks": 0, "duplicate_task_sessions": []},
        "salesforce_created_this_run": {"leads": 0, "tasks": 0},
        "amplitude_events": 6,
        "amplitude_duplicates_dropped": 0,
        "dlq_messages": 0,
        "dlq_depths": {},
        "quarantined": 0,
        "quarantined_keys": [],
        "quarantined_objects": [],
        "functions": {},
        "latency_ms": {
            "session_end_to_alert": {"p50": 400.0, "p95": 500.0},
            "session_end_to_salesforce": {"p50": 900.0, "p95": 1200.0},
        },
        "timings_s": {"total_s": 12.5},
        "queries": [],
        "sessions": sessions,
    }


def without_alert(report: dict[str, Any], session_id: str) -> dict[str, Any]:
    changed = copy.deepcopy(report)
    types = next(entry for entry in changed["sessions"] if entry["session_id"] == session_id)["alert_types"]
    changed["alerted_session_ids"].remove(session_id)
    for kind in types:
        changed["alerted_session_ids_by_type"][kind].remove(session_id)
        changed["alerts_by_type"][kind] -= 1
    changed["sns_alerts"] -= 1
    return changed


def test_a_caller_with_cancel_intent_who_is_not_hot_makes_a_consistent_report_with_one_cancel_risk_alert() -> None:
    report = consistent_report()

    assert check_report(report) == []
    assert report["alerts_by_type"]["cancel_risk"] == 1


def test_a_caller_with_cancel_intent_and_no_alert_is_reported() -> None:
    report = without_alert(consistent_report(), "call-cancel")

    assert check_report(report) == [
        "alerts do not match hot and cancel-intent calls: 1 alerts for 2 calls (1 hot, 1 with cancel intent; "
        "not alerted: ['call-cancel']; alerted without cause: [])",
        "0 cancel_risk alerts for 1 calls with cancel intent (missing: ['call-cancel']; not due: [])",
    ]


def test_a_hot_lead_with_no_alert_is_reported() -> None:
    report = without_alert(consistent_report(), "call-hot")

    assert check_report(report) == [
        "alerts do not match hot and cancel-intent calls: 1 alerts for 2 calls (1 hot, 1 with cancel intent; "
        "not alerted: ['call-hot']; alerted without cause: [])",
        "0 hot_lead alerts for 1 calls with hot (missing: ['call-hot']; not due: [])",
    ]


def test_an_alert_for_a_call_that_is_neither_hot_nor_cancelling_is_reported() -> None:
    report = consistent_report()
    report["alerted_session_ids"].append("call-quiet")
    report["alerted_session_ids_by_type"]["hot_lead"].append("call-quiet")
    report["alerts_by_type"]["hot_lead"] += 1
    report["sns_alerts"] += 1

    assert check_report(report) == [
        "alerts do not match hot and cancel-intent calls: 3 alerts for 2 calls (1 hot, 1 with cancel intent; "
        "not alerted: []; alerted without cause: ['call-quiet'])",
        "2 hot_lead alerts for 1 calls with hot (missing: []; not due: ['call-quiet'])",
    ]


def test_a_hot_caller_with_cancel_intent_needs_both_types_on_one_alert() -> None:
    report = consistent_report()
    report["cancel_intent_session_ids"] = ["call-cancel", "call-hot"]
    assert check_report(report) == [
        "1 cancel_risk alerts for 2 calls with cancel intent (missing: ['call-hot']; not due: [])"
    ]

    report["alerted_session_ids_by_type"]["cancel_risk"].append("call-hot")
    report["alerts_by_type"]["cancel_risk"] += 1
    assert check_report(report) == []


def test_an_alert_of_a_type_the_call_does_not_raise_is_reported() -> None:
    report = consistent_report()
    report["alerted_session_ids_by_type"]["cancel_risk"].append("call-hot")
    report["alerts_by_type"]["cancel_risk"] += 1

    assert check_report(report) == [
        "2 cancel_risk alerts for 1 calls with cancel intent (missing: []; not due: ['call-hot'])"
    ]


def test_a_second_alert_for_one_session_is_reported() -> None:
    report = consistent_report()
    report["sns_alerts"] += 1
    report["alerts_by_type"]["hot_lead"] += 1

    assert check_report(report) == [
        "alerts do not match hot and cancel-intent calls: 3 alerts for 2 calls (1 hot, 1 with cancel intent; "
        "not alerted: []; alerted without cause: [])",
        "2 hot_lead alerts for 1 calls with hot (missing: []; not due: [])",
    ]


def test_an_alert_without_an_alert_type_attribute_is_reported() -> None:
    report = consistent_report()
    report["alerts_without_type"] = ["call-hot"]

    assert check_report(report) == ["alerts without a known alert_type attribute: ['call-hot']"]


def test_alert_types_are_read_from_the_sns_envelope_as_sqs_receives_it() -> None:
    # SNS renames DataType/StringValue to Type/Value when it delivers to SQS without raw delivery.
    both = {"MessageAttributes": {"alert_type": {"Type": "String.Array", "Value": '["hot_lead", "cancel_risk"]'}}}

    assert alert_types_of(both) == ["hot_lead", "cancel_risk"]
    assert alert_types_of({"Message": "no attributes"}) == []
    assert alert_types_of({"MessageAttributes": {"alert_type": {"Type": "String.Array", "Value": "[broken"}}}) == []
    assert alert_types_of({"MessageAttributes": {"alert_type": {"Type": "String", "Value": '"hot_lead"'}}}) == []


def test_a_session_entry_copies_what_the_report_shows_of_the_insights() -> None:
    record = {
        "session_id": "s-1",
        "insights": {
            "method": "local",
            "summary": "A caller wants to cancel.",
            "sentiment": {"overall": -0.4, "start": -0.1, "end": -0.6, "turns": [{"turn_index": 0, "score": -0.1}]},
            "topics": ["pricing"],
            "competitors": ["docusign"],
            "objections": ["too expensive"],
            "unanswered_questions": ["cheapest plan pricing"],
            "next_step": "follow_up",
            "risk": {"cancel_intent": True, "churn_risk": True, "evidence": ["I want to cancel"]},
            "metrics": {"caller_turns": 3},
            "coaching": [],
        },
    }

    assert insights_digest(record) == {
        "summary": "A caller wants to cancel.",
        "sentiment": {"overall": -0.4, "start": -0.1, "end": -0.6},
        "topics": ["pricing"],
        "competitors": ["docusign"],
        "next_step": "follow_up",
        "cancel_intent": True,
        "unanswered_questions": ["cheapest plan pricing"],
    }
    assert insights_digest({"session_id": "s-2"}) is None
    assert insights_digest({"session_id": "s-3", "insights": {"summary": "x", "risk": {}}})["cancel_intent"] is False


def test_the_insights_line_sums_up_sentiment_topics_next_steps_and_cancel_intent() -> None:
    sessions = consistent_report()["sessions"]

    # Sentiment (0.5 - 0.3) / 2 over the two calls that have one; pricing in two calls, api in one; next steps in
    # the model's order (meeting_booked, follow_up, none).
    assert insights_line(sessions) == (
        "sentiment mean +0.10 over 2 calls (1 negative, 1 positive); top topics: pricing 2, api 1; "
        "next step: meeting_booked 1, follow_up 1, none 1; cancel intent: 1; unanswered questions: 1"
    )
    assert insights_line([{**sessions[0], "insights": None}]) == "no insights in the scored records"


def test_the_console_shows_alerts_per_type_and_the_insights_line(tmp_path: Path) -> None:
    report = consistent_report()
    report["problems"] = check_report(report)
    console = Console(record=True, width=200, color_system=None)

    print_report(console, DemoResult(report=report, report_path=tmp_path / "report.json", html_path=None))

    text = console.export_text()
    assert "alert emails (SNS) by type" in text and "2 (hot_lead 1, cancel_risk 1)" in text
    assert "Insights: sentiment mean +0.10 over 2 calls" in text
    rows = {line.split("│")[1].strip(): line for line in text.splitlines() if line.startswith("│ call-")}
    assert "cancel_risk" in rows["call-cancel"] and "-0.30" in rows["call-cancel"]
    assert "hot_lead" in rows["call-hot"] and "+0.50" in rows["call-hot"]
    assert "Consistent: every session exported and scored, one alert per hot or cancel-intent call" in text
