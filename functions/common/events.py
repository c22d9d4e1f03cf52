"""The "Lead Scored" event: what score_lead puts on the project's bus and every consumer parses.

The detail carries everything the three consumers need, so none of them reads S3; it is capped well
under EventBridge's 256 KB limit (quotes and lists are truncated, see `MAX_DETAIL_BYTES`).
"""

# No `from __future__ import annotations` (pydantic models: see functions/common/record_parts.py).

import hashlib
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Literal

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from functions.common.failures import PermanentFailure
from functions.common.insights import Insights
from functions.common.record_parts import Contact, EndReason, Industry, describe_validation_error  # see record_parts
from functions.common.scoring import Grade, LeadScore, ScoringMethod, booked_meeting, is_knowledge_search

if TYPE_CHECKING:
    from functions.common.record import SessionRecord

EVENT_SOURCE = "voice-analytics.scoring"
DETAIL_TYPE = "Lead Scored"
DETAIL_SCHEMA_VERSION: Literal["1"] = "1"
# Our own budget, guaranteed by the caps below (a test builds the largest detail); EventBridge allows 256 KB.
MAX_DETAIL_BYTES = 64 * 1024
MAX_EVIDENCE = 20
MAX_TOOL_CALLS = 50
MAX_INTEGRATIONS = 20
QUOTE_CHARS = 200


class _Detail(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class S3Location(_Detail):
    bucket: str
    key: str
    version_id: str | None = None

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


class EvidenceQuote(_Detail):
    field: str
    value: int | str | None
    turn_index: int
    quote: Annotated[str, Field(max_length=QUOTE_CHARS)]


class SignalSummary(_Detail):
    team_size: int | None = None
    monthly_volume: int | None = None
    integrations: list[str] = Field(default_factory=list)
    urgency: str | None = None
    industry: Industry | None = None
    evidence: Annotated[list[EvidenceQuote], Field(max_length=MAX_EVIDENCE)] = Field(default_factory=list)

    @property
    def any(self) -> bool:
        return bool(
            self.team_size is not None
            or self.monthly_volume is not None
            or self.integrations
            or self.urgency
            or self.industry is not None
        )


class ToolCallSummary(_Detail):
    name: str
    started_at: AwareDatetime
    duration_ms: float
    success: bool
    error: Annotated[str, Field(max_length=QUOTE_CHARS)] | None = None
    # The search query of a knowledge search, for product analytics; None for other tools.
    query: Annotated[str, Field(max_length=QUOTE_CHARS)] | None = None


class Meeting(_Detail):
    booked: bool = False
    meeting_id: str | None = None
    booked_at: AwareDatetime | None = None
    preferred_time: str | None = None


class UsageSummary(_Detail):
    llm_input_tokens: int = 0
    llm_output_tokens: int = 0
    stt_audio_seconds: float = 0.0
    tts_characters: int = 0
    llm_ttft_p50_ms: float | None = None
    tts_ttfb_p50_ms: float | None = None
    end_of_utterance_delay_p50_ms: float | None = None


class LeadScoredDetail(_Detail):
    """The detail of a "Lead Scored" event (schema version 1)."""

    schema_version: Literal["1"] = DETAIL_SCHEMA_VERSION
    session_id: str
    lead_key: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    caller_key_hash: str
    channel: str
    agent_name: str
    agent_version: str
    started_at: AwareDatetime
    ended_at: AwareDatetime
    duration_s: float
    end_reason: EndReason
    user_turns: int
    score: Annotated[int, Field(ge=0, le=100)]
    grade: Grade
    hot: bool
    reasons: list[str]
    scoring_method: ScoringMethod
    scored_at: AwareDatetime
    signals: SignalSummary
    contact: Contact | None = None
    meeting: Meeting
    tool_calls: Annotated[list[ToolCallSummary], Field(max_length=MAX_TOOL_CALLS)] = Field(default_factory=list)
    tool_call_counts: dict[str, int] = Field(default_factory=dict)
    usage: UsageSummary
    session_object: S3Location
    scored_object: S3Location
    # The call's insights without the per-turn sentiment (functions/common/insights.py). Absent from events put
    # before insights existed, which an archive replay may still deliver.
    insights: Insights | None = None

    @property
    def cancel_risk(self) -> bool:
        return self.insights is not None and self.insights.risk.cancel_intent


class LeadScoredEvent(EventBridgeModel):
    """The EventBridge envelope of a "Lead Scored" event, as an SQS message body carries it."""

    detail: LeadScoredDetail


def parse_lead_scored_body(body: str) -> LeadScoredDetail:
    """Parse an SQS message body as a "Lead Scored" event; a body that is not one is a PermanentFailure."""
    try:
        event = parse(event=json.loads(body), model=LeadScoredEvent)
    except ValidationError as error:
        # Field paths and messages only: pydantic's own text quotes the input (contact, quotes), and this reason
        # is logged and kept on the DLQ message.
        problems = "; ".join(describe_validation_error(error))
        raise PermanentFailure(f"message body is not a '{DETAIL_TYPE}' event: {problems}") from error
    except ValueError as error:
        raise PermanentFailure(f"message body is not a '{DETAIL_TYPE}' event: {error}") from error
    if event.source != EVENT_SOURCE or event.detail_type != DETAIL_TYPE:
        raise PermanentFailure(f"unexpected event {event.source!r}/{event.detail_type!r}, expected a '{DETAIL_TYPE}'")
    return event.detail


def normalise_email(email: str) -> str:
    return email.strip().lower()


def lead_key(contact: Contact | None, caller_key_hash: str) -> str:
    """A stable, non-reversible key for the lead: sha256 of the normalised email, else of the caller key hash."""
    if contact is not None and contact.email and contact.email.strip():
        return hashlib.sha256(normalise_email(contact.email).encode()).hexdigest()
    return hashlib.sha256(caller_key_hash.encode()).hexdigest()


def _quote(text: str) -> str:
    return text if len(text) <= QUOTE_CHARS else text[: QUOTE_CHARS - 3] + "..."


def _summarise_tool_calls(record: "SessionRecord") -> list[ToolCallSummary]:
    summaries = []
    for call in record.tool_calls[:MAX_TOOL_CALLS]:
        query = call.arguments.get("query") if is_knowledge_search(call) else None
        summaries.append(
            ToolCallSummary(
                name=call.name,
                started_at=call.started_at,
                duration_ms=call.duration_ms,
                success=call.success,
                error=_quote(call.error) if call.error else None,
                query=_quote(query) if isinstance(query, str) else None,
            )
        )
    return summaries


def _usage(record: "SessionRecord") -> UsageSummary:
    latency = record.latency
    return UsageSummary(
        llm_input_tokens=sum(item.input_tokens for item in record.usage.llm),
        llm_output_tokens=sum(item.output_tokens for item in record.usage.llm),
        stt_audio_seconds=round(sum(item.audio_seconds for item in record.usage.stt), 3),
        tts_characters=sum(item.characters for item in record.usage.tts),
        llm_ttft_p50_ms=latency.llm_ttft_ms.p50 if latency.llm_ttft_ms else None,
        tts_ttfb_p50_ms=latency.tts_ttfb_ms.p50 if latency.tts_ttfb_ms else None,
        end_of_utterance_delay_p50_ms=latency.end_of_utterance_delay_ms.p50
        if latency.end_of_utterance_delay_ms
        else None,
    )


def _meeting(record: "SessionRecord") -> Meeting:
    call = booked_meeting(record)
    if call is None:
        return Meeting()
    meeting_id = call.result_summary.get("meeting_id")
    preferred = call.arguments.get("preferred_time")
    return Meeting(
        booked=True,
        meeting_id=str(meeting_id) if meeting_id is not None else None,
        booked_at=call.started_at,
        preferred_time=_quote(preferred) if isinstance(preferred, str) else None,
    )


def build_lead_scored_detail(
    record: "SessionRecord",
    score: LeadScore,
    session_object: S3Location,
    scored_object: S3Location,
    scored_at: datetime | None = None,
    insights: Insights | None = None,
) -> LeadScoredDetail:
    """Summarise a scored session into the event detail, within `MAX_DETAIL_BYTES`."""
    signals = record.signals
    counts: dict[str, int] = {}
    for call in record.tool_calls:
        counts[call.name] = counts.get(call.name, 0) + 1
    return LeadScoredDetail(
        session_id=record.session_id,
        lead_key=lead_key(record.contact, record.caller.key_hash),
        caller_key_hash=record.caller.key_hash,
        channel=record.caller.channel,
        agent_name=record.agent.name,
        agent_version=record.agent.version,
        started_at=record.started_at,
        ended_at=record.ended_at,
        duration_s=record.duration_s,
        end_reason=record.end_reason,
        user_turns=record.user_turns,
        score=score.score,
        grade=score.grade,
        hot=score.hot,
        reasons=score.reasons,
        scoring_method=score.method,
        scored_at=scored_at or datetime.now(UTC),
        signals=SignalSummary(
            team_size=signals.team_size,
            monthly_volume=signals.monthly_volume,
            integrations=signals.integrations[:MAX_INTEGRATIONS],
            urgency=signals.urgency,
            industry=signals.industry,
            evidence=[
                EvidenceQuote(field=item.field, value=item.value, turn_index=item.turn_index, quote=_quote(item.text))
                for item in signals.evidence[:MAX_EVIDENCE]
            ],
        ),
        contact=record.contact,
        meeting=_meeting(record),
        tool_calls=_summarise_tool_calls(record),
        tool_call_counts=dict(list(counts.items())[:MAX_TOOL_CALLS]),
        usage=_usage(record),
        session_object=session_object,
        scored_object=scored_object,
        insights=insights,
    )
