"""salesforce_sync: one Lead per person (upsert by lead key) and one Task per call (upsert by session id), for a
whole batch of sessions in sObject Collections calls: one for the Leads, one for the Tasks (more only over 200
sessions, or when Salesforce refuses the Lead of a caller with two calls in the batch)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from functions.common.events import LeadScoredDetail
from functions.common.failures import PermanentFailure, RetryableFailure
from functions.common.insights import SUMMARY_CHARS
from functions.common.record_parts import Industry  # not from record: see record_parts (cold start)
from functions.common.salesforce import SalesforceCallError, SalesforceGateway, UpsertResult
from functions.common.sanitise import plain_text, single_line, truncate
from functions.common.settings import SalesforceSyncSettings

# Salesforce field lengths (standard fields, and the custom fields docs/backend.md asks admins to create).
LEAD_LIMITS = {
    "FirstName": 40,
    "LastName": 80,
    "Company": 255,
    "Email": 80,
    "LeadSource": 40,
    "Description": 32000,
    "Industry": 40,
}
TASK_LIMITS = {"Subject": 255, "Description": 32000}
GRADE_LENGTH = 1
SESSION_ID_LENGTH = 128
INTEGRATIONS_LENGTH = 255
# Each line the insights add to a description: one line, this long at most (the summary: its own limit, 700).
INSIGHT_LINE_LENGTH = 300
UNKNOWN_LAST_NAME = "Unknown caller"
UNKNOWN_COMPANY = "Unknown company"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

# Our industries mapped to the standard Lead Industry picklist; the exact value is in the description.
SALESFORCE_INDUSTRY = {
    Industry.HEALTHCARE: "Healthcare",
    Industry.FINANCE: "Finance",
    Industry.INSURANCE: "Insurance",
    Industry.EDUCATION: "Education",
    Industry.CONSTRUCTION: "Construction",
    Industry.TECHNOLOGY: "Technology",
    Industry.MANUFACTURING: "Manufacturing",
    Industry.NONPROFIT: "Not For Profit",
    Industry.GOVERNMENT: "Government",
    Industry.HOSPITALITY: "Hospitality",
    Industry.RETAIL: "Retail",
}


@dataclass(frozen=True)
class SyncOutcome:
    synced: bool
    lead_id: str | None = None
    task_id: str | None = None
    lead_created: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def should_sync(detail: LeadScoredDetail) -> bool:
    """Sales wants a session when the caller left contact details, booked a meeting, or revealed a signal."""
    contact = detail.contact
    has_contact = contact is not None and any([contact.email, contact.name, contact.company])
    return has_contact or detail.meeting.booked or detail.signals.any


def split_name(name: str | None) -> tuple[str | None, str]:
    """("Dana Lee") -> ("Dana", "Lee"); one word is a last name; no name is the required-field fallback."""
    words = single_line(name or "").split(" ")
    words = [word for word in words if word]
    if not words:
        return None, UNKNOWN_LAST_NAME
    if len(words) == 1:
        return None, words[0]
    return " ".join(words[:-1]), words[-1]


def valid_email(email: str | None) -> str | None:
    """An email Salesforce will accept, or None (a spoken address can be garbled; it stays in the description)."""
    if not email:
        return None
    cleaned = email.strip()
    return cleaned if len(cleaned) <= LEAD_LIMITS["Email"] and _EMAIL.match(cleaned) else None


def describe_insights(detail: LeadScoredDetail) -> list[str]:
    """The call's insights as a rep reads them: summary, next step, objections, unanswered questions, risk."""
    insights = detail.insights
    if insights is None:
        return []

    def line(text: str) -> str:
        return _text(text, INSIGHT_LINE_LENGTH)

    next_step = {"meeting_booked": "meeting booked", "follow_up": "follow up", "none": "none agreed"}
    lines = [
        f"Summary: {_text(insights.summary, SUMMARY_CHARS)}",
        f"Next step: {next_step[insights.next_step]}",
    ]
    if insights.risk.cancel_intent or insights.risk.churn_risk:
        risk = "CANCEL INTENT" if insights.risk.cancel_intent else "churn risk"
        evidence = "; ".join(f'"{item}"' for item in insights.risk.evidence)
        lines.append(line(f"Risk: {risk}" + (f" ({evidence})" if evidence else "")))
    if insights.objections:
        lines += ["Objections:", *[f"- {line(item)}" for item in insights.objections]]
    if insights.unanswered_questions:
        lines += ["Unanswered questions:", *[f"- {line(item)}" for item in insights.unanswered_questions]]
    overall = insights.sentiment.overall
    mood = f"sentiment {overall:+.2f}" if overall is not None else "sentiment not scored"
    about = ", ".join([*insights.topics, *insights.competitors]) or "-"
    lines.append(line(f"Call: {mood}; topics and competitors: {about}; insights by {insights.method}"))
    return [*lines, ""]


def describe(detail: LeadScoredDetail) -> str:
    """The text a rep reads on the Lead and the Task: the call's summary and next step first, then score,
    reasons, quotes, meeting, where the record is."""
    started = detail.started_at.strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"Voice agent call {detail.session_id} on {started} ({round(detail.duration_s)} s, {detail.end_reason.value})",
        f"Score {detail.score}/100, grade {detail.grade}{', HOT LEAD' if detail.hot else ''}",
        "",
        *describe_insights(detail),
        "Why:",
        *[f"- {reason}" for reason in detail.reasons],
    ]
    if detail.signals.evidence:
        lines += ["", "What the caller said:"]
        lines += [f'- {item.field} = {item.value}: "{item.quote}"' for item in detail.signals.evidence]
    if detail.signals.industry is not None:
        lines.append(f"Industry: {detail.signals.industry.value}")
    contact = detail.contact
    if contact is not None:
        lines += ["", f"Contact given: {contact.name or '-'}, {contact.email or '-'}, {contact.company or '-'}"]
    meeting = detail.meeting
    if meeting.booked:
        lines.append(
            f"Meeting booked: yes ({meeting.meeting_id or 'no id'}, preferred {meeting.preferred_time or '-'})"
        )
    else:
        lines.append("Meeting booked: no")
    if detail.tool_call_counts:
        lines.append("Tools used: " + ", ".join(f"{name} x{count}" for name, count in detail.tool_call_counts.items()))
    lines.append(f"Session record: {detail.session_object.uri}")
    return plain_text("\n".join(lines))


def _text(value: str, limit: int) -> str:
    return truncate(single_line(value), limit)


def lead_fields(detail: LeadScoredDetail, settings: SalesforceSyncSettings) -> dict[str, Any]:
    """The Lead's fields, truncated to Salesforce lengths, with fallbacks for the required ones."""
    contact = detail.contact
    first_name, last_name = split_name(contact.name if contact else None)
    company = contact.company if contact and contact.company and contact.company.strip() else UNKNOWN_COMPANY
    fields: dict[str, Any] = {
        "LastName": _text(last_name, LEAD_LIMITS["LastName"]),
        "Company": _text(company, LEAD_LIMITS["Company"]),
        "LeadSource": _text(settings.salesforce_lead_source, LEAD_LIMITS["LeadSource"]),
        "Description": truncate(describe(detail), LEAD_LIMITS["Description"]),
        settings.salesforce_score_field: detail.score,
        settings.salesforce_grade_field: detail.grade[:GRADE_LENGTH],
        settings.salesforce_hot_field: detail.hot,
        settings.salesforce_last_session_field: detail.session_id[:SESSION_ID_LENGTH],
    }
    if first_name:
        fields["FirstName"] = _text(first_name, LEAD_LIMITS["FirstName"])
    email = valid_email(contact.email if contact else None)
    if email:
        fields["Email"] = email
    signals = detail.signals
    if signals.team_size is not None:
        fields["NumberOfEmployees"] = signals.team_size
    if signals.monthly_volume is not None:
        fields[settings.salesforce_monthly_volume_field] = signals.monthly_volume
    if signals.integrations:
        fields[settings.salesforce_integrations_field] = _text(", ".join(signals.integrations), INTEGRATIONS_LENGTH)
    if signals.industry is not None:
        fields["Industry"] = SALESFORCE_INDUSTRY.get(signals.industry, "Other")
    return fields


def task_fields(detail: LeadScoredDetail, lead_id: str) -> dict[str, Any]:
    """The call as a completed Task on the Lead."""
    company = detail.contact.company if detail.contact and detail.contact.company else "caller"
    subject = f"Voice call: {company} - grade {detail.grade}, score {detail.score}{' (hot)' if detail.hot else ''}"
    return {
        "Subject": _text(subject, TASK_LIMITS["Subject"]),
        "Description": truncate(describe(detail), TASK_LIMITS["Description"]),
        "WhoId": lead_id,
        "Status": "Completed",
        "Priority": "High" if detail.hot else "Normal",
        "ActivityDate": detail.started_at.date().isoformat(),
        "Type": "Call",
        "CallDurationInSeconds": round(detail.duration_s),
    }


# What a batch gives each session: its outcome, or the failure to report for it (to the DLQ, or retried by SQS).
SessionResult = SyncOutcome | PermanentFailure | RetryableFailure


def calls_by_caller(details: Sequence[LeadScoredDetail]) -> list[list[LeadScoredDetail]]:
    """The sessions grouped by caller (lead key, case-insensitive), each caller's calls oldest first, the callers in
    the order of their first call."""
    by_key: dict[str, list[LeadScoredDetail]] = {}
    for detail in sorted(details, key=lambda one: (one.started_at, one.session_id)):
        by_key.setdefault(detail.lead_key.lower(), []).append(detail)
    return list(by_key.values())


def lead_rounds(details: Sequence[LeadScoredDetail]) -> list[list[LeadScoredDetail]]:
    """The sessions in rounds of Lead upserts: round k holds the k-th call (oldest first) of each caller in the batch.

    Salesforce fails every record of a collection upsert whose external id appears twice in the request
    (DUPLICATE_VALUE), so two calls of one caller upserted on their own go into two requests, oldest first: the Lead
    ends as the latest call left it, as one upsert per call in that order would."""
    callers = calls_by_caller(details)
    depth = max((len(calls) for calls in callers), default=0)
    return [[calls[index] for calls in callers if index < len(calls)] for index in range(depth)]


def lead_record(calls: Sequence[LeadScoredDetail], settings: SalesforceSyncSettings) -> dict[str, Any]:
    """One Lead record for a caller's calls, oldest first: each call's fields over the older ones', which is the Lead
    one upsert per call in that order would leave (an upsert sets the fields it carries and keeps the others)."""
    fields: dict[str, Any] = {}
    for detail in calls:
        fields.update(lead_fields(detail, settings))
    return {**fields, settings.salesforce_lead_key_field: calls[-1].lead_key}


def sync_batch(
    details: Sequence[LeadScoredDetail], gateway: SalesforceGateway, settings: SalesforceSyncSettings
) -> dict[str, SessionResult]:
    """Upsert the Leads of the sessions worth syncing, then the Tasks of those whose Lead is there; the result of
    each session by its id. A record Salesforce refuses fails its own session only: PermanentFailure for a refusal
    (a validation error), RetryableFailure for a passing one (a locked row, a limit, a whole call that failed).
    Each session id at most once.

    The Leads go in one call with one record per caller (`lead_record`), so a batch costs two calls even when a
    caller called twice. When Salesforce refuses the Lead of a caller with several calls, any one call's fields may
    be the reason, so that caller's calls are upserted again one at a time (`lead_rounds`): each fails or succeeds
    on its own, as if it had come alone."""
    if len({detail.session_id for detail in details}) != len(details):
        raise ValueError("sync_batch takes each session once: a session delivered twice is synced by one message")
    results: dict[str, SessionResult] = {}
    wanted = [detail for detail in details if should_sync(detail)]
    results.update({detail.session_id: SyncOutcome(synced=False) for detail in details if not should_sync(detail)})
    key_field = settings.salesforce_lead_key_field
    callers = calls_by_caller(wanted)
    refused: dict[str, SessionResult] = {}
    merged = _upsert(
        gateway,
        "Lead",
        key_field,
        [lead_record(calls, settings) for calls in callers],
        [calls[-1] for calls in callers],  # a caller's record answers for its latest call
        refused,
    )
    leads: dict[str, UpsertResult] = {}
    one_at_a_time: list[LeadScoredDetail] = []
    for calls in callers:
        answer = merged.get(calls[-1].session_id)
        if answer is not None:
            # The Lead was created (if at all) by the caller's first call; the later ones updated it.
            leads.update(
                {
                    detail.session_id: answer.model_copy(update={"created": answer.created and detail is calls[0]})
                    for detail in calls
                }
            )
        elif len(calls) > 1 and isinstance(refused[calls[-1].session_id], PermanentFailure):
            one_at_a_time.extend(calls)
        else:
            results.update({detail.session_id: refused[calls[-1].session_id] for detail in calls})
    for round_ in lead_rounds(one_at_a_time):
        records = [lead_record([detail], settings) for detail in round_]
        leads.update(_upsert(gateway, "Lead", key_field, records, round_, results))
    with_lead = [detail for detail in wanted if detail.session_id in leads]
    tasks = _upsert(
        gateway,
        "Task",
        settings.salesforce_task_key_field,
        [
            {
                **task_fields(detail, str(leads[detail.session_id].record_id)),
                settings.salesforce_task_key_field: detail.session_id,
            }
            for detail in with_lead
        ],
        with_lead,
        results,
    )
    for detail in with_lead:
        task = tasks.get(detail.session_id)
        if task is not None:
            lead = leads[detail.session_id]
            results[detail.session_id] = SyncOutcome(
                synced=True, lead_id=lead.record_id, task_id=task.record_id, lead_created=lead.created
            )
    return results


def _upsert(
    gateway: SalesforceGateway,
    sobject: str,
    key_field: str,
    records: list[dict[str, Any]],
    details: list[LeadScoredDetail],
    failures: dict[str, SessionResult],
) -> dict[str, UpsertResult]:
    """One collection upsert (per 200) of `records`, one per session of `details`: the successful results by session
    id; each session whose record failed, or whose call failed as a whole, gets its failure in `failures`."""
    if not records:
        return {}
    try:
        answers = gateway.upsert_collection(sobject, key_field, records)
    except SalesforceCallError as error:
        for detail in details:
            failures[detail.session_id] = _failure(detail, f"{error}", retryable=error.retryable)
        return {}
    succeeded = {}
    for detail, answer in zip(details, answers, strict=True):
        if answer.success and answer.record_id:
            succeeded[detail.session_id] = answer
        else:
            what = f"{sobject} upsert by {key_field} refused: {answer.describe()}"
            failures[detail.session_id] = _failure(detail, what, retryable=answer.retryable)
    return succeeded


def _failure(detail: LeadScoredDetail, what: str, *, retryable: bool) -> PermanentFailure | RetryableFailure:
    if retryable:
        return RetryableFailure(f"Salesforce: {what}; will retry")
    return PermanentFailure(f"Salesforce rejected session {detail.session_id}: {what}", detail.session_id)
