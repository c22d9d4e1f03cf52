"""hot_lead_alert: a readable SNS message for a hot lead, so a rep can call back within minutes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from functions.common.events import LeadScoredDetail
from functions.common.sanitise import plain_text, sns_subject

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient

NOT_GIVEN = "not given"


@dataclass(frozen=True)
class Alert:
    subject: str
    body: str
    grade: str
    score: int


def compose_alert(detail: LeadScoredDetail) -> Alert:
    """Subject: ASCII, one line, under 100 characters. Body: who, how to reach them, why, and what was said."""
    contact = detail.contact
    name = (contact.name if contact else None) or NOT_GIVEN
    company = (contact.company if contact else None) or NOT_GIVEN
    email = (contact.email if contact else None) or NOT_GIVEN
    who = company if company != NOT_GIVEN else name if name != NOT_GIVEN else "unknown caller"
    subject = sns_subject(f"Hot lead: {who} - grade {detail.grade}, score {detail.score}")
    signals = detail.signals
    meeting = detail.meeting
    lines = [
        f"HOT LEAD - grade {detail.grade}, score {detail.score}/100",
        "",
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
        "Why it is hot:",
        *[f"- {reason}" for reason in detail.reasons],
    ]
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
    return Alert(subject=subject, body=plain_text("\n".join(lines)), grade=detail.grade, score=detail.score)


def publish_alert(sns: SNSClient, topic_arn: str, alert: Alert) -> str:
    """Publish with `grade` and `score` attributes so subscriptions can filter (e.g. only grade A)."""
    response = sns.publish(
        TopicArn=topic_arn,
        Subject=alert.subject,
        Message=alert.body,
        MessageAttributes={
            "grade": {"DataType": "String", "StringValue": alert.grade},
            "score": {"DataType": "Number", "StringValue": str(alert.score)},
        },
    )
    return response["MessageId"]
