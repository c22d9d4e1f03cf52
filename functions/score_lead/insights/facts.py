"""What both insight providers start from: the call's text made safe, its tool outcomes and its figures.

Safe text: every transcript turn goes through the transcript redaction (`redact_transcript`, whatever the record's
`transcript_mode` says: a `full` record holds the caller's words as spoken, and a `redacted` one is checked again at
no risk), then the contact's name, email and company, which the caller may have said aloud, become "[name]",
"[email]" and "[company]". Nothing else of the record's text reaches the insights or the model.
"""

from __future__ import annotations

import math
import re
import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING

from functions.common.insights import CallMetrics
from functions.common.record import TranscriptMode
from functions.common.redaction import redact_transcript
from functions.common.scoring import MEETING_TOOL_NAME, booked_meeting, is_knowledge_search

if TYPE_CHECKING:
    from functions.common.record import Contact, SessionRecord, ToolCall

NAME_MASK = "[name]"
COMPANY_MASK = "[company]"
CONTACT_EMAIL_MASK = "[email]"
# The collector's error for a tool call the caller cut short (agent/collector.py).
INTERRUPTED_PREFIX = "cancelled: the caller interrupted"
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
# Words of a company name that say what kind of business it is, not which one: kept ("Acme Legal" -> "[company]",
# but a caller saying "legal" elsewhere keeps that word).
_GENERIC_COMPANY_WORDS = frozenset(
    "the and of co company corp corporation inc llc ltd limited gmbh plc group partners legal law firm associates "
    "services solutions holdings realty properties clinic studio agency".split()
)


@dataclass(frozen=True)
class Sentence:
    turn_index: int
    text: str


@dataclass(frozen=True)
class KnowledgeOutcome:
    """One knowledge search: its (masked) query and category, and whether it found anything."""

    query: str | None
    category: str | None
    answered: bool


@dataclass(frozen=True)
class CallFacts:
    """The input of every provider (built once per session)."""

    session_id: str
    source: str  # "transcript" or "signals" (transcript_mode off)
    scrub: Scrubber  # for any text that did not come from here (the model's answer)
    caller: tuple[tuple[int, str], ...]  # (turn index, safe text) of each caller turn with words
    agent: tuple[tuple[int, str], ...]
    knowledge: tuple[KnowledgeOutcome, ...]
    meeting_booked: bool
    meeting_failed: bool
    contact_given: bool
    qualified: bool  # the detector found any signal
    industry: str | None
    team_size: int | None
    monthly_volume: int | None
    integrations: tuple[str, ...]
    urgency: str | None
    metrics: CallMetrics

    @property
    def signals(self) -> dict[str, object]:
        """The detector's signals by the session record's field names (what a taxonomy topic's `signals` name)."""
        return {
            "team_size": self.team_size,
            "monthly_volume": self.monthly_volume,
            "integrations": self.integrations,
            "urgency": self.urgency,
            "industry": self.industry,
        }

    def caller_sentences(self) -> list[Sentence]:
        return [
            Sentence(turn_index=index, text=sentence)
            for index, text in self.caller
            for sentence in split_sentences(text)
        ]


def split_sentences(text: str) -> list[str]:
    return [part.strip() for part in _SENTENCE_END.split(text) if part.strip()]


def _contact_patterns(contact: Contact | None) -> list[tuple[re.Pattern[str], str]]:
    """Whole-word, case-insensitive patterns for what the caller gave to book a meeting, longest first."""
    if contact is None:
        return []
    found: list[tuple[str, str]] = []
    if contact.email and contact.email.strip():
        found.append((contact.email.strip(), CONTACT_EMAIL_MASK))
    if contact.company and contact.company.strip():
        found.append((contact.company.strip(), COMPANY_MASK))
        found += [
            (word, COMPANY_MASK)
            for word in re.findall(r"[\w'&.-]+", contact.company)
            if len(word) >= 3 and word.lower().strip(".") not in _GENERIC_COMPANY_WORDS
        ]
    if contact.name and contact.name.strip():
        found.append((contact.name.strip(), NAME_MASK))
        found += [(word, NAME_MASK) for word in re.findall(r"[\w'-]+", contact.name) if len(word) >= 2]
    found.sort(key=lambda item: -len(item[0]))
    return [(re.compile(rf"(?<!\w){re.escape(text)}(?!\w)", re.IGNORECASE), mask) for text, mask in found]


@dataclass(frozen=True)
class Scrubber:
    """Makes a text safe for the insights: transcript redaction, then the contact's details masked."""

    patterns: tuple[tuple[re.Pattern[str], str], ...]

    @classmethod
    def for_contact(cls, contact: Contact | None) -> Scrubber:
        return cls(tuple(_contact_patterns(contact)))

    def __call__(self, text: str) -> str:
        safe = redact_transcript(text)
        for pattern, mask in self.patterns:
            safe = pattern.sub(mask, safe)
        return safe


def _answered(call: ToolCall) -> bool:
    """A knowledge search answered the question when it succeeded and did not report zero results."""
    if not call.success:
        return False
    summary = call.result_summary
    if summary.get("results_found") is False:
        return False
    return not any(summary.get(key) == 0 for key in ("total_results", "results"))


def _latency(record: SessionRecord) -> tuple[float | None, float | None]:
    figure = record.latency.e2e_latency_ms or record.latency.llm_ttft_ms
    return (figure.p50, figure.p95) if figure else (None, None)


def call_metrics(
    record: SessionRecord, caller: tuple[tuple[int, str], ...], agent: tuple[tuple[int, str], ...], failed: int
) -> CallMetrics:
    has_transcript = record.transcript_mode is not TranscriptMode.OFF
    caller_words = sum(len(text.split()) for _, text in caller)
    agent_words = sum(len(text.split()) for _, text in agent)
    total = caller_words + agent_words
    p50, p95 = _latency(record)
    return CallMetrics(
        caller_turns=len(caller) if has_transcript else record.user_turns,
        agent_turns=len(agent),
        caller_words=caller_words if has_transcript else None,
        agent_words=agent_words if has_transcript else None,
        caller_talk_share=round(caller_words / total, 3) if has_transcript and total else None,
        agent_talk_share=round(agent_words / total, 3) if has_transcript and total else None,
        interruptions=sum(1 for call in record.tool_calls if (call.error or "").startswith(INTERRUPTED_PREFIX)),
        response_latency_p50_ms=p50,
        response_latency_p95_ms=p95,
        tool_calls=len(record.tool_calls),
        tool_failures=sum(1 for call in record.tool_calls if not call.success),
        failed_knowledge_searches=failed,
    )


def call_facts(record: SessionRecord) -> CallFacts:
    """The safe text, tool outcomes and figures of a session (see the module docstring for what "safe" means)."""
    scrub = Scrubber.for_contact(record.contact)
    caller = tuple((turn.index, scrub(turn.text)) for turn in record.transcript if turn.role == "user" and turn.text)
    agent = tuple(
        (turn.index, scrub(turn.text)) for turn in record.transcript if turn.role == "assistant" and turn.text
    )
    knowledge = []
    for call in record.tool_calls:
        if not is_knowledge_search(call):
            continue
        query, category = call.arguments.get("query"), call.arguments.get("category")
        knowledge.append(
            KnowledgeOutcome(
                query=scrub(query).strip() or None if isinstance(query, str) else None,
                category=category.strip().lower() or None if isinstance(category, str) else None,
                answered=_answered(call),
            )
        )
    failed = sum(1 for outcome in knowledge if not outcome.answered)
    signals = record.signals
    return CallFacts(
        session_id=record.session_id,
        scrub=scrub,
        source="signals" if record.transcript_mode is TranscriptMode.OFF else "transcript",
        caller=caller,
        agent=agent,
        knowledge=tuple(knowledge),
        meeting_booked=booked_meeting(record) is not None,
        meeting_failed=any(call.name == MEETING_TOOL_NAME and not call.success for call in record.tool_calls),
        contact_given=record.contact is not None and bool(record.contact.email or record.contact.name),
        qualified=bool(
            signals.team_size is not None
            or signals.monthly_volume is not None
            or signals.integrations
            or signals.urgency
            or signals.industry is not None
        ),
        industry=signals.industry.value if signals.industry else None,
        team_size=signals.team_size,
        monthly_volume=signals.monthly_volume,
        integrations=tuple(signals.integrations),
        urgency=signals.urgency,
        metrics=call_metrics(record, caller, agent, failed),
    )


def mean(values: list[float]) -> float | None:
    return round(statistics.fmean(values), 3) if values else None


def window(count: int) -> int:
    """How many caller turns make the start (and the end) of a call: a third, at least one."""
    return max(1, math.ceil(count / 3))
