"""The `local` insights provider: offline and deterministic, the default, and the fallback of `bedrock`.

- Sentiment: VADER (a lexicon and rule model for conversational text, its lexicon shipped in the package), with the
  taxonomy's adjustments for words that mean something else in a sales call. Scored sentence by sentence: VADER's
  cost grows faster than the text on long inputs, and a turn's polarity is the mean of its opinionated sentences.
- Topics, competitors, objections, risk and follow-up cues: the taxonomy's phrases in the caller's safe words, the
  knowledge searches' categories and queries, and the detector's signals. An objection is a caller sentence with an
  objection cue, or a clearly negative one about a topic or a competitor.
- Unanswered questions: knowledge searches that failed or found nothing (their query), and caller questions the
  agent deflected ("I'm not sure, a colleague will get back to you").
- Summary: extractive, two or three sentences: the caller and what they asked about (from the signals and topics),
  the caller sentence that carries the most (an objection, a competitor, a topic, strong feeling), and the outcome.
"""

from __future__ import annotations

from dataclasses import dataclass

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from functions.common.insights import (
    MAX_IDS,
    MAX_ITEMS,
    MAX_SENTIMENT_TURNS,
    SUMMARY_CHARS,
    TEXT_CHARS,
    CallMetrics,
    Insights,
    NextStep,
    Risk,
    Sentiment,
    TurnSentiment,
)
from functions.common.sanitise import single_line, truncate
from functions.score_lead.insights.facts import CallFacts, Sentence, mean, split_sentences, window
from functions.score_lead.insights.taxonomy import Taxonomy, taxonomy, tokens

# VADER's own thresholds: a compound score within +-0.05 is neutral.
NEUTRAL = 0.05
# A call this negative overall, naming a competitor, is a churn risk.
UNHAPPY = -0.3
QUOTE_CHARS = 160
MIN_QUOTE_WORDS = 4


def _analyzer(lexicon: dict[str, float]) -> SentimentIntensityAnalyzer:
    """Built once per container (it reads its 7,500-word lexicon and the emoji lexicon from the package)."""
    analyzer = SentimentIntensityAnalyzer()
    analyzer.lexicon.update(lexicon)  # the lexicon is a plain dict attribute, documented as VADER's word list
    return analyzer


ANALYZER = _analyzer(dict(taxonomy().sentiment_lexicon))


def polarity(sentence: str) -> float:
    return float(ANALYZER.polarity_scores(sentence)["compound"])


class Polarities(dict[str, float]):
    """VADER's compound score of each sentence of one session, computed once (sentiment, objections and the
    summary all read it); one per session, so no caller's words outlive it."""

    def __missing__(self, sentence: str) -> float:
        self[sentence] = score = polarity(sentence)
        return score


def short(text: str, limit: int = QUOTE_CHARS) -> str:
    return truncate(single_line(text), min(limit, TEXT_CHARS))


# ------------------------------------------------------------------------------------------------ sentiment


def sentiment(facts: CallFacts, polarities: Polarities) -> Sentiment:
    if facts.source == "signals":
        return Sentiment(reason="no transcript to score (transcript_mode off)")
    turn_scores: list[TurnSentiment] = []
    opinionated: list[float] = []
    for index, text in facts.caller:
        scores = [polarities[sentence] for sentence in split_sentences(text)]
        strong = [score for score in scores if abs(score) >= NEUTRAL]
        opinionated += strong
        turn_scores.append(TurnSentiment(turn_index=index, score=mean(strong) or 0.0))
    if not turn_scores:
        return Sentiment(reason="the caller said nothing the transcript kept")
    size = window(len(turn_scores))
    return Sentiment(
        overall=mean(opinionated) or 0.0,
        start=mean([turn.score for turn in turn_scores[:size]]),
        end=mean([turn.score for turn in turn_scores[-size:]]),
        turns=turn_scores[:MAX_SENTIMENT_TURNS],
    )


# ------------------------------------------------------------------------------------------- what was said


@dataclass(frozen=True)
class Reading:
    """What the taxonomy finds in the caller's sentences (and, without a transcript, in the knowledge queries)."""

    topics: list[str]
    competitors: list[str]
    objections: list[Sentence]
    cancel: list[Sentence]
    churn: list[Sentence]
    naming_competitors: list[Sentence]
    follow_up_asked: bool


def _negated(words: list[str], position: int, negations: frozenset[str]) -> bool:
    return any(word in negations for word in words[max(0, position - 3) : position])


def read_call(facts: CallFacts, terms: Taxonomy, polarities: Polarities) -> Reading:
    topics: list[str] = []
    competitors: list[str] = []
    objections: list[Sentence] = []
    cancel: list[Sentence] = []
    churn: list[Sentence] = []
    naming: list[Sentence] = []
    follow_up_asked = False
    texts = [*facts.caller_sentences(), *(Sentence(-1, k.query) for k in facts.knowledge if k.query)]
    for sentence in texts:
        words = tokens(sentence.text)
        topics += terms.topic_phrases.keys_in(words)
        found = terms.competitor_phrases.keys_in(words)
        competitors += found
        for competitor in found:
            topics += terms.competitors[competitor].topics
        if sentence.turn_index < 0:
            continue  # a knowledge query says what was asked, not what the caller felt or wanted
        if found:
            naming.append(sentence)
        # An objection: its cue ("too expensive", "doesn't support"), or clear displeasure about a product topic or a
        # competitor ("your pricing is ridiculous").
        about_something = bool(found) or bool(terms.topic_phrases.find(words))
        if terms.cues["objection"].find(words) or (about_something and polarities[sentence.text] <= UNHAPPY):
            objections.append(sentence)
        if any(not _negated(words, position, terms.negations) for position, _ in terms.cues["cancel"].find(words)):
            cancel.append(sentence)
        if terms.cues["churn"].find(words):
            churn.append(sentence)
        follow_up_asked = follow_up_asked or bool(terms.cues["follow_up"].find(words))
    for outcome in facts.knowledge:
        topics += [entry.id for entry in terms.topics.values() if outcome.category in entry.categories]
    found_signals = {name for name, value in facts.signals.items() if value not in (None, (), "")}
    topics += [entry.id for entry in terms.topics.values() if found_signals & set(entry.signals)]
    return Reading(
        topics=list(dict.fromkeys(topics))[:MAX_IDS],
        competitors=list(dict.fromkeys(competitors))[:MAX_IDS],
        objections=objections,
        cancel=cancel,
        churn=churn,
        naming_competitors=naming,
        follow_up_asked=follow_up_asked,
    )


def _is_question(sentence: str, terms: Taxonomy) -> bool:
    words = tokens(sentence)
    return sentence.rstrip().endswith("?") or bool(words and words[0] in terms.question_starts)


def unanswered_questions(facts: CallFacts, terms: Taxonomy) -> list[str]:
    """Failed or empty knowledge searches (their query), then caller questions the next agent turn deflected.

    An agent that searched in vain deflects next, so the first deflections stand for the failed searches, whose
    queries are already listed: only deflections beyond their number add the caller's question. (The transcript
    has no timestamps to pair a search with its turn.)"""
    found = [
        short(outcome.query) if outcome.query else f"a {outcome.category or 'product'} question (search failed)"
        for outcome in facts.knowledge
        if not outcome.answered
    ]
    deflected = []
    agent_after = dict(zip([index for index, _ in facts.caller], _next_agent_texts(facts), strict=True))
    for index, text in facts.caller:
        reply = agent_after[index]
        if reply is None or not terms.cues["deflection"].find(tokens(reply)):
            continue
        questions = [sentence for sentence in split_sentences(text) if _is_question(sentence, terms)]
        if questions:
            deflected.append(short(questions[-1]))
    found += deflected[len(found) :]
    unique: dict[str, str] = {}
    for question in found:
        unique.setdefault(question.lower(), question)
    return list(unique.values())[:MAX_ITEMS]


def _next_agent_texts(facts: CallFacts) -> list[str | None]:
    """For each caller turn, the agent's words up to the caller's next turn (None when the agent said nothing)."""
    result: list[str | None] = []
    caller_indexes = [index for index, _ in facts.caller]
    for position, index in enumerate(caller_indexes):
        following = caller_indexes[position + 1] if position + 1 < len(caller_indexes) else None
        words = [
            text
            for agent_index, text in facts.agent
            if agent_index > index and (following is None or agent_index < following)
        ]
        result.append(" ".join(words) if words else None)
    return result


def next_step(facts: CallFacts, unanswered: list[str], reading: Reading) -> NextStep:
    """A booked meeting is the next step; else a follow-up is owed when a question went unanswered, a booking
    failed, the caller asked to be contacted, left contact details, or wants to cancel; else none."""
    if facts.meeting_booked:
        return "meeting_booked"
    owed = unanswered or facts.meeting_failed or reading.follow_up_asked or facts.contact_given or reading.cancel
    return "follow_up" if owed else "none"


def risk(reading: Reading, overall: float | None) -> Risk:
    """Cancel intent: an explicit, not negated cancel cue. Churn risk: that, a caller weighing a way out, or a
    clearly unhappy caller who names a competitor (the sentences naming it are the evidence)."""
    unhappy_with_alternative = bool(reading.competitors) and overall is not None and overall <= UNHAPPY
    churn = bool(reading.cancel or reading.churn or unhappy_with_alternative)
    named = [sentence for sentence in reading.naming_competitors if unhappy_with_alternative]
    evidence = [short(sentence.text) for sentence in [*reading.cancel, *reading.churn, *named]]
    return Risk(cancel_intent=bool(reading.cancel), churn_risk=churn, evidence=list(dict.fromkeys(evidence))[:3])


# ------------------------------------------------------------------------------------------------- coaching


def coaching_notes(metrics: CallMetrics, mood: Sentiment, step: NextStep, qualified: bool) -> list[str]:
    """Notes for whoever tunes the agent, each derived from a figure of the call (thresholds: taxonomy.toml)."""
    limits = taxonomy().coaching
    notes = []
    if metrics.agent_talk_share is not None and metrics.agent_talk_share > limits["agent_talk_share_above"]:
        notes.append(
            f"The agent spoke {metrics.agent_talk_share:.0%} of the words: shorter answers and more open questions "
            "would let the caller talk."
        )
    if metrics.failed_knowledge_searches:
        notes.append(
            f"{metrics.failed_knowledge_searches} knowledge search(es) failed or found nothing: add the missing "
            "answers to the knowledge base (see the unanswered questions)."
        )
    other_failures = metrics.tool_failures - metrics.failed_knowledge_searches
    if other_failures > 0:
        notes.append(f"{other_failures} other tool call(s) failed: check the booking service.")
    latency = metrics.response_latency_p95_ms
    if latency is not None and latency > limits["response_latency_p95_ms_above"]:
        notes.append(f"Response latency p95 was {latency:.0f} ms: callers notice pauses over 1.5 s.")
    if metrics.interruptions >= limits["interruptions_at_least"]:
        notes.append(f"The caller cut the agent short {metrics.interruptions} times: keep answers shorter.")
    if mood.start is not None and mood.end is not None and mood.start - mood.end >= limits["sentiment_drop_at_least"]:
        notes.append(
            f"Sentiment fell from {mood.start:+.2f} at the start to {mood.end:+.2f} at the end: review the call."
        )
    if qualified and step == "none":
        notes.append("A caller with buying signals left without a next step: offer a meeting or a follow-up.")
    return [short(note, TEXT_CHARS) for note in notes][:MAX_ITEMS]


# -------------------------------------------------------------------------------------------------- summary


def _list(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _who(facts: CallFacts) -> str:
    industry = facts.industry.replace("_", " ") if facts.industry else None
    subject = f"{'An' if industry[0] in 'aeiou' else 'A'} {industry} caller" if industry else "The caller"
    details = []
    if facts.team_size is not None:
        details.append("working alone" if facts.team_size == 1 else f"with a team of {facts.team_size}")
    if facts.monthly_volume is not None:
        details.append(f"sending about {facts.monthly_volume} documents a month")
    return " ".join([subject, *details])


def _key_sentence(facts: CallFacts, reading: Reading, terms: Taxonomy, polarities: Polarities) -> str | None:
    """The caller sentence that says the most: cues, competitors, topics and strong feeling count; the earliest
    wins a tie. Sentences that are mostly masks or too short to stand alone are passed over."""
    weighty = {*reading.objections, *reading.cancel, *reading.churn}
    best: tuple[float, str] | None = None
    for sentence in facts.caller_sentences():
        words = tokens(sentence.text)
        if len(words) < MIN_QUOTE_WORDS or sentence.text.count("[") > 1:
            continue
        weight = 2.0 * (sentence in weighty)
        weight += len(terms.competitor_phrases.find(words)) + len(terms.topic_phrases.find(words))
        weight += abs(polarities[sentence.text])
        if weight > 0.5 and (best is None or weight > best[0]):
            best = (weight, sentence.text)
    return best[1] if best else None


def _owed(facts: CallFacts, reading: Reading, unanswered: int) -> list[str]:
    """Why a follow-up is owed, in the order `next_step` weighs them."""
    reasons = [f"{unanswered} unanswered question(s)"] if unanswered else []
    if facts.meeting_failed:
        reasons.append("the booking failed")
    if reading.cancel:
        reasons.append("the cancellation")
    if reading.follow_up_asked:
        reasons.append("the caller asked to be contacted")
    if facts.contact_given and not reasons:
        reasons.append("contact details were left")
    return reasons


def _outcome(facts: CallFacts, reading: Reading, step: NextStep, mood: Sentiment, unanswered: int) -> str:
    tone = ""
    if mood.overall is not None:
        tone = "positive" if mood.overall >= NEUTRAL else "negative" if mood.overall <= -NEUTRAL else "neutral"
        tone = f"The tone was {tone}"
    parts = []
    if reading.cancel:
        parts.append("the caller intends to cancel")
    if step == "meeting_booked":
        parts.append("a sales meeting was booked")
    elif step == "follow_up":
        parts.append(f"a follow-up is needed ({', '.join(_owed(facts, reading, unanswered))})")
    else:
        parts.append("no next step was agreed")
    outcome = _list(parts)
    return f"{tone}; {outcome}." if tone else f"{outcome[0].upper()}{outcome[1:]}."


def summary(
    facts: CallFacts,
    reading: Reading,
    terms: Taxonomy,
    step: NextStep,
    mood: Sentiment,
    polarities: Polarities,
    unanswered: int,
) -> str:
    first = _who(facts)
    asked = [terms.label(topic) for topic in reading.topics]
    named = [terms.label(competitor) for competitor in reading.competitors]
    clauses = []
    if asked:
        clauses.append(f"asked about {_list(asked)}")
    if named:
        clauses.append(f"mentioned {_list(named)}")
    first += (" " + " and ".join(clauses) if clauses else " shared nothing about their needs") + "."
    sentences = [first]
    key = _key_sentence(facts, reading, terms, polarities) if facts.source == "transcript" else None
    if key:
        sentences.append(f'In their words: "{short(key).rstrip(".")}".')
    sentences.append(_outcome(facts, reading, step, mood, unanswered))
    if facts.source == "signals":
        sentences[-1] = sentences[-1].rstrip(".") + " (built from signals and tool calls: no transcript)."
    return truncate(" ".join(sentences), SUMMARY_CHARS)


# ------------------------------------------------------------------------------------------------- provider


class LocalInsightsProvider:
    """Insights from the taxonomy and VADER, in this process."""

    method = "local"

    def insights(self, facts: CallFacts, fallback_reason: str | None = None) -> Insights:
        terms = taxonomy()
        polarities = Polarities()
        mood = sentiment(facts, polarities)
        reading = read_call(facts, terms, polarities)
        unanswered = unanswered_questions(facts, terms)
        step = next_step(facts, unanswered, reading)
        return Insights(
            method="local",
            fallback_reason=short(fallback_reason, TEXT_CHARS) if fallback_reason else None,
            source="signals" if facts.source == "signals" else "transcript",
            summary=summary(facts, reading, terms, step, mood, polarities, len(unanswered)),
            sentiment=mood,
            topics=reading.topics,
            competitors=reading.competitors,
            objections=list(dict.fromkeys(short(sentence.text) for sentence in reading.objections))[:MAX_ITEMS],
            unanswered_questions=unanswered,
            next_step=step,
            risk=risk(reading, mood.overall),
            metrics=facts.metrics,
            coaching=coaching_notes(facts.metrics, mood, step, facts.qualified),
        )
