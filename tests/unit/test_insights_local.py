"""The local insights provider (functions/score_lead/insights/local.py) on whole calls: what it reads, what it
concludes, and that nothing personal reaches the insights."""

from __future__ import annotations

import json
import tomllib
from typing import Any

import pytest

from functions.common.insights import Insights
from functions.common.redaction import redact_transcript
from functions.common.settings import ScoreLeadSettings
from functions.score_lead.insights import build_insights
from functions.score_lead.insights.taxonomy import TAXONOMY_PATH, TaxonomyError, parse_taxonomy, taxonomy
from tests.unit.calls import (
    AGENT,
    ANGRY_WITH_COMPETITOR,
    CALLER,
    HAPPY_BOOKING,
    UNANSWERED,
    UNANSWERED_TOOLS,
    booking,
    call_record,
    search,
)

LOCAL = ScoreLeadSettings()
CONTACT = {"name": "Dana Lee", "email": "dana.lee@example.com", "company": "Acme Legal", "preferred_time": "2pm"}


def insights_of(turns: list[tuple[str, str]], **changes: Any) -> Insights:
    return build_insights(call_record(turns, **changes), LOCAL)


def texts(insights: Insights) -> list[str]:
    """Every free text of the insights (what a person or a model wrote, not an id or a figure)."""
    return [
        insights.summary,
        *insights.objections,
        *insights.unanswered_questions,
        *insights.risk.evidence,
        *insights.coaching,
        insights.fallback_reason or "",
    ]


def test_an_angry_caller_comparing_with_a_competitor_is_negative_with_the_competitor_and_pricing() -> None:
    insights = insights_of(ANGRY_WITH_COMPETITOR, tools=[search("pricing", "pricing")])

    assert insights.method == "local" and insights.source == "transcript"
    assert insights.sentiment.overall is not None and insights.sentiment.overall <= -0.3
    assert insights.competitors == ["docusign"]
    assert "pricing" in insights.topics
    assert any("ridiculous" in objection for objection in insights.objections)
    assert insights.risk.churn_risk and not insights.risk.cancel_intent
    assert insights.risk.evidence and all("DocuSign" in item for item in insights.risk.evidence)
    assert insights.next_step == "none"
    assert "DocuSign" in insights.summary and "The tone was negative" in insights.summary


def test_a_happy_caller_who_books_is_positive_with_a_booked_meeting() -> None:
    insights = insights_of(HAPPY_BOOKING, tools=[booking()], contact=CONTACT)

    assert insights.sentiment.overall is not None and insights.sentiment.overall >= 0.5
    assert insights.sentiment.start is not None and insights.sentiment.start > 0
    assert insights.sentiment.end is not None and insights.sentiment.end > 0
    assert [turn.turn_index for turn in insights.sentiment.turns] == [0, 2, 4]
    assert insights.next_step == "meeting_booked"
    assert "templates" in insights.topics and insights.competitors == []
    assert insights.objections == [] and not insights.risk.churn_risk
    assert "a sales meeting was booked" in insights.summary


def test_a_caller_whose_questions_failed_gets_unanswered_questions_and_a_follow_up() -> None:
    insights = insights_of(UNANSWERED, tools=UNANSWERED_TOOLS)

    # The two searches (one timed out, one found nothing) by their query; the third deflection had no search.
    assert insights.unanswered_questions == [
        "hipaa business associate agreement",
        "azure tenant storage",
        "And can we set our own retention period?",
    ]
    assert insights.next_step == "follow_up"
    assert insights.metrics.failed_knowledge_searches == 2 and insights.metrics.tool_failures == 1
    assert any("knowledge search" in note for note in insights.coaching)
    assert "security_compliance" in insights.topics
    assert "a follow-up is needed (3 unanswered question(s))" in insights.summary


def test_an_answered_search_is_not_an_unanswered_question() -> None:
    insights = insights_of(UNANSWERED[:2], tools=[search("hipaa", "security", found=3)])

    assert insights.unanswered_questions == ["Do you sign a BAA for HIPAA?"]  # the deflection still counts


def test_cancel_intent_is_read_and_a_negated_cancel_is_not() -> None:
    cancelling = insights_of(
        [(CALLER, "We have twenty users and I want to cancel our subscription. We're moving to Adobe Sign.")]
    )
    staying = insights_of([(CALLER, "We don't want to cancel, we just need the Salesforce sync to work.")])

    assert cancelling.risk.cancel_intent and cancelling.risk.churn_risk
    assert cancelling.risk.evidence == [
        "We have twenty users and I want to cancel our subscription.",
        "We're moving to Adobe Sign.",
    ]
    assert cancelling.competitors == ["adobe_sign"] and cancelling.next_step == "follow_up"
    assert "the caller intends to cancel" in cancelling.summary
    assert not staying.risk.cancel_intent and not staying.risk.churn_risk


def test_without_a_transcript_insights_come_from_signals_and_tools_and_say_so() -> None:
    record_changes = {
        "signals": {"team_size": 12, "integrations": ["salesforce"], "industry": "legal"},
        "tools": [search("docusign comparison", "pricing", found=0), booking()],
        "contact": CONTACT,
    }
    insights = insights_of(HAPPY_BOOKING, mode="off", **record_changes)

    assert insights.source == "signals"
    assert insights.sentiment.overall is None and insights.sentiment.turns == []
    assert insights.sentiment.reason == "no transcript to score (transcript_mode off)"
    assert {"pricing", "integrations", "esignature"} <= set(insights.topics)
    assert insights.competitors == ["docusign"]
    assert insights.unanswered_questions == ["docusign comparison"]
    assert insights.next_step == "meeting_booked"
    assert insights.metrics.caller_talk_share is None and insights.metrics.caller_words is None
    assert insights.metrics.caller_turns == 3  # the record's user_turns
    assert insights.summary.startswith("A legal caller with a team of 12 asked about")
    assert insights.summary.endswith("(built from signals and tool calls: no transcript).")


def test_a_full_transcript_leaves_no_contact_data_or_unredacted_words_in_the_insights() -> None:
    """`full` keeps the caller's words as spoken; the insights are built from their redaction, with the contact's
    name, email and company masked too: every text passes the redaction unchanged and holds none of them."""
    turns = [
        (CALLER, "I'm Dana Lee from Acme Legal, my number is 415 555 0123, mail dana.lee@example.com please."),
        (AGENT, "Thanks Dana. How can I help?"),
        (CALLER, "Dana here: Acme Legal finds your pricing too expensive, call me on 415 555 0123 about DocuSign."),
        (AGENT, "I'm not sure about discounts, a colleague will get back to you."),
        (CALLER, "Can Acme Legal get a discount if we pay by card 4242 4242 4242 4242?"),
        (AGENT, "I don't know, I'm afraid."),
    ]
    insights = insights_of(turns, mode="full", contact=CONTACT, tools=[search("dana lee discount", "pricing", found=0)])

    document = json.dumps(insights.model_dump(mode="json"))
    for personal in ("Dana", "Lee", "Acme", "dana.lee@example.com", "415", "0123", "4242"):
        assert personal not in document, personal
    for text in texts(insights):
        assert redact_transcript(text) == text, text
    assert insights.unanswered_questions[0] == "[name] discount"  # the query, masked like the transcript
    assert "[company]" in " ".join(insights.objections) and insights.competitors == ["docusign"]


def test_the_same_call_gives_the_same_insights() -> None:
    first = insights_of(ANGRY_WITH_COMPETITOR)
    assert insights_of(ANGRY_WITH_COMPETITOR) == first


def test_metrics_count_words_turns_interruptions_and_failures() -> None:
    interrupted = search("pricing", "pricing", error="cancelled: the caller interrupted or the session closed")
    turns = [(CALLER, "alpha beta gamma"), (AGENT, "delta epsilon zeta eta theta iota kappa"), (CALLER, "lambda")]
    insights = insights_of(turns, tools=[interrupted, booking(error="meeting booking timed out")])

    metrics = insights.metrics
    assert (metrics.caller_turns, metrics.agent_turns) == (2, 1)
    assert (metrics.caller_words, metrics.agent_words) == (4, 7)
    assert (metrics.caller_talk_share, metrics.agent_talk_share) == (0.364, 0.636)
    assert (metrics.interruptions, metrics.tool_calls, metrics.tool_failures) == (1, 2, 2)
    assert metrics.failed_knowledge_searches == 1
    assert (metrics.response_latency_p50_ms, metrics.response_latency_p95_ms) == (420.0, 610.0)  # the LLM's TTFT
    assert insights.next_step == "follow_up"  # the booking failed


def test_coaching_notes_follow_the_figures() -> None:
    long_answers = [
        (CALLER, "What does it cost?"),
        (AGENT, " ".join(["word"] * 80)),
        (CALLER, "Okay."),
    ]
    slow = {"latency": {"e2e_latency_ms": {"count": 2, "p50": 1200.0, "p95": 2400.0}}}
    insights = insights_of(long_answers, signals={"team_size": 12}, **slow)

    assert insights.metrics.response_latency_p95_ms == 2400.0  # end to end wins over the LLM's TTFT
    notes = " ".join(insights.coaching)
    assert "The agent spoke 94% of the words" in notes  # 80 of 85
    assert "Response latency p95 was 2400 ms" in notes
    assert "left without a next step" in notes  # buying signals, no next step
    quiet = insights_of([(CALLER, "What does it cost?"), (AGENT, "Per seat."), (CALLER, "Thanks.")])
    assert quiet.coaching == []


def test_a_caller_who_said_nothing_has_no_sentiment_and_a_reason() -> None:
    insights = insights_of([(CALLER, ""), (AGENT, "Hello? Are you there?"), (CALLER, "")])

    assert insights.sentiment.overall is None
    assert insights.sentiment.reason == "the caller said nothing the transcript kept"
    assert insights.summary.startswith("The caller shared nothing about their needs.")


def test_the_taxonomy_defines_the_required_topics_and_competitors() -> None:
    terms = taxonomy()
    required_topics = {"pricing", "integrations", "security_compliance", "templates", "esignature", "onboarding"}
    assert required_topics | {"api", "support"} <= set(terms.topics)
    assert {"docusign", "adobe_sign", "dropbox_sign"} <= set(terms.competitors)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda data: data["topics"].update({"Bad-Id": {"label": "x", "phrases": ["x"]}}), r"\[topics.Bad-Id\] id"),
        (lambda data: data["competitors"]["docusign"].update({"topics": ["nope"]}), "unknown topics"),
        (lambda data: data["topics"]["api"].update({"phrases": ["a.p.i"]}), "can never match"),
        (lambda data: data["cues"].pop("cancel"), r"\[cues\] must hold"),
        (lambda data: data["sentiment"].update({"awful": 9}), "from -4 to 4"),
        (lambda data: data["topics"]["api"].update({"phrases": ["api", "api"]}), "twice"),
        (lambda data: data["topics"]["api"].update({"signals": ["budget"]}), r"signals must be among"),
        (lambda data: data["cues"].update({"negation": ["not", "by no means"]}), "single lower-case words"),
    ],
    ids=["id", "competitor-topic", "phrase", "cue-list", "lexicon", "duplicate", "signal", "negation-word"],
)
def test_a_broken_taxonomy_stops_the_import_naming_the_entry(change: Any, message: str) -> None:
    data = tomllib.loads(TAXONOMY_PATH.read_text(encoding="utf-8"))
    change(data)
    with pytest.raises(TaxonomyError, match=message):
        parse_taxonomy(data)
