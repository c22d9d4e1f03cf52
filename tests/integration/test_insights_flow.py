"""Call insights through the whole backend on this machine (tests/integration/pipeline.py: the template's stack on
moto, the Salesforce and Amplitude emulators, the real handlers): score_lead writes them into the scored record and
the event, and the far ends show them: the Salesforce Task, Amplitude's call event, the alert email and its type.
Every scenario ends with its ledger (tests/integration/ledger.py)."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.ledger import every_scenario_closes_a_ledger
from tests.integration.pipeline import Pipeline, running_pipeline, session_id
from tests.unit.calls import AGENT, ANGRY_WITH_COMPETITOR, CALLER, UNANSWERED, UNANSWERED_TOOLS

pytestmark = pytest.mark.integration

STAGE = "insights"
# The unhappy caller who names DocuSign, and then the questions the agent could not answer (two searches failed).
TURNS = [*ANGRY_WITH_COMPETITOR, (AGENT, "Is there anything else?"), *UNANSWERED]
CANCELLING = [
    (CALLER, "I'm calling to cancel our subscription, it's just me using it."),
    (AGENT, "I'm sorry to hear that. May I ask why?"),
    (CALLER, "We're moving to Dropbox Sign. Please send me a confirmation."),
]


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    with running_pipeline(STAGE, tmp_path_factory.mktemp("insights-logs")) as running:
        yield running


@pytest.fixture(autouse=True)
def ledgers(pipeline: Pipeline) -> Iterator[None]:
    with every_scenario_closes_a_ledger(pipeline.ledgers):
        yield


def transcript(turns: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "transcript": [{"index": i, "role": role, "text": text} for i, (role, text) in enumerate(turns)],
        "user_turns": sum(role == CALLER for role, _ in turns),
    }


def scored_insights(pipeline: Pipeline, sid: str) -> dict[str, Any]:
    [key] = pipeline.scored(sid)
    body = pipeline.s3.get_object(Bucket=pipeline.bucket, Key=key)["Body"].read()
    document: dict[str, Any] = json.loads(gzip.decompress(body))
    return document["insights"]  # type: ignore[no-any-return]


def call_event(pipeline: Pipeline, sid: str) -> dict[str, Any]:
    [event] = [
        event
        for event in pipeline.amplitude.events
        if event["event_type"] == "Voice Call Ended" and event["event_properties"]["voice_session_id"] == sid
    ]
    return event


def test_the_task_the_call_event_and_the_alert_carry_the_calls_insights(pipeline: Pipeline) -> None:
    ledger = pipeline.ledger()
    sid = session_id("insight")
    pipeline.put_session(sid, tool_calls=UNANSWERED_TOOLS, **transcript(TURNS))
    pipeline.drain()

    insights = scored_insights(pipeline, sid)
    assert insights["method"] == "local" and insights["competitors"] == ["docusign"]
    assert "pricing" in insights["topics"] and insights["sentiment"]["overall"] < 0
    assert insights["unanswered_questions"][:2] == ["hipaa business associate agreement", "azure tenant storage"]
    assert insights["next_step"] == "follow_up" and len(insights["sentiment"]["turns"]) == 7

    [task] = pipeline.tasks(sid)
    description = task["Description"]
    assert f"Summary: {insights['summary']}" in description
    assert "Next step: follow up" in description
    assert "Unanswered questions:\n- hipaa business associate agreement\n- azure tenant storage" in description
    assert "Objections:" in description and "ridiculous" in description

    properties = call_event(pipeline, sid)["event_properties"]
    assert properties["sentiment_overall"] == insights["sentiment"]["overall"]
    assert properties["topics"] == insights["topics"] and properties["competitors"] == ["docusign"]
    assert properties["next_step"] == "follow_up" and properties["unanswered_questions"] == 3
    assert insights["summary"] not in json.dumps(properties)

    [alert] = pipeline.alerts(sid)
    assert alert["Message"].splitlines()[:3] == [alert["Message"].splitlines()[0], "", insights["summary"]]
    assert alert["Subject"].startswith("Hot lead: ")
    assert json.loads(alert["MessageAttributes"]["alert_type"]["Value"]) == ["hot_lead"]

    ledger.effects(sid, events=4)  # call ended, lead scored and the two searches: no meeting
    ledger.close()


def test_a_caller_with_cancel_intent_who_is_not_hot_gets_a_cancel_risk_alert(pipeline: Pipeline) -> None:
    ledger = pipeline.ledger()
    sid = session_id("cancel")
    pipeline.put_session(sid, signals={"team_size": 1}, tool_calls=[], **transcript(CANCELLING))
    pipeline.drain()

    insights = scored_insights(pipeline, sid)
    assert insights["risk"]["cancel_intent"] is True and insights["competitors"] == ["dropbox_sign"]
    [alert] = pipeline.alerts(sid)
    assert alert["Subject"].startswith("Cancel risk: ")
    assert json.loads(alert["MessageAttributes"]["alert_type"]["Value"]) == ["cancel_risk"]
    assert "Risk: the caller intends to cancel" in alert["Message"]
    assert call_event(pipeline, sid)["event_properties"]["cancel_intent"] is True

    ledger.effects(sid, hot=False, alerted=True, events=2)
    ledger.close()
