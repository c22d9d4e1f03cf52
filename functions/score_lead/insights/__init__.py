"""Call insights for score_lead's enrichment step: two providers behind one interface, `local` by default.

`build_insights` runs the configured provider (`INSIGHTS_PROVIDER`, template parameter `InsightsProvider`). The
`bedrock` provider falls back to `local` (method "local", with `fallback_reason`) when the session has no transcript
to send, when the invocation has too little time left for a Bedrock call at its worst (every allowed attempt
timing out), or when the call fails in any way. Each fallback is logged (a warning with the reason) and kept in the
scored record (`insights.fallback_reason`, so Athena counts them); no custom metric is sent for it (each costs
$0.30 a month, and no alarm would read it: the insights are still there, from the local provider).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Protocol

from aws_lambda_powertools import Logger

from functions.common.insights import Insights
from functions.score_lead.insights.bedrock import BedrockInsightsProvider, InsightsProviderError
from functions.score_lead.insights.facts import CallFacts, call_facts
from functions.score_lead.insights.local import LocalInsightsProvider

if TYPE_CHECKING:
    from functions.common.record import SessionRecord
    from functions.common.settings import ScoreLeadSettings

__all__ = ["InsightsProvider", "build_insights", "worst_case_seconds"]

logger = Logger(child=True)
# Time kept for what follows the insights in an invocation: writing the scored record and putting the event.
RESERVE_SECONDS = 5.0


class InsightsProvider(Protocol):
    method: str

    def insights(self, facts: CallFacts) -> Insights: ...


LOCAL = LocalInsightsProvider()


def worst_case_seconds(settings: ScoreLeadSettings) -> float:
    """How long one Bedrock insights call may take at most: every attempt connecting and reading until timeout
    (the backoff between attempts aside, under a second for one retry)."""
    per_attempt = min(settings.insights_connect_timeout_seconds, settings.insights_timeout_seconds)
    return settings.insights_attempts * (per_attempt + settings.insights_timeout_seconds)


def build_insights(
    record: SessionRecord, settings: ScoreLeadSettings, *, bedrock: Any = None, deadline: float | None = None
) -> Insights:
    """The insights of a session. `bedrock` is the Bedrock Runtime client (needed for the bedrock provider);
    `deadline` is the invocation's end on `time.monotonic()`'s clock (None: no limit)."""
    facts = call_facts(record)
    if settings.insights_provider == "local":
        return LOCAL.insights(facts)
    reason = _reason_not_to_call(facts, settings, deadline)
    if reason is None:
        provider = BedrockInsightsProvider(bedrock, settings.insights_model_id, settings.insights_attempts)
        try:
            return provider.insights(facts)
        except InsightsProviderError as error:
            reason = str(error)
    logger.warning(
        "Bedrock insights not used; local insights instead",
        extra={"session_id": record.session_id, "model_id": settings.insights_model_id, "reason": reason},
    )
    return LOCAL.insights(facts, fallback_reason=reason)


def _reason_not_to_call(facts: CallFacts, settings: ScoreLeadSettings, deadline: float | None) -> str | None:
    if facts.source == "signals":
        return "no transcript to send to the model (transcript_mode off)"
    if deadline is not None:
        left = deadline - time.monotonic()
        needed = worst_case_seconds(settings) + RESERVE_SECONDS
        if left < needed:
            return f"{left:.1f} s left in the invocation, a Bedrock call may need {needed:.1f} s"
    return None
