"""Team size and monthly document volume: every number phrase read with the words around it, then resolved.

Readings: "team of 12", "a 10-person firm", "five of us" give a team; "300 contracts a month", "every week we send
about 40 contracts", "we send out about 300 a month" give a volume. Counts of other things are kept when they can
multiply a reading: units ("thirty closings a month") for documents per unit ("every closing needs four
documents"), groups ("three offices") for people per group ("with about 20 people each"); a volume per person ("each
of us sends ten a week") is multiplied by the team once the whole utterance is read (see `detector.py`).

A value that changes: a reading the caller marks as past ("we used to send", "we were ten people", "up from 70")
is stale, and the first current reading of each kind wins; "went from 150 to 300" reads 300, and a bare number after
"now" ("now it's more like 50") takes the noun and the rate of the reading before it. A stale value stands when
nothing current replaces it.

Bounds: a number phrase is at most `numbers.PHRASE_TOKENS` tokens and at most `MAX_NUMBER_PHRASES` are read; around
one, a rate is looked for up to 8 tokens after its noun or 12 before it, a team word up to 4 before, a volume verb up
to 4, a past marker up to `_PAST_REACH` before and 3 after, an "each" up to `_EACH_REACH` before, a "now" between a
reading and a bare number up to `_CHANGE_REACH` tokens apart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .detection import joined
from .numbers import (
    NUMBER_START,
    NUMBER_TRIGGERS,
    correction,
    noun_after,
    number_phrase_end,
    parse_numbers,
    phrase_value,
    rate_at,
    skip_after_number,
)
from .words import (
    APPROXIMATORS,
    ARTICLE_STARTS,
    CHANGE_VERBS,
    COUNT_OF_EXTRA,
    DOC_NOUNS,
    EACH_LINKS,
    EACH_WORDS,
    FUNCTION_WORDS,
    GROUP_NOUNS,
    LABEL_WORDS,
    NOT_AFTER_EACH,
    NOW_LINKS,
    NOW_MARKERS,
    NOW_PHRASES,
    OTHER_NOUNS,
    OTHER_PEOPLE,
    PAST_AFTER,
    PAST_BEFORE,
    PER_WORDS,
    PLURAL_SCALES,
    RATE_ADVERBS,
    RATE_FILLERS,
    RATE_UNITS,
    ROLES,
    SUBJECT_LINKS,
    TEAM_CONTEXT,
    TEAM_LINKS,
    TEAM_NOUNS,
    TOTAL_WORDS,
    UNIT_MODIFIERS,
    UNIT_NOUNS,
    VAGUE,
    VOLUME_VERB_SKIPS,
    VOLUME_VERBS,
)

# Real speech has a handful of numbers per utterance; past this many the rest are not examined.
MAX_NUMBER_PHRASES = 256
_COUNT_OF_WORDS = frozenset(PLURAL_SCALES) | frozenset(VAGUE) | {"dozen", "hundred", "thousand"} | COUNT_OF_EXTRA
_TEAM_FOLLOWING_BLOCK = OTHER_NOUNS  # "our company is 20 years old"
_PAST_REACH = 6
_EACH_REACH = 8
_CHANGE_REACH = 12
_NOW_LINK_REACH = 4
_LIST_LEAD = 4
# "ten people a month", "5 people per week", "two people weekly": a rate of people (not "18 people this year").
_FLOW_LEADS = frozenset({"a", "an", "per", "each", "every", "/"}) | frozenset(RATE_ADVERBS)
_LIST_ITEMS = 8
_TIMES = {"once": 1, "twice": 2}
_PERSON_NOUNS = TEAM_NOUNS | ROLES
_COUNTED_NOUNS = UNIT_NOUNS | GROUP_NOUNS
_KNOWN_NOUNS = OTHER_NOUNS | UNIT_NOUNS | GROUP_NOUNS | DOC_NOUNS | _PERSON_NOUNS
_NOW_FIRST = frozenset(phrase.split()[0] for phrase in NOW_PHRASES)
_PAST_OR_FROM = PAST_BEFORE | {"from"}
_PER_MARKERS = EACH_WORDS | {"per"}
_NOW_ANY = NOW_MARKERS | _NOW_FIRST
# Words around a reading that call for its look-arounds (past, change, rate per each).
_MARKS_BEFORE = _PAST_OR_FROM | _PER_MARKERS
_MARKS_AFTER = PAST_AFTER | TOTAL_WORDS | PER_WORDS | EACH_LINKS | EACH_WORDS | {"in"}


@dataclass(slots=True)
class Reading:
    """One count in the utterance: what it counts, its value (documents and units per month), and where it is."""

    kind: str  # "team", "volume", "units" or "groups"
    value: float
    start: int
    end: int
    noun: str = ""
    factor: float = 1.0  # a volume's rate to a month, which a bare current number takes
    stale: bool = False
    changed_from: bool = False  # said after "went from": "to N" next is the current value
    per: str = ""  # "person", "unit" or "group": the value is per each of them
    own_rate: bool = True  # the volume's rate was said with it, not borrowed from before it


@dataclass(slots=True)
class Counts:
    """The team and the volume of one utterance, resolved; the volume may still be per person (see detector.py)."""

    team: Reading | None
    volume: Reading | None


def _rate_after(tokens: list[str], index: int, reach: int) -> tuple[float, int] | None:
    """The first rate within `reach` tokens after `index`, skipping fillers such as "or so" and "on average"."""
    limit = min(len(tokens), index + reach)
    while index < limit:
        found = rate_at(tokens, index)
        if found is not None:
            return found
        if tokens[index] in _TIMES and (found := rate_at(tokens, index + 1)) is not None:
            return _TIMES[tokens[index]] * found[0], found[1]  # "one lease once a year", "twice a month"
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
        if token not in TEAM_LINKS and token not in CHANGE_VERBS and token != "from":  # "headcount grew from"
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


def _is_number(token: str) -> bool:
    return "0" <= token[0] <= "9" or token in NUMBER_START


def _now_at(tokens: list[str], index: int) -> int:
    """Length of a "now" marker at `index` ("now", "these days"), 0 if none."""
    token = tokens[index]
    if token in NOW_MARKERS:
        return 1
    if token in _NOW_FIRST:
        for phrase in NOW_PHRASES:
            words = phrase.split()
            if tokens[index : index + len(words)] == words:
                return len(words)
    return 0


def _from_change(tokens: list[str], start: int) -> bool:
    """ "went from", "up from" right before `start` (approximators skipped): the number after is a past value."""
    if "from" not in tokens[max(0, start - 4) : start]:
        return False
    index = start - 1
    while index >= 0 and tokens[index] in APPROXIMATORS and tokens[index] != "from":
        index -= 1
    return index >= 1 and tokens[index] == "from" and (tokens[index - 1] in CHANGE_VERBS)


def _stale(tokens: list[str], start: int, end: int, kind: str) -> bool:
    """A past marker before the reading (not across "now" or another number) or right after it."""
    before = tokens[max(0, start - _PAST_REACH) : start]
    if _PAST_OR_FROM.isdisjoint(before) and PAST_AFTER.isdisjoint(tokens[end : end + 3]):
        return False  # most readings: one C-level check each side
    index = start - 1
    while index >= 0 and start - index <= _PAST_REACH:
        token = tokens[index]
        if _is_number(token) or _now_at(tokens, index):
            break
        if token in PAST_BEFORE:
            return True
        index -= 1
    if _from_change(tokens, start):
        return True
    for token in tokens[end : end + 3]:
        if token in NOW_MARKERS:
            return False
        if token in PAST_AFTER and (kind == "team" or token != "last"):
            return True
    return False


def scan_numbers(tokens: list[str]) -> Counts:
    """Read every number phrase with its neighbours, then resolve the team and the volume of the utterance."""
    triggers = NUMBER_TRIGGERS
    # A generator, not a list: the pass stops after MAX_NUMBER_PHRASES, and a 100,000-character run of numbers then
    # leaves the rest of its tokens unread (17 of the 46 ms of "-1" * 50,000 went to listing them all).
    candidates = (i for i, token in enumerate(tokens) if token in triggers or "0" <= token[0] <= "9")
    readings: list[Reading] = []
    index = 0
    examined = 0
    for candidate in candidates:
        if candidate < index:
            continue  # inside the phrase just read
        if examined == MAX_NUMBER_PHRASES:
            break
        examined += 1
        index = candidate
        if index and tokens[index - 1] in ("a", "an") and tokens[index] in ARTICLE_STARTS:
            index -= 1  # "a couple hundred", "a dozen"
        end = number_phrase_end(tokens, index)
        value = _value(tokens, index, end) if end - index > 2 else phrase_value(tokens[index:end])
        if value is None or value <= 0 or (index and tokens[index - 1] in LABEL_WORDS):
            index = end
            continue
        after = skip_after_number(tokens, end)
        team = _read_team(tokens, index, after, value)
        volume = _read_volume(tokens, index, after, value)
        if team is None and volume is None:
            other = _read_other(tokens, index, after, value) or _read_current(tokens, index, after, value, readings)
            if other is not None:
                readings.append(other)
                end = max(end, other.end)
            index = end
            continue
        for reading in (team, volume):
            if reading is None:
                continue
            # "ten people a month" is a flow, read as units. Most readings have no marker of a past, a rate per
            # each or a change around them: two C-level checks spare them the look-arounds.
            if reading.kind != "units" and (
                not _MARKS_BEFORE.isdisjoint(tokens[max(0, reading.start - _EACH_REACH) : index])
                or not _MARKS_AFTER.isdisjoint(tokens[reading.end : reading.end + 3])
                or reading.per
            ):
                reading.stale = _stale(tokens, reading.start, reading.end, reading.kind)
                reading.changed_from = _from_change(tokens, index)
                _read_per(tokens, index, reading, readings)
                if reading.kind == "team" and reading.per != "group":
                    reading.per = ""  # people per person is the team itself
            if readings and reading.kind != "units":
                _supersede(tokens, reading, readings)
            readings.append(reading)
            end = max(end, reading.end)
        index = end
    if any(
        reading.kind in ("units", "groups") or (reading.kind == "volume" and reading.noun in UNIT_NOUNS)
        for reading in readings
    ) and not any(reading.per in ("unit", "group") for reading in readings if reading.kind == "volume"):
        listed = _documents_listed_per_unit(tokens)
        if listed is not None:
            readings.append(listed)
    return _resolve(readings)


def _supersede(tokens: list[str], reading: Reading, readings: list[Reading]) -> None:
    """A reading said after "now", "these days", "this year" makes the one before it of its kind a past value."""
    for previous in reversed(readings):
        if previous.kind == reading.kind:
            between = range(previous.end, reading.start)
            if (
                0 < len(between) <= 2 * _CHANGE_REACH
                and not _NOW_ANY.isdisjoint(tokens[previous.end : reading.start])
                and any(_now_at(tokens, index) for index in between)
            ):
                previous.stale = True
            return


def _value(tokens: list[str], start: int, end: int) -> float | None:
    """The phrase's value; after a change ("went from 150 to 300") the last value, not the midpoint of a range."""
    if end - start > 2 and "to" in tokens[start:end] and _from_change(tokens, start):
        values = parse_numbers(tokens[start:end])
        return values[-1] if values else None
    return phrase_value(tokens[start:end])


def _previous_word(tokens: list[str], start: int) -> str:
    """The word before a number phrase, skipping approximators ("to like five people" gives "to")."""
    index = start - 1
    while index >= 0 and tokens[index] in APPROXIMATORS and tokens[index] != "to":
        index -= 1
    return tokens[index] if index >= 0 else ""


def _read_team(tokens: list[str], start: int, after: int, value: float) -> Reading | None:
    size = len(tokens)
    end: int | None = None
    per = ""
    position = after + 1 if after < size and tokens[after] == "-" else after
    noun = noun_after(tokens, position, _PERSON_NOUNS)
    if noun is not None and tokens[noun] in OTHER_PEOPLE and _previous_word(tokens, start) == "to":
        return None  # "i showed it to five people" are other people; "roll it out to 100 users" are seats
    if noun is not None and noun + 1 < size and tokens[noun + 1] in _FLOW_LEADS and (rate := rate_at(tokens, noun + 1)):
        # "we hire about ten people a month": a flow of people, counted as units (new hires), not the headcount
        return Reading("units", value * rate[0], start, rate[1], noun=tokens[noun], factor=rate[0])
    if noun is not None:
        end = noun + 1
    elif _previous_word(tokens, start) == "of" and (group := _group_before_of(tokens, start)) is not None:
        start, end, per = group, after, "group"  # "four crews of five", "two offices of 20 each"
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
    if end is None or not 1 <= value <= 10_000_000:
        return None
    return Reading("team", value, start, end, noun=tokens[noun] if noun is not None else "", per=per)


def _group_before_of(tokens: list[str], start: int) -> int | None:
    """Index of the group noun in "crews of", "offices of about" before a number, or None."""
    index = start - 1
    while index >= 0 and tokens[index] != "of" and start - index <= 3:
        index -= 1
    return index - 1 if index >= 1 and tokens[index] == "of" and tokens[index - 1] in GROUP_NOUNS else None


def _read_volume(tokens: list[str], start: int, after: int, value: float) -> Reading | None:
    size = len(tokens)
    position = after
    # "hundreds of ndas", "a couple of contracts"; but "one of the docs" is a part, not a count
    if position < size and tokens[position] == "of" and tokens[after - 1] in _COUNT_OF_WORDS:
        position += 1
        if position < size and tokens[position] in ("our", "the", "those", "these", "them"):
            position += 1
    noun = noun_after(tokens, position, DOC_NOUNS)
    factor: float | None
    own_rate = True
    if noun is not None:
        rate = _rate_after(tokens, noun + 1, 5)
        end = noun + 1
        if rate is not None:
            factor, end = rate
        else:
            own_rate = False
            factor = _rate_before(tokens, start, 12)
            if factor is None:
                late = _rate_after(tokens, noun + 1, 8)
                factor = late[0] if late else 1.0  # no period said: callers talk about a month
    else:
        rate = rate_at(tokens, after)
        verb = _volume_verb_before(tokens, start) if rate is not None else None
        if rate is not None and verb is None:
            verb = _document_subject_before(tokens, start)  # "invoices went from 100 a month"
        if rate is None or verb is None:
            return None
        factor, end = rate
        start = verb
    if corrected := correction(tokens, end):
        value, end = corrected
    if not 0 < value * factor <= 1_000_000_000:
        return None
    noun_text = tokens[noun] if noun is not None else ""
    return Reading("volume", value * factor, start, end, noun=noun_text, factor=factor, own_rate=own_rate)


def _document_subject_before(tokens: list[str], start: int) -> int | None:
    """A document noun said as the subject before a count and its rate: "quotes went from 200 a quarter", "our
    invoices are about 300 a month"."""
    index = start - 1
    while index >= 0 and start - index <= 5:
        token = tokens[index]
        if token in DOC_NOUNS:
            return index
        if token not in APPROXIMATORS and token not in CHANGE_VERBS and token not in SUBJECT_LINKS:
            return None
        index -= 1
    return None


def _read_other(tokens: list[str], start: int, after: int, value: float) -> Reading | None:
    """A count of units ("thirty closings a month", "15 new clients") or groups ("three offices") that may multiply."""
    noun = noun_after(tokens, after, _COUNTED_NOUNS)
    if noun is None:
        return None
    if tokens[noun] in GROUP_NOUNS:
        return Reading("groups", value, start, noun + 1, noun=tokens[noun])
    rate = _rate_after(tokens, noun + 1, 5)
    factor = rate[0] if rate else (_rate_before(tokens, start, 12) or 1.0)
    return Reading("units", value * factor, start, rate[1] if rate else noun + 1, noun=tokens[noun], factor=factor)


def _read_current(tokens: list[str], start: int, after: int, value: float, readings: list[Reading]) -> Reading | None:
    """A bare number that replaces the reading before it: "now it's more like 50", "from 150 a month to 300",
    "we had 10 back then, we're 16 now". It takes that reading's kind, and its rate unless it has its own."""
    previous = next((reading for reading in reversed(readings) if reading.kind in ("team", "volume")), None)
    if previous is None or start - previous.end > _CHANGE_REACH or start < previous.end:
        return None
    size = len(tokens)
    rate = rate_at(tokens, after)
    following = tokens[after] if after < size else ""
    if rate is None and following in _KNOWN_NOUNS:
        return None  # "now we have 3 offices" counts something else
    if _from_change(tokens, start):
        return None  # "up from 70" is the past value
    current = _linked_by_now(tokens, previous.end, start)
    if not current and previous.changed_from:
        current = _previous_word(tokens, start) == "to"
    if not current and previous.stale:
        current = any(_now_at(tokens, index) for index in range(after, min(size, after + 2)))
    if not current:
        return None
    previous.stale = True
    end = rate[1] if rate else after
    if previous.kind == "team":
        return Reading("team", value, start, end) if 1 <= value <= 10_000_000 else None
    factor = rate[0] if rate else previous.factor
    return Reading("volume", value * factor, start, end, noun=previous.noun, factor=factor, per=previous.per)


def _linked_by_now(tokens: list[str], begin: int, start: int) -> bool:
    """A "now" marker between `begin` and `start`, with only link words after it: "now it's closer to"."""
    index = begin
    while index < start:
        length = _now_at(tokens, index)
        if length:
            links = tokens[index + length : start]
            if len(links) <= _NOW_LINK_REACH and all(word in NOW_LINKS or word in APPROXIMATORS for word in links):
                return True
            index += length
        else:
            index += 1
    return False


def _read_per(tokens: list[str], start: int, reading: Reading, readings: list[Reading]) -> None:
    """Marks a reading that is per person, per unit or per group: "each of us sends ten", "two forms per hire",
    "20 people each", "every closing needs four documents"."""
    if reading.per:
        return
    size = len(tokens)
    end = reading.end
    following = tokens[end] if end < size else ""
    if following in TOTAL_WORDS or tokens[end : end + 2] == ["in", "total"]:
        return
    if following in PER_WORDS or (following in EACH_LINKS and end + 1 < size and tokens[end + 1] in EACH_WORDS):
        position = end + 2 if following in EACH_LINKS else end + 1
        per = _per_noun(tokens[position], readings, start) if position < size else ""
        if per:
            reading.per = per
            return
    if following in EACH_WORDS and following != "every":
        after_each = tokens[end + 1] if end + 1 < size else ""
        if not after_each or (after_each in FUNCTION_WORDS and after_each not in NOT_AFTER_EACH):
            reading.per = _antecedent(readings, start)
            return
    if _PER_MARKERS.isdisjoint(tokens[max(0, start - _EACH_REACH) : start]):
        return
    index = start - 1
    while index >= 0 and start - index <= _EACH_REACH:
        token = tokens[index]
        if token in _PER_MARKERS and index + 1 < start:
            word = tokens[index + 1]
            if word in UNIT_MODIFIERS and index + 2 < start:
                word = tokens[index + 2]  # "each new hire", "every single deal"
            if word == "of":  # "each of us", "each of our offices"
                nouns = [_per_noun(noun, readings, index) for noun in tokens[index + 2 : min(start, index + 4)]]
                reading.per = next((per for per in nouns if per), "person")
                return
            per = _per_noun(word, readings, index)
            if not per and (word in RATE_UNITS or word in DOC_NOUNS or token == "every"):
                return  # "every week" is a rate, "each contract" a document
            reading.per = per or _antecedent(readings, index)  # "each one", "they each close", "each with"
            return
        index -= 1


def _per_noun(word: str, readings: list[Reading], position: int) -> str:
    """What a noun after "each" or "per" makes the rate per: a person, a unit or a group."""
    if word in _PERSON_NOUNS or word in ("head", "seat", "user"):
        return "person"
    if word in UNIT_NOUNS:
        return "unit"
    if word in GROUP_NOUNS:
        return "group"
    if word == "one" and readings:
        return _antecedent(readings, position)
    return ""


def _antecedent(readings: list[Reading], position: int) -> str:
    """What "each" alone refers to: the last count said before it (people by default)."""
    for reading in reversed(readings):
        if reading.start < position:
            return {"units": "unit", "groups": "group"}.get(reading.kind, "person")
    return "person"


def _resolve(readings: list[Reading]) -> Counts:
    if len(readings) <= 2 and not any(reading.per or reading.stale for reading in readings):
        # The common case: a team and a volume at most, each said once, nothing to multiply or replace.
        kinds = [reading.kind for reading in readings]
        if "units" not in kinds and "groups" not in kinds and len(set(kinds)) == len(kinds):
            team = readings[kinds.index("team")] if "team" in kinds else None
            volume = readings[kinds.index("volume")] if "volume" in kinds else None
            return Counts(team, volume)
    team = _first_current([reading for reading in readings if reading.kind == "team"])
    if team is not None and team.per == "group":
        groups = _nearest_count(readings, team, _counts_groups)
        team = _product(team, groups, team.value) if groups else team
    volumes: list[Reading] = []
    used: set[int] = set()
    for reading in readings:
        if reading.kind != "volume":
            continue
        if reading.per in ("unit", "group"):
            count = _nearest_count(readings, reading, _counts_units if reading.per == "unit" else _counts_groups)
            if count is not None:
                used.add(id(count))
                # Documents per unit are a plain count unless a rate is said with them: a rate said before them is
                # the units' ("5 deals a week, every deal has 3 documents"); "each branch does 25 a week" has its own.
                volumes.append(
                    _product(reading, count, reading.value if reading.own_rate else reading.value / reading.factor)
                )
            else:
                volumes.append(reading)
        elif id(reading) not in used:
            volumes.append(reading)
    volumes = [reading for reading in volumes if id(reading) not in used]
    return Counts(team, _first_current(volumes))


def _counts_units(reading: Reading) -> bool:
    """A count of units: "15 new clients", or documents that are units too ("thirty closings a month")."""
    return reading.kind == "units" or (reading.kind == "volume" and reading.noun in UNIT_NOUNS)


def _counts_groups(reading: Reading) -> bool:
    return reading.kind == "groups"


def _nearest_count(readings: list[Reading], per_each: Reading, fits: Callable[[Reading], bool]) -> Reading | None:
    """The count a rate per unit or group multiplies: the last one said before it, else the first after it."""
    before = [other for other in readings if other is not per_each and fits(other) and other.start < per_each.start]
    if before:
        return before[-1]
    return next((other for other in readings if other is not per_each and fits(other)), None)


def _product(per_each: Reading, count: Reading, value: float) -> Reading:
    """A value per unit or group times the count of them, with the evidence spanning both."""
    return Reading(
        per_each.kind,
        value * count.value,
        min(per_each.start, count.start),
        max(per_each.end, count.end),
        stale=per_each.stale and count.stale,
    )


def _first_current(readings: list[Reading]) -> Reading | None:
    """The first reading that is not stale, else the last stale one (a past value nothing replaced)."""
    return next((reading for reading in readings if not reading.stale), readings[-1] if readings else None)


def evidence(tokens: list[str], reading: Reading) -> str:
    return joined(tokens[reading.start : reading.end])


def _documents_listed_per_unit(tokens: list[str]) -> Reading | None:
    """Documents listed for each unit or group: "every job needs a quote and a contract" is 2 per job."""
    size = len(tokens)
    for index, token in enumerate(tokens):
        if token not in EACH_WORDS and token != "per":
            continue
        position = index + 1
        if position < size and tokens[position] in UNIT_MODIFIERS:
            position += 1
        if position >= size or (tokens[position] not in UNIT_NOUNS and tokens[position] not in GROUP_NOUNS):
            continue
        per = "unit" if tokens[position] in UNIT_NOUNS else "group"
        for start in range(position + 1, min(size, position + 1 + _LIST_LEAD)):  # "needs", "comes with", "it's"
            count, end = _document_items(tokens, start)
            if count:
                # "signs one lease once a year", "gets two forms twice a month": a rate of its own
                times = _TIMES.get(tokens[end], 0) if end < size else 0
                rate = rate_at(tokens, end + 1) if times else None
                if rate is not None:
                    return Reading("volume", count * times * rate[0], index, rate[1], per=per, factor=rate[0])
                return Reading("volume", count, index, end, per=per, own_rate=False)
    return None


def _document_items(tokens: list[str], position: int) -> tuple[float, int]:
    """The number of documents listed at `position` ("a quote and a contract", "an nda an msa") and the list's end."""
    size = len(tokens)
    count = 0.0
    for _ in range(_LIST_ITEMS):
        token = tokens[position] if position < size else ""
        if token in ("a", "an", "one", "another"):
            many, begin = 1.0, position + 1
        elif token and _is_number(token):
            begin = number_phrase_end(tokens, position)
            many = phrase_value(tokens[position:begin]) or 0.0
        else:
            break
        noun = noun_after(tokens, begin, DOC_NOUNS)
        if noun is None or many <= 0:
            break
        count += many
        position = noun + 1
        if position < size and tokens[position] in ("and", "plus", "&"):
            position += 1
    return count, position
