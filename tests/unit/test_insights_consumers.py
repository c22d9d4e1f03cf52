"""What the three consumers make of the insights in a "Lead Scored" detail: the Salesforce description, the
Amplitude call event, the alert email and its type."""

from __future__ import annotations

import json
from typing import Any

from functions.amplitude_events.logic import CALL_ENDED, build_events
from functions.common.insights import SUMMARY_CHARS
from functions.common.settings import SalesforceSyncSettings
from functions.hot_lead_alert.logic import alert_types, compose_alert
from functions.salesforce_sync.logic import lead_fields, task_fields
from tests.unit.calls import (
    ANGRY_WITH_COMPETITOR,
    CALLER,
    UNANSWERED,
    UNANSWERED_TOOLS,
    call_record,
    search,
)
from tests.unit.details import detail_of

CANCELLING = [
    (CALLER, "We're a team of three and I want to cancel our subscription, the sync keeps failing."),
    (CALLER, "We're moving to Dropbox Sign. Please send me a confirmation."),
]
CONTACT = {"name": "Dana Lee", "email": "dana.lee@example.com", "company": "Acme Legal", "preferred_time": "2pm"}


def _angry() -> Any:
    return detail_of(call_record(ANGRY_WITH_COMPETITOR, tools=[search("pricing", "pricing")], contact=CONTACT))


def test_the_task_description_carries_summary_next_step_objections_and_unanswered_questions() -> None:
    detail = detail_of(call_record(UNANSWERED, tools=UNANSWERED_TOOLS, contact=CONTACT))
    insights = detail.insights
    assert insights is not None

    description = task_fields(detail, "00Q000000000001AAA")["Description"]

    lines = description.splitlines()
    assert lines[3] == f"Summary: {insights.summary}"  # right under the score line
    assert "Next step: follow up" in lines
    assert lines[lines.index("Unanswered questions:") + 1 :][:3] == [
        "- hipaa business associate agreement",
        "- azure tenant storage",
        "- And can we set our own retention period?",
    ]
    assert description == lead_fields(detail, SalesforceSyncSettings())["Description"]


def test_the_description_lists_objections_and_the_churn_risk_with_its_evidence() -> None:
    description = task_fields(_angry(), "00Q000000000001AAA")["Description"]

    assert "Objections:" in description and "ridiculous" in description
    assert 'Risk: churn risk ("' in description
    assert "topics and competitors: pricing" in description and "docusign" in description


def test_insights_lines_in_the_description_are_single_lines_of_bounded_length_without_control_characters() -> None:
    hostile = "\u202eevil\u202c " + "word " * 100
    detail = _angry()
    assert detail.insights is not None
    insights = detail.insights.model_copy(
        update={"summary": f"first line\nsecond line\t{hostile}"[:700], "objections": [f"a\r\nb {hostile}"[:200]]}
    )
    description = task_fields(detail.model_copy(update={"insights": insights}), "00Q")["Description"]

    [summary] = [line for line in description.splitlines() if line.startswith("Summary:")]
    assert summary.startswith("Summary: first line second line evil word")
    assert len(summary) <= len("Summary: ") + SUMMARY_CHARS
    assert "\u202e" not in description and "\r" not in description and "\t" not in description
    assert "- a b evil word" in description


def test_a_detail_without_insights_is_described_as_before() -> None:
    description = task_fields(detail_of(call_record(ANGRY_WITH_COMPETITOR), with_insights=False), "00Q")["Description"]

    assert "Summary:" not in description and "Next step:" not in description and "Why:" in description


def test_the_call_event_gets_sentiment_topics_and_competitors_and_nothing_personal() -> None:
    detail = _angry()
    assert detail.insights is not None

    [call] = [event for event in build_events(detail, "k" * 40) if event.event_type == CALL_ENDED]

    properties = call.event_properties
    assert properties["sentiment_overall"] == detail.insights.sentiment.overall < 0
    assert properties["sentiment_start"] == detail.insights.sentiment.start
    assert properties["sentiment_end"] == detail.insights.sentiment.end
    assert properties["topics"] == detail.insights.topics and "pricing" in properties["topics"]
    assert properties["competitors"] == ["docusign"]
    assert properties["next_step"] == "follow_up" and properties["churn_risk"] is True  # contact details left
    sent = json.dumps([event.event_properties for event in build_events(detail, "k" * 40)])
    for text in [detail.insights.summary, *detail.insights.objections, *detail.insights.risk.evidence]:
        assert text not in sent  # the caller's words stay out of product analytics


def test_the_alert_email_leads_with_the_summary() -> None:
    detail = detail_of(call_record(ANGRY_WITH_COMPETITOR, signals={"team_size": 12}, contact=CONTACT))
    assert detail.hot and detail.insights is not None

    alert = compose_alert(detail)

    assert alert.body.splitlines()[:3] == ["HOT LEAD - grade C, score 25/100", "", detail.insights.summary]
    assert alert.types == ("hot_lead",) and alert.subject.startswith("Hot lead: Acme Legal")
    assert "Next step: follow up" in alert.body


def test_a_caller_with_cancel_intent_who_is_not_hot_raises_a_cancel_risk_alert() -> None:
    detail = detail_of(call_record(CANCELLING, signals={"team_size": 3}, contact=CONTACT))
    assert not detail.hot and detail.cancel_risk

    alert = compose_alert(detail)

    assert alert_types(detail) == alert.types == ("cancel_risk",)
    assert alert.subject == "Cancel risk: Acme Legal - grade D, score 15"
    lines = alert.body.splitlines()
    assert lines[0] == "CANCEL RISK - grade D, score 15/100"
    assert "Risk: the caller intends to cancel" in lines
    assert '- "We\'re moving to Dropbox Sign."' in lines
    assert "Score reasons:" in lines and "Why it is hot:" not in lines


def test_a_hot_caller_with_cancel_intent_raises_one_alert_of_both_types() -> None:
    detail = detail_of(call_record(CANCELLING, signals={"team_size": 30}, contact=CONTACT))

    alert = compose_alert(detail)

    assert alert.types == ("hot_lead", "cancel_risk")
    assert alert.subject.startswith("Hot lead + Cancel risk: Acme Legal")


def test_a_cold_caller_without_cancel_intent_raises_no_alert() -> None:
    assert alert_types(detail_of(call_record(ANGRY_WITH_COMPETITOR, signals={"team_size": 2}))) == ()
