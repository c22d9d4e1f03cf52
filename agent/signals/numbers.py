"""Number phrases and rates: "twenty five", "30-40", "a couple hundred", "1,200"; "a week", "per business day".

Every function here looks at a bounded window of tokens: a number phrase is at most `PHRASE_TOKENS` long, and
the loops that skip words around it stop after a fixed count (see the package docstring).
"""

from __future__ import annotations

from .lexicon import tokens_of
from .words import (
    AFTER_NUMBER,
    APPROXIMATORS,
    ARTICLE_STARTS,
    BUSINESS_DAY_WORDS,
    BUSINESS_DAYS_PER_MONTH,
    CORRECTIONS,
    FUNCTION_WORDS,
    OTHER_NOUNS,
    PLURAL_SCALES,
    RANGE_WORDS,
    RATE_ADVERBS,
    RATE_LEADS,
    RATE_UNITS,
    SCALES,
    TENS,
    UNITS,
    VAGUE,
)

PHRASE_TOKENS = 12
_MAX_DIGITS = 10
# Three single-digit words in a row ("six four six") are a number read out digit by digit (a phone number, a zip
# code), not a count; two may be a spoken range ("two three people").
_READ_OUT_DIGITS = 3
_GAP_WORDS = 2

# The parser's grammar words ("and", "of", "a" join a phrase; "half" and "dozen" have their own rules) are code.
NUMBER_WORDS = frozenset(UNITS) | frozenset(TENS)
NUMBER_START = NUMBER_WORDS | frozenset(VAGUE) | frozenset(PLURAL_SCALES) | {"dozen", "half"}
_NUMBER_CONTINUE = NUMBER_START | frozenset(SCALES) | RANGE_WORDS | {"and", "of", "a"}
NUMBER_TRIGGERS = NUMBER_START | {"hundred", "thousand"}
_TRAILING_JOINS = RANGE_WORDS | {"and", "of", "a"}
_CORRECTION_MARKERS = tuple(tokens_of(marker) for marker in CORRECTIONS)
_CORRECTION_FIRST = frozenset(marker[0] for marker in _CORRECTION_MARKERS)
GAP_BLOCKERS = OTHER_NOUNS | FUNCTION_WORDS


def _digits_value(token: str) -> float | None:
    if token.count(",") and all(len(group) == 3 for group in token.split(",")[1:]):
        token = token.replace(",", "")
    if len(token) > _MAX_DIGITS or "," in token or token.count(".") > 1:
        return None
    return float(token)


def parse_numbers(tokens: list[str]) -> list[float] | None:
    """Values of a number phrase; a range ("30 to 40", "thirty or forty") yields both ends. None if unreadable."""
    values: list[float] = []
    total = 0.0
    current: float | None = None
    last = ""
    digit_words = 0

    def close() -> None:
        nonlocal total, current, last
        if current is not None or total:
            values.append(total + (current or 0.0))
        total, current, last = 0.0, None, ""

    for token in tokens:
        digit_words = digit_words + 1 if UNITS.get(token, 10) < 10 else 0
        if digit_words == _READ_OUT_DIGITS:
            return None
        if token[0].isdigit():
            value = _digits_value(token)
            if value is None:
                return None
            if current is not None or total:
                close()
            current, last = value, "digit"
        elif token in UNITS:
            value = float(UNITS[token])
            if last == "tens" and current is not None and value < 10:
                current, last = current + value, "unit"
            elif last in ("unit", "tens", "digit", "vague"):
                close()
                current, last = value, "unit"
            else:
                current, last = (current or 0.0) + value, "unit"
        elif token in TENS:
            value = float(TENS[token])
            if last == "unit" and current is not None and 1 <= current <= 9 and not total:
                current, last = current * 100 + value, "tens"  # speech such as "two fifty" for 250
            elif last in ("unit", "tens", "digit", "vague"):
                close()
                current, last = value, "tens"
            else:
                current, last = (current or 0.0) + value, "tens"
        elif token in VAGUE:
            if last in ("unit", "tens", "digit"):
                close()
            current, last = float(VAGUE[token]), "vague"
        elif token == "half":
            current, last = 0.5, "half"
        elif token == "dozen":
            current, last = (current or 1.0) * 12, "unit"
        elif token in PLURAL_SCALES:
            current, last = float(PLURAL_SCALES[token]), "scale"
        elif token in SCALES:
            scale = SCALES[token]
            if scale >= 1000:
                total, current, last = (total + (current if current is not None else 1.0)) * scale, None, "scale"
            else:
                current, last = (current if current is not None else 1.0) * scale, "scale"
        elif token in RANGE_WORDS or (token == "and" and last != "scale"):
            close()
    close()
    return values or None


def phrase_value(tokens: list[str]) -> float | None:
    values = parse_numbers(tokens)
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return (values[0] + values[1]) / 2  # a range: the midpoint of its two ends ("30-40" is 35)


def number_phrase_end(tokens: list[str], start: int) -> int:
    """Index just past the number phrase that starts at `start` (bounded to `PHRASE_TOKENS` tokens)."""
    end = start + 1
    limit = min(len(tokens), start + PHRASE_TOKENS)
    while end < limit:
        token = tokens[end]
        if token[0].isdigit() or token in _NUMBER_CONTINUE:
            if token == "a" and (end + 1 >= len(tokens) or tokens[end + 1] not in ARTICLE_STARTS):
                break
            end += 1
        else:
            break
    while end > start + 1 and tokens[end - 1] in _TRAILING_JOINS:
        end -= 1
    return end


def skip_after_number(tokens: list[str], index: int) -> int:
    """Skip "or so", "-ish", "plus", "give or take" after a number."""
    size = len(tokens)
    while index < size:
        token = tokens[index]
        if token in AFTER_NUMBER:
            index += 1
        elif (token == "-" and index + 1 < size and tokens[index + 1] == "ish") or (
            token == "or" and index + 1 < size and tokens[index + 1] in ("so", "more", "less")
        ):
            index += 2
        elif token == "give" and tokens[index + 1 : index + 3] == ["or", "take"]:
            index += 3
        else:
            break
    return index


def noun_after(tokens: list[str], index: int, nouns: frozenset[str]) -> int | None:
    """Index of a noun from `nouns` at `index`, allowing up to two modifier words before it ("sales contracts")."""
    words = 0
    size = len(tokens)
    while index < size:
        token = tokens[index]
        if token in nouns:
            return index
        if token == "-" or token == "&":
            index += 1
            continue
        if words == _GAP_WORDS or token in GAP_BLOCKERS or not token[0].isalpha():
            return None
        words += 1
        index += 1
    return None


def rate_at(tokens: list[str], index: int) -> tuple[float, int] | None:
    """A rate ("a month", "per week", "weekly", "each business day") starting at `index`: factor and end index."""
    size = len(tokens)
    if index >= size:
        return None
    token = tokens[index]
    if token in RATE_ADVERBS:
        return RATE_ADVERBS[token], index + 1
    if token not in RATE_LEADS:
        return None
    position = index + 1
    if token == "in" and position < size and tokens[position] == "a":
        position += 1
    if position < size and tokens[position] in BUSINESS_DAY_WORDS:
        if position + 1 < size and tokens[position + 1] in ("day", "days"):
            return BUSINESS_DAYS_PER_MONTH, position + 2
        return None
    if position < size and tokens[position] in RATE_UNITS:
        return RATE_UNITS[tokens[position]], position + 1
    return None


def correction(tokens: list[str], end: int) -> tuple[float, int] | None:
    """A self-correction after a signal: "two hundred employees i mean two hundred and fifty" gives 250."""
    if end >= len(tokens) or tokens[end] not in _CORRECTION_FIRST:
        return None  # most signals are followed by no marker: one set lookup instead of a slice per marker
    for marker in _CORRECTION_MARKERS:
        if tuple(tokens[end : end + len(marker)]) == marker:
            index = end + len(marker)
            while index < len(tokens) and tokens[index] in APPROXIMATORS:
                index += 1
            if index < len(tokens) and (tokens[index][0].isdigit() or tokens[index] in NUMBER_START):
                phrase_end = number_phrase_end(tokens, index)
                value = phrase_value(tokens[index:phrase_end])
                return (value, phrase_end) if value else None
            return None
    return None
