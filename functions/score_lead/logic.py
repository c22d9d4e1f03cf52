"""score_lead's work for one session object: read, validate, score, write the scored record, publish."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from aws_lambda_powertools import Logger

from functions.common.aws import bedrock_runtime_client
from functions.common.events import (
    DETAIL_TYPE,
    EVENT_SOURCE,
    LeadScoredDetail,
    S3Location,
    build_lead_scored_detail,
)
from functions.common.failures import RetryableFailure
from functions.common.insights import Insights
from functions.common.record import SessionRecord, partition_key
from functions.common.scoring import HotThresholds, LeadScore, score_by_rules
from functions.common.settings import ScoreLeadSettings
from functions.score_lead.insights import build_insights
from functions.score_lead.llm import score_with_llm
from functions.score_lead.reader import RejectedObjectError, read_record
from functions.score_lead.storage import ObjectMissingError, fetch_object, write_scored

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_s3 import S3Client

logger = Logger(child=True)


OBJECT_SUFFIX = ".json.gz"


@dataclass(frozen=True)
class LoadedSession:
    record: SessionRecord
    location: S3Location
    data: bytes


def load_session(s3: S3Client, location: S3Location, settings: ScoreLeadSettings) -> LoadedSession:
    """Read and validate the object; raises RejectedObjectError (quarantine) or ObjectMissingError."""
    fetched = fetch_object(s3, location, settings.max_record_bytes)
    record = read_record(fetched.data, fetched.location.uri, settings.max_decompressed_bytes)
    return LoadedSession(record=record, location=fetched.location, data=fetched.data)


CopyKind = Literal["primary", "duplicate", "collision", "orphan"]


@dataclass(frozen=True)
class CopyDecision:
    kind: CopyKind
    record: SessionRecord | None  # None: nothing to do (a duplicate export)


def resolve_copy(s3: S3Client, loaded: LoadedSession, settings: ScoreLeadSettings) -> CopyDecision:
    """What to score for an object: itself, nothing (a duplicate export), or itself under a derived session id.

    The agent stores a record as `<session_id>.dup-<hash>.json.gz` when `<session_id>.json.gz` exists and it cannot
    tell whether that object is the same record (its role may not read; agent/exporter.py `store`). So an object
    whose name is not `<session_id>.json.gz` is such a copy, compared here with the primary object: the same bytes
    are a duplicate export (no effect); different bytes are another call that was given the same session id,
    scored as `<session_id>-<first 8 hex of the SHA-256 of its bytes>` so that neither call is lost or doubled.
    """
    record, location = loaded.record, loaded.location
    folder, _, name = location.key.rpartition("/")
    if name.removesuffix(OBJECT_SUFFIX) == record.session_id:
        return CopyDecision("primary", record)
    primary = S3Location(bucket=location.bucket, key=f"{folder}/{record.session_id}{OBJECT_SUFFIX}")
    context = {"session_id": record.session_id, "object": location.uri, "primary": primary.uri}
    try:
        primary_data: bytes | None = fetch_object(s3, primary, settings.max_record_bytes).data
    except ObjectMissingError:
        logger.warning("Session copy without its primary object; scoring it as the session", extra=context)
        return CopyDecision("orphan", record)
    except RejectedObjectError:
        primary_data = None  # the primary is not a record this size: it cannot be this one
    if primary_data == loaded.data:
        logger.info("Duplicate export of a stored session acknowledged; nothing to do", extra=context)
        return CopyDecision("duplicate", None)
    derived = f"{record.session_id[:119]}-{hashlib.sha256(loaded.data).hexdigest()[:8]}"
    logger.warning(
        "Session id collision: a different record under the same session id; scored as a session of its own",
        extra={**context, "scored_as": derived},
    )
    return CopyDecision("collision", record.model_copy(update={"session_id": derived}))


def score(record: SessionRecord, settings: ScoreLeadSettings) -> LeadScore:
    """Rules always; the LLM on top when enabled (it falls back to the rules by itself)."""
    thresholds = HotThresholds(team_size=settings.hot_team_size, monthly_volume=settings.hot_monthly_volume)
    rules = score_by_rules(record, thresholds)
    if not settings.llm_scoring_enabled:
        return rules
    bedrock = bedrock_runtime_client(settings.llm_timeout_seconds)
    return score_with_llm(record, rules, bedrock, settings.llm_model_id)


def insights(record: SessionRecord, settings: ScoreLeadSettings, deadline: float | None = None) -> Insights:
    """The call's insights from the configured provider (see functions/score_lead/insights/)."""
    bedrock = None
    if settings.insights_provider == "bedrock":
        bedrock = bedrock_runtime_client(
            settings.insights_timeout_seconds, settings.insights_connect_timeout_seconds, settings.insights_attempts
        )
    return build_insights(record, settings, bedrock=bedrock, deadline=deadline)


def scored_document(record: SessionRecord, detail: LeadScoredDetail, call_insights: Insights) -> dict[str, Any]:
    """The scored record: the session as received plus `scoring` and `insights` blocks (one Athena row per session)."""
    return {
        **record.model_dump(mode="json"),
        "lead_key": detail.lead_key,
        "scoring": {
            "score": detail.score,
            "grade": detail.grade,
            "hot": detail.hot,
            "reasons": detail.reasons,
            "method": detail.scoring_method,
            "scored_at": detail.scored_at.isoformat(),
        },
        "insights": call_insights.model_dump(mode="json"),
    }


def publish_lead_scored(events: EventBridgeClient, bus_name: str, detail: LeadScoredDetail) -> str:
    """PutEvents with the failure check PutEvents needs: it reports per-entry failures with HTTP 200."""
    response = events.put_events(
        Entries=[
            {
                "Source": EVENT_SOURCE,
                "DetailType": DETAIL_TYPE,
                "Detail": detail.model_dump_json(),
                "EventBusName": bus_name,
            }
        ]
    )
    entry = response["Entries"][0]
    if response.get("FailedEntryCount", 0) or "EventId" not in entry:
        raise RetryableFailure(
            f"PutEvents rejected 'Lead Scored' for session {detail.session_id}: "
            f"{entry.get('ErrorCode')} {entry.get('ErrorMessage')}; will retry"
        )
    return entry["EventId"]


@dataclass(frozen=True)
class ScoredSession:
    location: S3Location  # where the scored document goes: scored/ beside the session object, same bucket
    detail: LeadScoredDetail
    document: dict[str, Any]
    insights: Insights


def score_session(
    record: SessionRecord,
    source: S3Location,
    settings: ScoreLeadSettings,
    *,
    scored_at: datetime | None = None,
    deadline: float | None = None,
) -> ScoredSession:
    """Score a validated session and build its insights: the "Lead Scored" detail and the scored document, at the
    key score_lead writes it to. Writes and sends nothing (the benchmarks and tests build scored folders with it)."""
    lead_score = score(record, settings)
    call_insights = insights(record, settings, deadline)
    location = S3Location(
        bucket=source.bucket, key=partition_key(settings.scored_prefix, record.started_at, record.session_id)
    )
    detail = build_lead_scored_detail(
        record, lead_score, source, location, scored_at=scored_at, insights=call_insights.for_event()
    )
    return ScoredSession(location, detail, scored_document(record, detail, call_insights), call_insights)


def score_and_publish(
    record: SessionRecord,
    source: S3Location,
    settings: ScoreLeadSettings,
    s3: S3Client,
    events: EventBridgeClient,
    deadline: float | None = None,
) -> LeadScoredDetail:
    """Score a validated session and build its insights, write `scored/...`, then announce it; the write comes
    first so consumers never see an event whose scored object is missing. `deadline`: the invocation's end on
    `time.monotonic()`'s clock, which bounds a Bedrock insights call."""
    scored = score_session(record, source, settings, scored_at=datetime.now(UTC), deadline=deadline)
    detail, scored_location, call_insights = scored.detail, scored.location, scored.insights
    write_scored(s3, scored_location, scored.document)
    event_id = publish_lead_scored(events, settings.event_bus_name, detail)
    logger.info(
        "Lead scored",
        extra={
            "session_id": record.session_id,
            "score": detail.score,
            "grade": detail.grade,
            "hot": detail.hot,
            "method": detail.scoring_method,
            "insights_method": call_insights.method,
            "event_id": event_id,
            "scored_object": scored_location.uri,
        },
    )
    return detail
