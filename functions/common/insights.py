"""Call insights: what the caller talked about and felt, what they could not get answered, what comes next.

score_lead builds an `Insights` for every session (functions/score_lead/insights/) and writes it into the scored
record (the `insights` column of the `scored` table) and the "Lead Scored" event, which the three consumers read.
These models are the typed boundary of both; the topic and competitor ids come from the taxonomy file
(functions/score_lead/insights/taxonomy.toml), the one place they are defined.

No field holds contact data or the caller's unredacted words: the texts (summary, objections, unanswered questions,
risk evidence) are built from the redacted transcript, with the contact's name, email and company masked too.
"""

# No `from __future__ import annotations` (pydantic models: see functions/common/record_parts.py).

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

InsightsMethod = Literal["local", "bedrock"]
NextStep = Literal["meeting_booked", "follow_up", "none"]
# What the insights were built from: the (redacted) transcript, or, with `transcript_mode` off, the signals, the
# tool calls and the call's figures only.
InsightsSource = Literal["transcript", "signals"]

SUMMARY_CHARS = 700
TEXT_CHARS = 200
MAX_ITEMS = 5
MAX_IDS = 20
MAX_SENTIMENT_TURNS = 100
TAXONOMY_ID = r"^[a-z0-9_]{1,40}$"

Polarity = Annotated[float, Field(ge=-1.0, le=1.0)]
Share = Annotated[float, Field(ge=0.0, le=1.0)]
ShortText = Annotated[str, Field(min_length=1, max_length=TEXT_CHARS)]
TaxonomyId = Annotated[str, Field(pattern=TAXONOMY_ID)]


class _InsightsModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TurnSentiment(_InsightsModel):
    """The polarity of one caller turn (the transcript's turn index)."""

    turn_index: Annotated[int, Field(ge=0)]
    score: Polarity


class Sentiment(_InsightsModel):
    """Polarity from -1 (negative) to 1 (positive): the whole call, its start and its end (the first and the last
    third of the caller's turns), and each caller turn. Null with `reason` when there is nothing to score."""

    overall: Polarity | None = None
    start: Polarity | None = None
    end: Polarity | None = None
    turns: Annotated[list[TurnSentiment], Field(max_length=MAX_SENTIMENT_TURNS)] = Field(default_factory=list)
    reason: ShortText | None = None


class Risk(_InsightsModel):
    """Churn risk (an unhappy caller weighing a competitor or leaving) and explicit cancel intent, with the
    (redacted) words that show it."""

    cancel_intent: bool = False
    churn_risk: bool = False
    evidence: Annotated[list[ShortText], Field(max_length=3)] = Field(default_factory=list)


class CallMetrics(_InsightsModel):
    """Conversation figures. Talk share is by words of the transcript (null without one); interruptions are the tool
    calls the caller cut short (the only interruptions a session record carries); response latency is the caller's
    end of speech to the agent's first audio (audio calls), else the LLM's time to first token."""

    caller_turns: Annotated[int, Field(ge=0)] = 0
    agent_turns: Annotated[int, Field(ge=0)] = 0
    caller_words: Annotated[int, Field(ge=0)] | None = None
    agent_words: Annotated[int, Field(ge=0)] | None = None
    caller_talk_share: Share | None = None
    agent_talk_share: Share | None = None
    interruptions: Annotated[int, Field(ge=0)] = 0
    response_latency_p50_ms: Annotated[float, Field(ge=0)] | None = None
    response_latency_p95_ms: Annotated[float, Field(ge=0)] | None = None
    tool_calls: Annotated[int, Field(ge=0)] = 0
    tool_failures: Annotated[int, Field(ge=0)] = 0
    failed_knowledge_searches: Annotated[int, Field(ge=0)] = 0


class Insights(_InsightsModel):
    """The insights block of a scored record (and of the "Lead Scored" event, without the per-turn sentiment)."""

    method: InsightsMethod
    # Why the configured provider (bedrock) was not used: its error, timeout or refusal; None when it was.
    fallback_reason: ShortText | None = None
    source: InsightsSource
    summary: Annotated[str, Field(min_length=1, max_length=SUMMARY_CHARS)]
    sentiment: Sentiment
    topics: Annotated[list[TaxonomyId], Field(max_length=MAX_IDS)] = Field(default_factory=list)
    competitors: Annotated[list[TaxonomyId], Field(max_length=MAX_IDS)] = Field(default_factory=list)
    objections: Annotated[list[ShortText], Field(max_length=MAX_ITEMS)] = Field(default_factory=list)
    unanswered_questions: Annotated[list[ShortText], Field(max_length=MAX_ITEMS)] = Field(default_factory=list)
    next_step: NextStep
    risk: Risk = Field(default_factory=Risk)
    metrics: CallMetrics = Field(default_factory=CallMetrics)
    coaching: Annotated[list[ShortText], Field(max_length=MAX_ITEMS)] = Field(default_factory=list)

    def for_event(self) -> "Insights":
        """The block as the "Lead Scored" event carries it: without the per-turn sentiment (no consumer reads it,
        and the event has a size budget)."""
        return self.model_copy(update={"sentiment": self.sentiment.model_copy(update={"turns": []})})
