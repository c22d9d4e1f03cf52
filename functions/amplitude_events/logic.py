"""amplitude_events: the product-analytics events of one call, with deterministic insert_ids."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from functions.common.amplitude import AmplitudeDeliveryError, AmplitudeSender, AnalyticsEvent, amplitude_user_id
from functions.common.events import LeadScoredDetail
from functions.common.failures import PermanentFailure, RetryableFailure
from functions.common.redaction import mask_data
from functions.common.scoring import KNOWLEDGE_TOOL_SUFFIX

CALL_ENDED = "Voice Call Ended"
LEAD_SCORED = "Voice Lead Scored"
MEETING_BOOKED = "Sales Meeting Booked"
KNOWLEDGE_SEARCHED = "Knowledge Searched"


def milliseconds(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def insert_id(session_id: str, event_type: str, index: int) -> str:
    """Amplitude drops an event whose insert_id it saw in the last 7 days, so a redelivery never counts twice."""
    return f"{session_id}:{event_type}:{index}"


def build_events(detail: LeadScoredDetail, user_id_key: str) -> list[AnalyticsEvent]:
    """Call ended, lead scored, meeting booked (if any) and one event per knowledge search, at call time.

    Every property goes through the log masking (`mask_data`: emails and phone numbers masked, values of personal
    keys redacted): search queries, tool errors and the model's reasons are free text. The insert_id keeps the
    session id as it is, because Amplitude deduplicates on it exactly."""
    # An HMAC of the lead key (64 hex characters): Amplitude's 5-character minimum for user ids is met.
    user_id = amplitude_user_id(detail.lead_key, user_id_key)
    session_ms = milliseconds(detail.started_at)
    user_properties: dict[str, Any] = {
        key: value
        for key, value in {
            "company": detail.contact.company if detail.contact else None,
            "industry": detail.signals.industry.value if detail.signals.industry else None,
            "team_size": detail.signals.team_size,
            "monthly_volume": detail.signals.monthly_volume,
            "lead_grade": detail.grade,
        }.items()
        if value is not None
    }

    def event(event_type: str, index: int, at: datetime, properties: dict[str, Any]) -> AnalyticsEvent:
        return AnalyticsEvent(
            event_type=event_type,
            user_id=user_id,
            time_ms=milliseconds(at),
            insert_id=insert_id(detail.session_id, event_type, index),
            session_id_ms=session_ms,
            event_properties=mask_data({"voice_session_id": detail.session_id, **properties}),
            user_properties=mask_data(user_properties),
        )

    usage = detail.usage
    # The call's insights as product analytics: figures and taxonomy ids only, never the caller's words.
    insights = detail.insights
    insight_properties: dict[str, Any] = {}
    if insights is not None:
        insight_properties = {
            "sentiment_overall": insights.sentiment.overall,
            "sentiment_start": insights.sentiment.start,
            "sentiment_end": insights.sentiment.end,
            "topics": insights.topics,
            "competitors": insights.competitors,
            "next_step": insights.next_step,
            "cancel_intent": insights.risk.cancel_intent,
            "churn_risk": insights.risk.churn_risk,
            "unanswered_questions": len(insights.unanswered_questions),
            "insights_method": insights.method,
        }
    events = [
        event(
            CALL_ENDED,
            0,
            detail.ended_at,
            {
                "duration_s": detail.duration_s,
                "end_reason": detail.end_reason.value,
                "channel": detail.channel,
                "agent_version": detail.agent_version,
                "user_turns": detail.user_turns,
                "tool_calls": sum(detail.tool_call_counts.values()),
                "meeting_booked": detail.meeting.booked,
                "llm_input_tokens": usage.llm_input_tokens,
                "llm_output_tokens": usage.llm_output_tokens,
                "stt_audio_seconds": usage.stt_audio_seconds,
                "tts_characters": usage.tts_characters,
                "llm_ttft_p50_ms": usage.llm_ttft_p50_ms,
                "tts_ttfb_p50_ms": usage.tts_ttfb_p50_ms,
                "end_of_utterance_delay_p50_ms": usage.end_of_utterance_delay_p50_ms,
                **insight_properties,
            },
        ),
        event(
            LEAD_SCORED,
            0,
            detail.ended_at,
            {
                "score": detail.score,
                "grade": detail.grade,
                "hot": detail.hot,
                "scoring_method": detail.scoring_method,
                "reasons": detail.reasons,
                "team_size": detail.signals.team_size,
                "monthly_volume": detail.signals.monthly_volume,
                "integrations": detail.signals.integrations,
                "industry": detail.signals.industry.value if detail.signals.industry else None,
                "urgent": bool(detail.signals.urgency),
            },
        ),
    ]
    if detail.meeting.booked:
        events.append(
            event(
                MEETING_BOOKED,
                0,
                detail.meeting.booked_at or detail.ended_at,
                {"meeting_id": detail.meeting.meeting_id, "grade": detail.grade, "hot": detail.hot},
            )
        )
    searches = [call for call in detail.tool_calls if call.name.endswith(KNOWLEDGE_TOOL_SUFFIX)]
    for index, call in enumerate(searches):
        events.append(
            event(
                KNOWLEDGE_SEARCHED,
                index,
                call.started_at,
                {
                    "query": call.query,
                    "tool": call.name,
                    "success": call.success,
                    "duration_ms": call.duration_ms,
                    "error": call.error,
                },
            )
        )
    return events


def send_session_events(detail: LeadScoredDetail, sender: AmplitudeSender, timeout_seconds: float) -> int:
    """Send the call's events; raises RetryableFailure or PermanentFailure when Amplitude did not take them all."""
    events = build_events(detail, sender.user_id_key)
    try:
        sender.send(events, timeout_seconds)
    except AmplitudeDeliveryError as error:
        if error.retryable:
            raise RetryableFailure(f"Amplitude: {error}") from error
        raise PermanentFailure(f"Amplitude rejected session {detail.session_id}: {error}", detail.session_id) from error
    return len(events)
