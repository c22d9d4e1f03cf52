"""Personal data said out loud: the spans of a transcript or log line to mask.

Speech-to-text writes what callers say: "dana dot lee at example dot com", "four one five, five five five, oh one
two three", "k o w a l s k i". The written patterns in redaction.py cannot see these. Three scans find them:

- emails: "at", "@" or an "[email]" mask, then a domain ending in "dot <tld>" (or a mail provider), and to the
  left a local part joined by dot/underscore/hyphen words or symbols, spelled letters and digits;
- digit runs: number words and digit groups said one after another ("four one five", "oh", "double five",
  "forty two forty two", "eight hundred" inside a number), masked when they hold more digits than a count does,
  or fewer after a cue ("my pin is", "card ending in"); quantities ("three hundred and fifty") and years said
  back to back ("twenty twenty five twenty twenty six") are counts and dates, not personal data;
- spelled letters: two or more single letters ("o s k a r", "o-s-k-a-r", "l double e", "k as in kilo"), masked
  from three letters on (two when the line also says the word they spell), except the acronyms callers spell ("a p
  i", "c r m"), and the name they spell wherever the line says it.

Hand-written rather than a library: PII libraries (Presidio and the like) find written entities with NLP models
and know nothing of digits said one by one or of spellings, and a model download has no place in the agent's or a
Lambda's import. Time is linear in the length of the line: a line is cut into words by one `re.split`, the scans
look a fixed number of words ahead or back, and the spelled-letter runs are one regular expression whose letter and
separator classes are disjoint (nothing to backtrack into). A scan runs only when a cheap search finds what it
needs (an "at" and a "dot", two number words in a row, two single letters), so most log lines cost one search per
scan. The word lists are data: spoken_words.json beside this file.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path
from typing import Any

EMAIL_MASK = "[email]"
PHONE_MASK = "[phone]"
NUMBER_MASK = "[number]"
SPELLED_MASK = "[spelled]"

_WORDS: dict[str, Any] = json.loads(Path(__file__).with_name("spoken_words.json").read_text(encoding="utf-8"))
UNITS: dict[str, int] = _WORDS["units"]
TEENS: dict[str, int] = _WORDS["teens"]
TENS: dict[str, int] = _WORDS["tens"]
SCALES: dict[str, int] = _WORDS["scales"]
REPEATERS: dict[str, int] = _WORDS["repeaters"]
FILLERS = frozenset(_WORDS["fillers"])
RUN_JOINERS = frozenset(_WORDS["run_joiners"])
AT_WORDS = frozenset(_WORDS["at_words"])
AT_SUFFIXES = frozenset(_WORDS["at_suffixes"])
DOT_WORDS = frozenset(_WORDS["dot_words"])
DASH_WORDS = frozenset(_WORDS["dash_words"])
TLDS = frozenset(_WORDS["tlds"])
EMAIL_PROVIDERS = frozenset(_WORDS["email_providers"])
LOCAL_PART_CUES = frozenset(_WORDS["local_part_cues"])
NOT_LOCAL_PART = frozenset(_WORDS["not_local_part"])
NUMBER_CUES = frozenset(_WORDS["number_cues"])
CODE_CUES = frozenset(_WORDS["code_cues"])  # "zip code", "security code"; not "error code"
CUE_LINKS = frozenset(_WORDS["cue_links"])
ACRONYMS = frozenset(_WORDS["acronyms"])
COMMON_TWO_LETTER_WORDS = frozenset(_WORDS["common_two_letter_words"])

_ZERO_WORDS = frozenset({"o", "oh"})  # zero next to other digits, a letter ("o") or a sigh ("oh") elsewhere
_NUMBER_WORDS = (frozenset(UNITS) - _ZERO_WORDS) | frozenset(TEENS) | frozenset(TENS) | frozenset(REPEATERS)
_CONNECTOR_WORDS = DOT_WORDS | DASH_WORDS
_RUN_FILLERS = FILLERS | RUN_JOINERS | (DASH_WORDS - {"underscore"})  # "six five oh dash five five five"
_NOT_DOMAIN = FILLERS | RUN_JOINERS | AT_WORDS | frozenset({"or", "but", "please", "so", "thanks", "thank"})
_MASKS = frozenset({EMAIL_MASK, PHONE_MASK, NUMBER_MASK, SPELLED_MASK})
_EMAIL_ANCHORS = AT_WORDS | {EMAIL_MASK}
# Tokens a digit run can start with ("a" only before "hundred" or a scale: "a hundred and twenty").
_RUN_STARTS = _NUMBER_WORDS | _ZERO_WORDS | {PHONE_MASK, NUMBER_MASK}
_AMOUNT_WORDS = frozenset({"hundred", *SCALES})
_DOMAIN_WORDS = DOT_WORDS | EMAIL_PROVIDERS | {"dotcom"}
_ASCII_WORD = re.compile(r"[a-z]+")

# One token: a mask already in the line (from the written patterns); a number with punctuation inside ("1,200",
# "30-40", "2026-11-20", "9:30": counts, ranges, dates and times as written; a written phone number is the written
# patterns' job); or a word of letters or digits (one mixing both, like "x7Yz" or "DE89", is no spoken form).
_TOKEN = re.compile(
    r"(\[(?:email|phone|number|spelled)\]|(?<![^\W_])\d+(?:[.,:/-]\d+)+(?![^\W_])|[^\W_]+(?:'[^\W\d_]+)?)"
)
_THOUSANDS = re.compile(r"\d{1,3}(?:,\d{3})+")
# What may stand between two words of one spoken number or spelling: spaces, commas, full stops, dashes, ellipses.
_JOIN_CHARS = " \t\r\n,.;…-–—()[]\"'"
_CONNECTOR_GAPS = frozenset({".", "_", "-"})


# A letter said alone: no letter, digit or apostrophe right before or after it ("i'm a" is no "i m a").
_START, _END = r"(?<![^\W_])(?<!['’])", r"(?![^\W_])(?!['’]\w)"
_SEPARATOR = r"[\s,.;…\-–—()\[\]\"]{1,16}"
# Spelled letters: "k", "double e", "k as in kilo", two or more in a row.
_LETTER = rf"(?:(?:double|triple)\s+)?[a-z](?:\s+as\s+in\s+[a-z]+)?{_END}"
_SPELLED_RUN = re.compile(rf"{_START}{_LETTER}(?:{_SEPARATOR}{_LETTER})+", re.I)
_NOT_LETTERS = re.compile(r"[^a-z]")
_DROP_SEPARATORS = str.maketrans("", "", ' \t\r\n,.;…-–—()[]"')
_LETTER_PARTS = re.compile(rf"{_START}(?:(double|triple)\s+)?([a-z])(?:\s+as\s+in\s+[a-z]+)?{_END}", re.I)

# A spelled run longer than this (in characters, "k as in kilo, " for one letter) spells no name worth looking for.
_LONGEST_NAME = 400

# Group kinds of a digit run.
_SINGLE, _PAIR, _AMOUNT, _WRITTEN, _MASKED, _LETTER_GROUP, _YEAR = range(7)


class Line:
    """A line cut into tokens: lower-cased words, the text before each (its gap) and their character spans."""

    __slots__ = ("ends", "gaps", "starts", "words")

    def __init__(self, text: str) -> None:
        parts = _TOKEN.split(text.replace("’", "'"))
        positions = list(accumulate(map(len, parts)))
        self.gaps: list[str] = parts[0:-1:2]
        self.words: list[str] = [part.lower() for part in parts[1::2]]
        self.starts: list[int] = positions[0:-1:2]
        self.ends: list[int] = positions[1::2]


@dataclass(slots=True)
class _Group:
    first: int  # token indexes
    last: int
    kind: int
    digits: int
    value: int = -1
    year: bool = False


def _joinable(gap: str) -> bool:
    return len(gap) <= 16 and not gap.strip(_JOIN_CHARS)


def _plain(gap: str) -> bool:
    """Nothing but spaces, commas and brackets: the words of one spoken address or number said in a row."""
    return len(gap) <= 8 and not gap.strip(" \t\r\n,()[]\"'…")


def _is_letter(word: str) -> bool:
    return len(word) == 1 and "a" <= word <= "z"


def _is_word(word: str) -> bool:
    return word.isalpha() or "'" in word


def _is_digitish(word: str) -> bool:
    return word.isdecimal() or word in _NUMBER_WORDS


# ----------------------------------------------------------------------------------------------------- emails


def _local_atom(word: str) -> bool:
    return (_is_word(word) or word.isdecimal()) and word not in NOT_LOCAL_PART and word not in _CONNECTOR_WORDS


def _spelling(word: str) -> bool:
    return _is_letter(word) or _is_digitish(word) or word in _ZERO_WORDS


def _domain_label(word: str) -> bool:
    return (_is_word(word) or word.isdecimal()) and word not in _NOT_DOMAIN


def _domain_end(line: Line, first: int, *, after_at_sign: bool) -> int | None:
    """Index of the last token of a domain starting at `first` ("example dot com", "acme legal.co.uk")."""
    words, gaps = line.words, line.gaps
    if first >= len(words) or not _domain_label(words[first]):
        return None
    if not after_at_sign and not _plain(gaps[first]):
        return None
    end = None
    words_in_label, expect_label, dotted = 1, False, False
    for index in range(first + 1, min(len(words), first + 16)):
        word, gap = words[index], gaps[index]
        if word in _CONNECTOR_WORDS and not expect_label and _plain(gap):
            expect_label, dotted = True, word in DOT_WORDS
            continue
        if not _domain_label(word):
            break
        if expect_label or gap in _CONNECTOR_GAPS:
            if expect_label and not _plain(gap):
                break
            if (dotted if expect_label else gap == ".") and word in TLDS:
                end = index
            expect_label, words_in_label = False, 1
        elif _plain(gap) and words_in_label < 3:  # speech-to-text splits "acmelegal" into "acme legal"
            words_in_label += 1
            if word == "dotcom":
                end = index
        else:
            break
    if end is None and words[first] in EMAIL_PROVIDERS:
        return first
    return end


def _local_start(line: Line, last: int) -> int | None:
    """Index of the first token of the local part that ends at `last` ("dana dot lee", "j smith", "d a n a")."""
    words, gaps = line.words, line.gaps
    if last < 0 or not (_local_atom(words[last]) or _spelling(words[last])):
        return None
    start = last
    for _ in range(24):
        if start == 0:
            break
        current, previous, gap = words[start], words[start - 1], gaps[start]
        if gap in _CONNECTOR_GAPS and _local_atom(previous):
            start -= 1
        elif not _plain(gap):
            break
        elif (
            previous in _CONNECTOR_WORDS
            and start >= 2
            and _plain(gaps[start - 1])
            and (_local_atom(words[start - 2]) or _spelling(words[start - 2]))
        ):
            start -= 2
        elif _spelling(previous) or (_is_digitish(current) and _local_atom(previous)):  # "d a n a", "jsmith four two"
            start -= 1
        else:
            break
    # "it's dana lee at ...": after a cue, up to two more words belong to the address.
    for extra in (1, 2):
        cue = start - extra - 1
        if cue < 0 or not _plain(gaps[start]):
            break
        if not all(_local_atom(words[index]) and _plain(gaps[index]) for index in range(start - extra, start)):
            break
        if words[cue] in LOCAL_PART_CUES:
            return start - extra
    return start


def email_spans(line: Line) -> list[tuple[int, int]]:
    """(first, last) token indexes of every spoken or half-spoken email address."""
    words, gaps = line.words, line.gaps
    anchors = [index for index, word in enumerate(words) if word in _EMAIL_ANCHORS]
    anchors += [index for index, gap in enumerate(gaps) if "@" in gap]
    spans: list[tuple[int, int]] = []
    done = 0
    for index in sorted(set(anchors)):
        if index < max(done, 1):
            continue
        word, gap = words[index], gaps[index]
        start: int | None = None
        end: int | None = None
        if word == EMAIL_MASK:  # "dana dot [email]": the written pattern took only "lee@example.com"
            if gap in _CONNECTOR_GAPS:
                start, end = _local_start(line, index - 1), index
            elif words[index - 1] in _CONNECTOR_WORDS and _plain(gap):
                start, end = _local_start(line, index - 2), index
        elif "@" in gap and not gap.replace("@", "").strip(" ()[]"):
            end = _domain_end(line, index, after_at_sign=True)
            start = _local_start(line, index - 1) if end is not None else None
        elif word in AT_WORDS and _plain(gap):
            first = index + 1 if index + 1 < len(words) and words[index + 1] not in AT_SUFFIXES else index + 2
            end = _domain_end(line, first, after_at_sign=False)
            start = _local_start(line, index - 1) if end is not None else None
        if start is not None and end is not None and start >= done:
            spans.append((start, end))
            done = end + 1
    return spans


# -------------------------------------------------------------------------------------------------- digit runs


def _next_word(line: Line, index: int) -> str | None:
    """The next token's word when it follows within one spoken number (a space or a hyphen between)."""
    following = index + 1
    if following < len(line.words) and not line.gaps[following].strip(" \t-"):
        return line.words[following]
    return None


def _small_number(line: Line, index: int) -> tuple[int, int, bool] | None:
    """A number below a thousand said from tokens[index]: (value, last index, said with "hundred")."""
    word = line.words[index]
    following = _next_word(line, index)
    if word == "a" and following in ("hundred", *SCALES):
        value, last = 1, index
    elif word in TENS:
        value, last = TENS[word], index
        if following in UNITS and following not in _ZERO_WORDS and _next_word(line, index + 1) != "hundred":
            value, last = value + UNITS[following], index + 1
    elif word in TEENS or (word in UNITS and word not in _ZERO_WORDS):
        value, last = TEENS.get(word, UNITS.get(word, 0)), index
    else:
        return None
    if _next_word(line, last) != "hundred":
        return value, last, False
    value, last = value * 100, last + 1
    tail_at = last + 1 if _next_word(line, last) == "and" else last
    tail = _next_word(line, tail_at)
    said_tail = tail and (tail in TENS or tail in TEENS or (tail in UNITS and tail not in _ZERO_WORDS))
    if said_tail and _next_word(line, tail_at + 1) != "hundred":  # "three hundred four hundred": two amounts
        rest = _small_number(line, tail_at + 1)
        if rest is not None and not rest[2]:
            value, last = value + rest[0], rest[1]
    return value, last, True


def _number_group(line: Line, index: int, zero: set[int]) -> _Group | None:
    word = line.words[index]
    if word in _MASKS:
        return _Group(index, index, _MASKED, 7) if word in (PHONE_MASK, NUMBER_MASK) else None
    if word.isdecimal():
        year = len(word) == 4 and 1900 <= int(word) <= 2099
        return _Group(index, index, _WRITTEN, len(word), year=year)
    if word[0].isdecimal():  # a number with punctuation inside
        return _Group(index, index, _AMOUNT, len(word)) if _THOUSANDS.fullmatch(word) else None
    if word in _ZERO_WORDS:
        if index in zero:
            return _Group(index, index, _SINGLE, 1, value=0)
        return _Group(index, index, _LETTER_GROUP, 0) if word == "o" else None
    following = _next_word(line, index)
    if word in UNITS and following not in _AMOUNT_WORDS:  # "four one five": one digit at a time, most often
        return _Group(index, index, _SINGLE, 1, value=UNITS[word])
    if word in REPEATERS:
        if following in UNITS:
            return _Group(index, index + 1, _SINGLE, REPEATERS[word], value=UNITS[following])
        return None
    small = _small_number(line, index)
    if small is None:
        return _Group(index, index, _LETTER_GROUP, 0) if _is_letter(word) else None
    current, last, hundred = small
    total, said_scale = 0, False
    while (scale := _next_word(line, last)) in SCALES:  # "two thousand", "one hundred and fifty thousand"
        total, current, last, said_scale = total + current * SCALES[scale], 0, last + 1, True
        rest_at = last + 1 if _next_word(line, last) == "and" else last
        if _next_word(line, rest_at) is None or (rest := _small_number(line, rest_at + 1)) is None:
            break
        current, last = rest[0], rest[1]
    value = total + current
    if hundred or said_scale:
        return _Group(index, last, _AMOUNT, len(str(value)), value=value)
    if word in UNITS:
        return _Group(index, last, _SINGLE, 1, value=value)
    return _Group(index, last, _PAIR, 2, value=value)


def _zero_indexes(line: Line) -> set[int]:
    """The "o"/"oh" tokens that stand for zero: those in a chain of them that touches a number word or digits."""
    words, gaps = line.words, line.gaps
    candidates = [index for index, word in enumerate(words) if word in _ZERO_WORDS]
    if not candidates:
        return set()

    def numeric(index: int) -> bool:
        word = words[index]
        return _is_digitish(word) or word in (PHONE_MASK, NUMBER_MASK)

    zero: set[int] = set()
    chain: list[int] = []
    for position, index in enumerate(candidates):
        chain.append(index)
        following = candidates[position + 1] if position + 1 < len(candidates) else None
        if following == index + 1 and _joinable(gaps[following]):
            continue
        first, last = chain[0], chain[-1]
        touches = (first > 0 and _joinable(gaps[first]) and numeric(first - 1)) or (
            last + 1 < len(words) and _joinable(gaps[last + 1]) and numeric(last + 1)
        )
        if touches:
            zero.update(chain)
        chain = []
    return zero


def _merge_years(groups: list[_Group]) -> list[_Group]:
    """ "nineteen ninety eight", "twenty twenty six", "twenty oh five": one year, not two numbers."""
    merged: list[_Group] = []
    index = 0
    while index < len(groups):
        group = groups[index]
        following = groups[index + 1] if index + 1 < len(groups) else None
        if group.kind == _PAIR and group.value in (19, 20) and following is not None:
            if following.kind == _PAIR and following.value >= 10:
                merged.append(_Group(group.first, following.last, _YEAR, 4, year=True))
                index += 2
                continue
            after = groups[index + 2] if index + 2 < len(groups) else None
            if following.kind == _SINGLE and following.value == 0 and after is not None and after.kind == _SINGLE:
                merged.append(_Group(group.first, after.last, _YEAR, 4, year=True))
                index += 3
                continue
        merged.append(group)
        index += 1
    return merged


def _cued(line: Line, first: int) -> bool:
    """Whether a cue ("social", "pin", "card ending in", "zip") comes just before the run starting at `first`."""
    index = first - 1
    for _ in range(5):
        if index < 0:
            return False
        word = line.words[index].removesuffix("'s")
        if word in NUMBER_CUES:
            return True
        if word == "code" and index > 0 and line.words[index - 1] in CODE_CUES:
            return line.words[index - 1] != "area"  # an area code starts a phone number: not a short code
        if word not in CUE_LINKS:
            return False
        index -= 1
    return False


def _run_mask(line: Line, groups: list[_Group], *, transcript: bool) -> str | None:
    numbers = [group for group in groups if group.kind != _LETTER_GROUP]
    if not numbers or all(group.kind == _MASKED for group in numbers) or all(group.year for group in numbers):
        return None
    digits = sum(group.digits for group in numbers)
    # digits said (or written) one group at a time; a masked number already found counts as three of them
    one_by_one = sum(
        3 if group.kind == _MASKED else 1 for group in numbers if group.kind in (_SINGLE, _WRITTEN, _MASKED)
    )
    not_amounts = sum(group.digits for group in numbers if group.kind != _AMOUNT and not group.year)
    long = len(numbers) >= 2 and ((digits >= (6 if transcript else 7) and one_by_one >= 3) or not_amounts >= 10)
    if not transcript:  # logs: phone numbers said at least partly in words; written ones are the written patterns'
        said = any(group.kind in (_SINGLE, _PAIR, _AMOUNT, _YEAR) for group in numbers)
        return (PHONE_MASK if digits <= 15 else NUMBER_MASK) if long and said else None
    letters = [line.words[group.first] for group in groups if group.kind == _LETTER_GROUP]
    cued = _cued(line, groups[0].first)
    code = digits >= 3 and one_by_one >= 2 and len(letters) + digits >= 5 and any(x not in "ai" for x in letters)
    single_written = len(numbers) == 1 and numbers[0].kind == _WRITTEN
    short_cued = cued and digits >= 3 and (one_by_one >= 2 or single_written)
    if not (long or code or short_cued):
        return None
    if cued or letters or digits < 7 or digits > 15:
        return NUMBER_MASK
    return PHONE_MASK


def _trimmed(groups: list[_Group], line: Line) -> list[_Group]:
    """Without an "a" or "i" at either end: next to a number, that is the article or the pronoun."""
    first, last = 0, len(groups) - 1
    if first < last and groups[first].kind == _LETTER_GROUP and groups[first + 1].kind != _LETTER_GROUP:
        first += line.words[groups[first].first] in ("a", "i")
    if last > first and groups[last].kind == _LETTER_GROUP and groups[last - 1].kind != _LETTER_GROUP:
        last -= line.words[groups[last].first] in ("a", "i")
    return groups[first : last + 1]


def number_spans(line: Line, *, transcript: bool) -> list[tuple[int, int, str]]:
    """(first, last, mask) of every run of digits said or written one group after another that is personal data."""
    words, gaps = line.words, line.gaps
    zero = _zero_indexes(line)
    spans: list[tuple[int, int, str]] = []
    run: list[_Group] = []

    def close() -> None:
        if len(run) == 1 and not (transcript and _cued(line, run[0].first)):  # one number alone: a count
            run.clear()
            return
        if any(group.kind != _LETTER_GROUP for group in run):
            groups = _trimmed(_merge_years(run), line)
            mask = _run_mask(line, groups, transcript=transcript)
            if mask:
                spans.append((groups[0].first, groups[-1].last, mask))
        run.clear()

    count = len(words)
    if transcript:
        starts = [index for index, word in enumerate(words) if word in _RUN_STARTS or word[:1].isdecimal()]
    else:  # logs: only runs said at least partly in words count, so they start (or end) at a number word
        starts = [index for index, word in enumerate(words) if word in _RUN_STARTS]
    starts = [index for index in starts if words[index] not in _ZERO_WORDS or index in zero]
    starts += [index for index in range(count - 1) if words[index] == "a" and words[index + 1] in _AMOUNT_WORDS]
    done = 0
    for candidate in sorted(starts):
        if candidate < done:
            continue
        index = candidate
        while index > done and candidate - index < 8 and _joinable(gaps[index]):
            previous = words[index - 1]
            if not (previous.isdecimal() or (transcript and _is_letter(previous))):
                break
            index -= 1  # a code's letters before its digits ("a b c one two"), or "415 five five five" in a log
        fillers = 0  # "uh", "and", "dash" since the run's last group
        while index < count:
            word = words[index]
            group = None
            if word[0].isdecimal() or word in _RUN_STARTS or word in _MASKS or word == "a":
                group = _number_group(line, index, zero)
            elif transcript and _is_letter(word):
                group = _Group(index, index, _LETTER_GROUP, 0)
            if group is None:
                if run and fillers < 2 and word in _RUN_FILLERS and _joinable(gaps[index]):
                    fillers += 1
                    index += 1
                    continue
                break
            if run and not _joinable(gaps[group.first]):
                break
            run.append(group)
            index, fillers = group.last + 1, 0
        close()
        done = max(index, candidate + 1)
    return spans


# ---------------------------------------------------------------------------------------------- spelled letters


def _letters(spelled: str) -> list[str]:
    """The letters of a spelled run, one entry per letter said ("double e" gives "ee", "double u" gives "w")."""
    lowered = spelled.lower()
    if "ouble" not in lowered and "riple" not in lowered and " in " not in lowered:  # one letter per word
        joined = lowered.translate(_DROP_SEPARATORS)
        return list(joined if joined.isascii() and joined.isalpha() else _NOT_LETTERS.sub("", joined))
    letters: list[str] = []
    for repeater, letter in _LETTER_PARTS.findall(spelled):
        letter, repeater = letter.lower(), repeater.lower()
        if repeater == "double" and letter == "u":
            letters.append("w")
        else:
            letters.append(letter * REPEATERS.get(repeater, 1))
    return letters


def _is_acronym(joined: str) -> bool:
    """Whether spelled letters are an acronym: "a p i", "c r m s", also with the article or pronoun said next to
    it ("a c r m", "i a p i", "n d a s a month")."""
    if len(joined) > 9:  # the longest acronym, plural, with an article on both sides
        return False
    candidates = [joined]
    if joined[0] in "ai" or joined[-1] in "ai":
        heads = [joined, joined[1:]] + ([joined[2:]] if joined[1] in "ai" else []) if joined[0] in "ai" else [joined]
        candidates = heads + [head[:-1] for head in heads if len(head) > 1 and head[-1] in "ai"]
    return any(word in ACRONYMS or (word[-1:] == "s" and word[:-1] in ACRONYMS) for word in candidates)


def _echo_word(word: str) -> bool:
    if len(word) == 2:
        return word not in COMMON_TWO_LETTER_WORDS and word not in ACRONYMS
    return len(word) >= 3 and word not in NOT_LOCAL_PART and word not in ACRONYMS


def spelled_spans(text: str, line: Line) -> list[tuple[int, int]]:
    """Character spans of letters spelled out, and of the words they spell said in the same line."""
    spans: list[tuple[int, int]] = []
    pairs: dict[str, list[tuple[int, int]]] = {}  # two letters count only when the line also says the word
    spelled: set[str] = set()
    for match in _SPELLED_RUN.finditer(text):
        start, end = match.span()
        if end - start > _LONGEST_NAME:  # no name, and no acronym: masked whole, nothing to echo
            spans.append((start, end))
            continue
        said = match.group()
        joined = "".join(_letters(said))
        if not joined.strip("ai") or _is_acronym(joined):  # "i i i think", "a p i"
            continue
        echoes = {joined} if _echo_word(joined) else set()
        if "," in said:  # "v a n, d e r, b e r g": each word said is spelled too
            echoes.update(piece for piece in ("".join(_letters(part)) for part in said.split(",")) if _echo_word(piece))
        if len(joined) >= 3:
            spans.append((start, end))
            spelled.update(echoes)
        elif joined in echoes:
            pairs.setdefault(joined, []).append((start, end))
    if not spelled and not pairs:
        return spans
    words = set(line.words)
    spelled.update(word for word in pairs if word in words)
    spans.extend(span for word, found in pairs.items() if word in words for span in found)
    spans.extend((line.starts[index], line.ends[index]) for index, word in enumerate(line.words) if word in spelled)
    return spans


# ---------------------------------------------------------------------------------------------------- masking

_PRIORITY = {EMAIL_MASK: 0, PHONE_MASK: 1, NUMBER_MASK: 1, SPELLED_MASK: 2}


def spoken_spans(text: str, *, transcript: bool) -> list[tuple[int, int, str]]:
    """(start, end, mask) character spans of personal data said out loud, sorted and not overlapping.

    `transcript=True` (redacted transcripts): emails, digit runs of six digits or more, shorter numbers after a
    cue, codes mixing letters and digits, spelled letters. `transcript=False` (log lines): emails and phone
    numbers (seven digits or more, said at least partly in words).
    """
    emails = numbers = True
    if not transcript:  # a log line: most have no number word and no "at", and need no scan (~1 µs to tell)
        said = _ASCII_WORD.findall(text.lower())
        numbers = not _NUMBER_WORDS.isdisjoint(said)
        emails = ("@" in text or EMAIL_MASK in text or not AT_WORDS.isdisjoint(said)) and (
            "." in text or "@" in text or not _DOMAIN_WORDS.isdisjoint(said)
        )
        if not (emails or numbers):
            return []
    line = Line(text)
    found = [(line.starts[first], line.ends[last], EMAIL_MASK) for first, last in email_spans(line)] if emails else []
    if numbers:
        found += [
            (line.starts[first], line.ends[last], mask)
            for first, last, mask in number_spans(line, transcript=transcript)
        ]
    if transcript:
        found += [(start, end, SPELLED_MASK) for start, end in spelled_spans(text, line)]
    merged: list[tuple[int, int, str]] = []
    for start, end, mask in sorted(found):
        if merged and start < merged[-1][1]:
            previous = merged[-1]
            stronger = previous[2] if _PRIORITY[previous[2]] <= _PRIORITY[mask] else mask
            merged[-1] = (previous[0], max(previous[1], end), stronger)
        else:
            merged.append((start, end, mask))
    return merged


def mask_spoken(text: str, *, transcript: bool) -> str:
    """The line with every span of `spoken_spans` replaced by its mask."""
    spans = spoken_spans(text, transcript=transcript)
    if not spans:
        return text
    pieces: list[str] = []
    position = 0
    for start, end, mask in spans:
        pieces += [text[position:start], mask]
        position = end
    pieces.append(text[position:])
    return "".join(pieces)
