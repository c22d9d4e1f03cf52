"""Urgency: time pressure the caller is under.

A phrase ("asap", "under the gun", "by the 15th", "before our audit") is urgency unless a negation comes before it
("no rush"), it names a thing rather than a time ("the deadline field", "renewal letters"), the pressure is over
("it was urgent", "the deadline passed"), or the date is the caller's own reply ("i'll get back to you by friday").
Renewals and contracts that end are urgency only with a near date ("our renewal comes up in three weeks", not "isn't
until next year"). Over the utterance a negation said after urgency clears it, and urgency said after a negation
sets it.

Bounds: up to `NEGATION_TOKENS` tokens before a phrase for a negation, `_INTENT_TOKENS` for an intent word,
`_FEATURE_TOKENS` for a verb that makes it a product feature,
`_REPLY_TOKENS` for a reply, `_PAST_BEFORE` before and `_PAST_AFTER` after for pressure that is over, and
`_DATE_AFTER` after (or `_DATE_BEFORE` before) for a date.
"""

from __future__ import annotations

from .detection import joined
from .phrases import PhraseIndex
from .words import (
    FAR_DATES,
    FEATURE_PHRASES,
    FEATURE_VERBS,
    INTENT_WORDS,
    NEAR_DATES,
    NEGATION_SKIPS,
    NEGATORS,
    REPLY_WORDS,
    URGENCY_NEEDS_DATE,
    URGENCY_NEEDS_INTENT,
    URGENCY_NOT_BEFORE,
    URGENCY_PAST_AFTER,
    URGENCY_PAST_BEFORE,
    URGENCY_PHRASES,
)

NEGATION_TOKENS = 5
_INTENT_TOKENS = 10
_REPLY_TOKENS = 6
_PAST_BEFORE = 2
_PAST_AFTER = 2
_DATE_AFTER = 8
_DATE_BEFORE = 6
_FEATURE_TOKENS = 3

URGENCY_INDEX = PhraseIndex(dict.fromkeys(URGENCY_PHRASES, True))
_NEAR = PhraseIndex(dict.fromkeys(NEAR_DATES, True))
_FAR = PhraseIndex(dict.fromkeys(FAR_DATES, True))


def urgency_at(tokens: list[str], index: int) -> tuple[bool, str] | None:
    """At `index`: (True, text) for urgency, (False, text) for negated urgency, None when nothing is said there."""
    hit = URGENCY_INDEX.match_at(tokens, index)
    if hit is None:
        return None
    end = index + hit[0]
    text = joined(tokens[index:end])
    phrase = " ".join(tokens[index:end])
    if phrase in URGENCY_NEEDS_INTENT and INTENT_WORDS.isdisjoint(tokens[max(0, index - _INTENT_TOKENS) : index]):
        return None  # "i got four emails this week" reports the past; it is not time pressure
    if end < len(tokens) and tokens[end] in URGENCY_NOT_BEFORE:
        return None
    if phrase in FEATURE_PHRASES and not FEATURE_VERBS.isdisjoint(tokens[max(0, index - _FEATURE_TOKENS) : index]):
        return None  # "can you set a deadline on each envelope" is a product feature
    if _over(tokens, index, end) or (tokens[index] in ("by", "before") and _reply(tokens, index)):
        return None
    if phrase in URGENCY_NEEDS_DATE:
        date_end = _near_date(tokens, index, end)
        if date_end is None:
            return None
        text = joined(tokens[index:date_end])
    return (not _negated(tokens, index)), text


def _negated(tokens: list[str], index: int) -> bool:
    position = index - 1
    while position >= 0 and index - position <= NEGATION_TOKENS:
        token = tokens[position]
        if token in NEGATORS or token.endswith("n't"):
            return True
        if token not in NEGATION_SKIPS:
            return False
        position -= 1
    return False


def _over(tokens: list[str], index: int, end: int) -> bool:
    """ "it was urgent", "we had a deadline", "the deadline passed": pressure that is over."""
    for position in range(max(0, index - _PAST_BEFORE), index):
        token = tokens[position]
        if token in URGENCY_PAST_BEFORE and (token != "used" or tokens[position + 1] == "to"):
            return True
    return not URGENCY_PAST_AFTER.isdisjoint(tokens[end : end + _PAST_AFTER])


def _reply(tokens: list[str], index: int) -> bool:
    """ "i'll get back to you by friday", "let you know by monday": the date of the caller's own reply."""
    return not REPLY_WORDS.isdisjoint(tokens[max(0, index - _REPLY_TOKENS) : index])


def _near_date(tokens: list[str], index: int, end: int) -> int | None:
    """End of a near date after the phrase (or `end` for one said before it); None for none or a far one first."""
    for position in range(end, min(len(tokens), end + _DATE_AFTER)):
        if _FAR.match_at(tokens, position):
            return None
        if hit := _NEAR.match_at(tokens, position):
            return position + hit[0]
    if _NEAR.find(tokens, index - _DATE_BEFORE, index) is not None:
        return end
    return None
