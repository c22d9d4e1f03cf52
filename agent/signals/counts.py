"""Team size and monthly document volume: a number phrase read with the words around it.

"team of 12", "a 10-person firm", "five of us"; "300 contracts a month", "every week we send about 40 contracts",
"we send out about 300 a month". Each look-around is bounded: a rate within 5 (or 8) tokens after the noun or
12 before the number, a team word within 4 tokens before it, a volume verb within 4.
"""

from __future__ import annotations

from .detection import Detection, joined
from .numbers import (
    NUMBER_TRIGGERS,
    correction,
    noun_after,
    number_phrase_end,
    phrase_value,
    rate_at,
    skip_after_number,
)
from .words import (
    APPROXIMATORS,
    ARTICLE_STARTS,
    COUNT_OF_EXTRA,
    DOC_NOUNS,
    LABEL_WORDS,
    OTHER_NOUNS,
    OTHER_PEOPLE,
    PLURAL_SCALES,
    RATE_FILLERS,
    TEAM_CONTEXT,
    TEAM_LINKS,
    TEAM_NOUNS,
    VAGUE,
    VOLUME_VERB_SKIPS,
    VOLUME_VERBS,
)

# Real speech has a handful of numbers per utterance; past this many the rest are not examined.
MAX_NUMBER_PHRASES = 256
_COUNT_OF_WORDS = frozenset(PLURAL_SCALES) | frozenset(VAGUE) | {"dozen", "hundred", "thousand"} | COUNT_OF_EXTRA
_TEAM_FOLLOWING_BLOCK = OTHER_NOUNS  # "our company is 20 years old"


def _rate_after(tokens: list[str], index: int, reach: int) -> tuple[float, int] | None:
    """The first rate within `reach` tokens after `index`, skipping fillers such as "or so" and "on average"."""
    limit = min(len(tokens), index + reach)
    while index < limit:
        found = rate_at(tokens, index)
        if found is not None:
            return found
        if tokens[index] not in RATE_FILLERS and tokens[index] not in DOC_NOUNS:
            return None
        index += 1
    return None


def _rate_before(tokens: list[str], start: int, reach: int) -> float | None:
    """A rate said before the number: "every week we send about 40 contracts", "monthly we do 200 docs"."""
    for index in range(max(0, start - reach), start):
        found = rate_at(tokens, index)
        if found is not None and found[1] <= start:
            return found[0]
    return None


def _context_before(tokens: list[str], start: int) -> int | None:
    """Index of a team word before the number ("team of about 12", "headcount is 45"), skipping link words."""
    index = start - 1
    skipped = 0
    while index >= 0 and skipped <= 3:
        token = tokens[index]
        if token in TEAM_CONTEXT:
            return index
        if token not in TEAM_LINKS:
            return None
        index -= 1
        skipped += 1
    return None


def _volume_verb_before(tokens: list[str], start: int) -> int | None:
    index = start - 1
    while index >= 0 and start - index <= 4:
        token = tokens[index]
        if token in VOLUME_VERBS:
            return index
        if token not in APPROXIMATORS and token not in VOLUME_VERB_SKIPS:
            return None
        index -= 1
    return None


def scan_numbers(tokens: list[str], found: Detection) -> None:
    """Read every number phrase with its neighbours; the first team size and first volume in the utterance win."""
    triggers = NUMBER_TRIGGERS
    # A generator, not a list: the pass stops after MAX_NUMBER_PHRASES, and a 100,000-character run of numbers then
    # leaves the rest of its tokens unread (17 of the 46 ms of "-1" * 50,000 went to listing them all).
    candidates = (i for i, token in enumerate(tokens) if token in triggers or "0" <= token[0] <= "9")
    index = 0
    examined = 0
    for candidate in candidates:
        if candidate < index:
            continue  # inside the phrase just read
        if examined == MAX_NUMBER_PHRASES:
            return
        examined += 1
        index = candidate
        if index and tokens[index - 1] in ("a", "an") and tokens[index] in ARTICLE_STARTS:
            index -= 1  # "a couple hundred", "a dozen"
        end = number_phrase_end(tokens, index)
        value = phrase_value(tokens[index:end])
        if value is None or value <= 0 or (index and tokens[index - 1] in LABEL_WORDS):
            index = end
            continue
        after = skip_after_number(tokens, end)
        if found.team_size is None:
            _read_team(tokens, index, after, value, found)
        if found.monthly_volume is None:
            _read_volume(tokens, index, after, value, found)
        if found.team_size is not None and found.monthly_volume is not None:
            return
        index = end


def _previous_word(tokens: list[str], start: int) -> str:
    """The word before a number phrase, skipping approximators ("to like five people" gives "to")."""
    index = start - 1
    while index >= 0 and tokens[index] in APPROXIMATORS and tokens[index] != "to":
        index -= 1
    return tokens[index] if index >= 0 else ""


def _read_team(tokens: list[str], start: int, after: int, value: float, found: Detection) -> None:
    size = len(tokens)
    end: int | None = None
    position = after + 1 if after < size and tokens[after] == "-" else after
    noun = noun_after(tokens, position, TEAM_NOUNS)
    if noun is not None and tokens[noun] in OTHER_PEOPLE and _previous_word(tokens, start) == "to":
        return  # "i showed it to five people" are other people; "roll it out to 100 users" are seats
    if noun is not None:
        end = noun + 1
    elif tokens[position : position + 2] == ["of", "us"]:
        end = position + 2
    elif position < size and tokens[position] == "strong":
        end = position + 1
    else:
        context = _context_before(tokens, start)
        following = tokens[after] if after < size else ""
        if context is not None and following not in _TEAM_FOLLOWING_BLOCK and following not in DOC_NOUNS:
            start, end = context, after
    if end is not None and (corrected := correction(tokens, end)):
        value, end = corrected
    if end is not None and 1 <= value <= 10_000_000:
        team = round(value)
        found.team_size = team
        found.evidence.append(("team_size", team, joined(tokens[start:end])))


def _read_volume(tokens: list[str], start: int, after: int, value: float, found: Detection) -> None:
    size = len(tokens)
    position = after
    # "hundreds of ndas", "a couple of contracts"; but "one of the docs" is a part, not a count
    if position < size and tokens[position] == "of" and tokens[after - 1] in _COUNT_OF_WORDS:
        position += 1
        if position < size and tokens[position] in ("our", "the", "those", "these", "them"):
            position += 1
    noun = noun_after(tokens, position, DOC_NOUNS)
    factor: float | None
    if noun is not None:
        rate = _rate_after(tokens, noun + 1, 5)
        end = noun + 1
        if rate is not None:
            factor, end = rate
        else:
            factor = _rate_before(tokens, start, 12)
            if factor is None:
                late = _rate_after(tokens, noun + 1, 8)
                factor = late[0] if late else 1.0  # no period said: callers talk about a month
    else:
        rate = rate_at(tokens, after)
        verb = _volume_verb_before(tokens, start) if rate is not None else None
        if rate is None or verb is None:
            return
        factor, end = rate
        start = verb
    if corrected := correction(tokens, end):
        value, end = corrected
    monthly = round(value * factor)
    if 0 < monthly <= 1_000_000_000:
        found.monthly_volume = monthly
        found.evidence.append(("monthly_volume", monthly, joined(tokens[start:end])))
