"""Rule-based lead scoring: an explainable 0-100 score, a grade A-D, the reasons, and the hot flag.

Pure: no I/O, no AWS imports, so the agent, the functions and the tests can all run it. Every point
awarded comes with a reason a sales rep can read ("team of 12 (5+): +20").
"""

# No `from __future__ import annotations` (pydantic models: see functions/common/record_parts.py).

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    # Annotations only: the consumers import this module through events.py and need not build the record's models.
    from functions.common.record import SessionRecord, ToolCall

MEETING_TOOL_NAME = "book_sales_meeting"
# The agent's knowledge tool is named for its backend (e.g. "unleash_search_knowledge").
KNOWLEDGE_TOOL_SUFFIX = "search_knowledge"

Grade = Literal["A", "B", "C", "D"]
ScoringMethod = Literal["rules", "llm"]

# Lowest score for each grade, best first.
GRADE_FLOORS: tuple[tuple[Grade, int], ...] = (("A", 75), ("B", 50), ("C", 25), ("D", 0))
MAX_REASONS = 12


class LeadScore(BaseModel):
    """The outcome of scoring one session."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    score: Annotated[int, Field(ge=0, le=100)]
    grade: Grade
    hot: bool
    reasons: Annotated[list[Annotated[str, Field(max_length=300)]], Field(max_length=MAX_REASONS)]
    method: ScoringMethod = "rules"


@dataclass(frozen=True)
class HotThresholds:
    team_size: int = 5
    monthly_volume: int = 100


def grade_for(score: int) -> Grade:
    """Map a 0-100 score to a grade: A >= 75, B >= 50, C >= 25, else D."""
    for grade, floor in GRADE_FLOORS:
        if score >= floor:
            return grade
    return "D"


def is_hot(record: "SessionRecord", thresholds: HotThresholds) -> bool:
    """Hot means a team or a document volume big enough for sales to call back today."""
    signals = record.signals
    big_team = signals.team_size is not None and signals.team_size >= thresholds.team_size
    big_volume = signals.monthly_volume is not None and signals.monthly_volume >= thresholds.monthly_volume
    return big_team or big_volume


def booked_meeting(record: "SessionRecord") -> "ToolCall | None":
    """The first successful sales-meeting booking of the call, if any."""
    return next((call for call in record.tool_calls if call.name == MEETING_TOOL_NAME and call.success), None)


def is_knowledge_search(call: "ToolCall") -> bool:
    return call.name.endswith(KNOWLEDGE_TOOL_SUFFIX)


def _team_points(team_size: int, thresholds: HotThresholds) -> int:
    if team_size >= 10 * thresholds.team_size:
        return 30
    if team_size >= thresholds.team_size:
        return 20
    return 10 if team_size >= 2 else 3


def _volume_points(volume: int, thresholds: HotThresholds) -> int:
    if volume >= 10 * thresholds.monthly_volume:
        return 30
    if volume >= thresholds.monthly_volume:
        return 22
    if volume >= max(1, thresholds.monthly_volume // 5):
        return 12
    return 5 if volume > 0 else 0


def score_by_rules(record: "SessionRecord", thresholds: HotThresholds) -> LeadScore:
    """Score a session from its signals and outcome. Points: team 30, volume 30, integrations 10,
    urgency 10, industry 5, meeting booked 10, email given 5."""
    signals = record.signals
    points = 0
    reasons: list[str] = []

    def award(amount: int, reason: str) -> None:
        nonlocal points
        if amount > 0:
            points += amount
            reasons.append(f"{reason}: +{amount}")

    if signals.team_size is not None:
        award(_team_points(signals.team_size, thresholds), f"team of {signals.team_size}")
    if signals.monthly_volume is not None:
        award(_volume_points(signals.monthly_volume, thresholds), f"{signals.monthly_volume} documents a month")
    if signals.integrations:
        award(min(10, 5 * len(signals.integrations)), "integrations: " + ", ".join(signals.integrations))
    if signals.urgency:
        award(10, f"urgency: {signals.urgency[:80]}")
    if signals.industry is not None:
        award(5, f"industry: {signals.industry.value}")
    if booked_meeting(record) is not None:
        award(10, "booked a sales meeting")
    if record.contact is not None and record.contact.email:
        award(5, "left an email address")

    score = min(points, 100)
    if not reasons:
        reasons.append("no buying signals in the call")
    hot = is_hot(record, thresholds)
    if hot:
        reasons.insert(0, f"hot: team size >= {thresholds.team_size} or monthly volume >= {thresholds.monthly_volume}")
    return LeadScore(score=score, grade=grade_for(score), hot=hot, reasons=reasons[:MAX_REASONS], method="rules")
