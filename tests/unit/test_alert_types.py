"""The alert types on a real SNS topic and EventBridge bus (moto): who receives a hot-lead alert, who a cancel-risk
alert, with the template's own subscription filter policy and alert rule pattern (read from template.yaml)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from samtranslator.yaml_helper import yaml_parse

from functions.common.events import DETAIL_TYPE, EVENT_SOURCE, LeadScoredDetail
from functions.hot_lead_alert.logic import compose_alert, publish_alert
from tests.unit.calls import ANGRY_WITH_COMPETITOR, CALLER, call_record
from tests.unit.details import detail_of

TEMPLATE = yaml_parse((Path(__file__).resolve().parents[2] / "template.yaml").read_text(encoding="utf-8"))
CANCELLING = [(CALLER, "I want to cancel our subscription at the end of the month.")]
CONTACT = {"name": "Dana Lee", "email": "dana.lee@example.com", "company": "Acme Legal", "preferred_time": "2pm"}


def _detail(sid: str, turns: list[tuple[str, str]], team_size: int) -> LeadScoredDetail:
    return detail_of(call_record(turns, signals={"team_size": team_size}, contact=CONTACT, session_id=sid))


DETAILS = {
    "hot-only": _detail("hot-only", ANGRY_WITH_COMPETITOR, 12),
    "cancel-only": _detail("cancel-only", CANCELLING, 2),
    "hot-and-cancel": _detail("hot-and-cancel", CANCELLING, 40),
    "cold": _detail("cold", ANGRY_WITH_COMPETITOR, 2),
}


@pytest.fixture
def aws(in_process_aws: None) -> None:
    """moto's in-process AWS (tests/unit/conftest.py)."""


def _queue(sqs: Any, name: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def _received(sqs: Any, url: str) -> list[dict[str, Any]]:
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
    return [json.loads(message["Body"]) for message in messages]


def test_a_cancel_risk_subscription_receives_cancel_risks_only_and_an_unfiltered_one_every_alert(aws: None) -> None:
    sns, sqs = boto3.client("sns", region_name="us-east-1"), boto3.client("sqs", region_name="us-east-1")
    topic = sns.create_topic(Name="voice-analytics-hot-leads-test")["TopicArn"]
    subscription = TEMPLATE["Resources"]["CancelRiskEmailSubscription"]["Properties"]
    inboxes = {}
    for name, policy in (
        ("everything", None),
        ("cancel-risk", subscription["FilterPolicy"]),  # the template's own filter
        ("hot-leads", {"alert_type": ["hot_lead"]}),
    ):
        url, arn = _queue(sqs, name)
        attributes = {"RawMessageDelivery": "false"}
        if policy is not None:
            attributes |= {"FilterPolicy": json.dumps(policy), "FilterPolicyScope": subscription["FilterPolicyScope"]}
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes=attributes)
        inboxes[name] = url

    for sid in ("hot-only", "cancel-only", "hot-and-cancel"):
        publish_alert(sns, topic, compose_alert(DETAILS[sid]))

    def sessions(inbox: str) -> list[str]:
        return [message["Message"].rsplit("Session: ", 1)[1].split()[0] for message in _received(sqs, inboxes[inbox])]

    assert sorted(sessions("everything")) == ["cancel-only", "hot-and-cancel", "hot-only"]
    assert sorted(sessions("cancel-risk")) == ["cancel-only", "hot-and-cancel"]
    assert sorted(sessions("hot-leads")) == ["hot-and-cancel", "hot-only"]


def test_the_alert_rule_routes_hot_leads_and_cancel_risks_and_nothing_else(aws: None) -> None:
    events, sqs = boto3.client("events", region_name="us-east-1"), boto3.client("sqs", region_name="us-east-1")
    rule = TEMPLATE["Resources"]["HotLeadAlertRule"]["Properties"]
    url, arn = _queue(sqs, "alerts")
    events.put_rule(Name="alerts", EventPattern=json.dumps(rule["EventPattern"]))
    events.put_targets(Rule="alerts", Targets=[{"Id": "queue", "Arn": arn}])

    for detail in DETAILS.values():
        entry = {"Source": EVENT_SOURCE, "DetailType": DETAIL_TYPE, "Detail": detail.model_dump_json()}
        assert events.put_events(Entries=[entry])["FailedEntryCount"] == 0

    routed = sorted(message["detail"]["session_id"] for message in _received(sqs, url))
    assert routed == ["cancel-only", "hot-and-cancel", "hot-only"]
