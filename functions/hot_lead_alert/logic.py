"""hot_lead_alert: a readable SNS message for a hot lead or a caller about to cancel, so someone can call back
within minutes.

Two alert types share the topic: `hot_lead` (sales: a team or volume over the thresholds) and `cancel_risk`
(customer success: the caller said they will cancel or not renew). One message per session, whose `alert_type`
attribute (String.Array) lists the types that apply, so a subscription's filter policy `{"alert_type":
["cancel_risk"]}` receives cancel risks only, hot or not, and `{"alert_type": ["hot_lead"]}` hot leads only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from functions.common.events import LeadScoredDetail
from functions.common.sanitise import plain_text, sns_subject

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient

NOT_GIVEN = "not given"
AlertType = Literal["hot_lead", "cancel_risk"]
TITLES: dict[AlertType, str] = {"hot_lead": "Hot lead", "cancel_risk": "Cancel risk"}


@dataclass(frozen=True)
class Alert:
    subject: str
    body: str
    grade: str
    score: int
    types: tuple[AlertType, ...] = ("hot_lead",)


def alert_types(detail: LeadScoredDetail) -> tuple[AlertType, ...]:
    """The alert types a session raises: hot_lead when hot, cancel_risk when the caller means to cancel."""
    types: list[AlertType] = []
    if detail.hot:
        types.append("hot_lead")
    if detail.cancel_risk:
        types.append("cancel_risk")
    return tuple(types)


def compose_alert(detail: LeadScoredDetail) -> Alert:
    """Subject: ASCII, one line, under 100 characters. Body: the call's summary first, then who, how to reach
    them, why, and what was said."""
    types = alert_types(detail) or ("hot_lead",)
    contact = detail.contact
    name = (contact.name if contact else None) or NOT_GIVEN
    company = (contact.company if contact else None) or NOT_GIVEN
    email = (contact.email if contact else None) or NOT_GIVEN
    who = company if company != NOT_GIVEN else name if name != NOT_GIVEN else "unknown caller"
    title = " + ".join(TITLES[kind] for kind in types)
    subject = sns_subject(f"{title}: {who} - grade {detail.grade}, score {detail.score}")
    signals = detail.signals
    meeting = detail.meeting
    insights = detail.insights
    lines = [f"{title.upper()} - grade {detail.grade}, score {detail.score}/100", ""]
    if insights is not None:
        lines += [insights.summary, ""]
        if insights.risk.cancel_intent or insights.risk.churn_risk:
            risk = "the caller intends to cancel" if insights.risk.cancel_intent else "the caller may churn"
            lines.append(f"Risk: {risk}")
            lines += [f'- "{item}"' for item in insights.risk.evidence]
            lines.append("")
    lines += [
        f"Who:      {name}",
        f"Company:  {company}",
        f"Email:    {email}",
        "Phone:    not collected (the caller's number is kept only as a hash)",
        "",
        "Meeting booked: "
        + (
            f"yes, {meeting.preferred_time or 'time not given'} (id {meeting.meeting_id or '-'})"
            if meeting.booked
            else "no"
        ),
        f"Call:     {detail.started_at:%Y-%m-%d %H:%M} UTC, {round(detail.duration_s)} s, {detail.end_reason.value}",
        "",
        "Why it is hot:" if detail.hot else "Score reasons:",
        *[f"- {reason}" for reason in detail.reasons],
    ]
    if insights is not None:
        lines.append(f"Next step: {insights.next_step.replace('_', ' ')}")
        if insights.unanswered_questions:
            lines += ["Unanswered questions:", *[f"- {item}" for item in insights.unanswered_questions]]
    facts = [
        ("Team size", signals.team_size),
        ("Documents a month", signals.monthly_volume),
        ("Integrations", ", ".join(signals.integrations) or None),
        ("Urgency", signals.urgency),
        ("Industry", signals.industry.value if signals.industry else None),
    ]
    known = [f"- {label}: {value}" for label, value in facts if value is not None]
    if known:
        lines += ["", "What we know:", *known]
    if signals.evidence:
        lines += ["", "In the caller's words:"]
        lines += [f'- "{item.quote}" ({item.field})' for item in signals.evidence]
    lines += [
        "",
        f"Session: {detail.session_id}",
        f"Record:  {detail.session_object.uri}",
        f"Scored:  {detail.scored_object.uri}",
    ]
    return Alert(
        subject=subject, body=plain_text("\n".join(lines)), grade=detail.grade, score=detail.score, types=types
    )


def publish_alert(sns: SNSClient, topic_arn: str, alert: Alert) -> str:
    """Publish with `alert_type`, `grade` and `score` attributes so subscriptions can filter (e.g. cancel risks
    only, or grade A only)."""
    response = sns.publish(
        TopicArn=topic_arn,
        Subject=alert.subject,
        Message=alert.body,
        MessageAttributes={
            "alert_type": {"DataType": "String.Array", "StringValue": json.dumps(list(alert.types))},
            "grade": {"DataType": "String", "StringValue": alert.grade},
            "score": {"DataType": "Number", "StringValue": str(alert.score)},
        },
    )
    return response["MessageId"]
