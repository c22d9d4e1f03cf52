"""Keywords matched as token sequences: integrations, urgency, industry, and the solo and pair team phrases.

A phrase index finds the longest phrase at a token with one dict lookup on the token pair; the look-arounds are a
fixed number of tokens (the token before an integration, up to `NEGATION_TOKENS` before an urgency phrase, 10 for
an intent word, one each side of an industry keyword).
"""

from __future__ import annotations

from typing import Any

from functions.common.record import Industry

from .detection import Detection, joined
from .lexicon import tokens_of
from .words import (
    INDUSTRY_KEYWORDS,
    INDUSTRY_NOT_AFTER,
    INDUSTRY_NOT_BEFORE,
    INDUSTRY_NOT_BEFORE_BY_KEYWORD,
    INTEGRATION_NOT_AFTER,
    INTEGRATIONS,
    INTENT_WORDS,
    NAMED_CRMS,
    NEGATION_SKIPS,
    NEGATORS,
    ORGANISATION_KEYWORDS,
    PAIR_PHRASES,
    SHOP_KEYWORDS,
    SHOP_NOT_BEFORE,
    SHOP_QUALIFIERS,
    SOLO_PHRASES,
    URGENCY_NEEDS_INTENT,
    URGENCY_PHRASES,
)

NEGATION_TOKENS = 5
_INTENT_TOKENS = 10


class _PhraseIndex:
    """Token-sequence lookup: phrases grouped by their first token, longest first, so "rest api" beats "api"."""

    def __init__(self, phrases: dict[str, Any]) -> None:
        # Multi-word phrases are keyed on their first two tokens, so a common first word ("by", "a") costs one
        # dict lookup, not a comparison with every phrase that starts with it.
        self._single: dict[str, Any] = {}
        by_pair: dict[tuple[str, str], list[tuple[tuple[str, ...], Any]]] = {}
        for phrase, value in phrases.items():
            tokens = tokens_of(phrase)
            if len(tokens) == 1:
                self._single[tokens[0]] = value
            else:
                by_pair.setdefault((tokens[0], tokens[1]), []).append((tokens, value))
        self._by_pair = {pair: sorted(entries, key=lambda e: -len(e[0])) for pair, entries in by_pair.items()}
        self.singles = frozenset(self._single)
        self.first_pairs = frozenset(by_pair)
        self.first_tokens = self.singles | frozenset(first for first, _ in self.first_pairs)

    def match_at(self, tokens: list[str], index: int) -> tuple[int, Any] | None:
        """The longest phrase starting at `index`: its length in tokens and its value."""
        if index + 1 < len(tokens) and (entries := self._by_pair.get((tokens[index], tokens[index + 1]))):
            for phrase, value in entries:
                end = index + len(phrase)
                if len(phrase) == 2 or tuple(tokens[index:end]) == phrase:
                    return len(phrase), value
        if tokens[index] in self._single:
            return 1, self._single[tokens[index]]
        return None


_INTEGRATION_INDEX = _PhraseIndex(INTEGRATIONS)
_INDUSTRY_INDEX = _PhraseIndex(INDUSTRY_KEYWORDS)
_URGENCY_INDEX = _PhraseIndex(dict.fromkeys(URGENCY_PHRASES, True))
_TEAM_PHRASE_INDEX = _PhraseIndex({**dict.fromkeys(SOLO_PHRASES, 1), **dict.fromkeys(PAIR_PHRASES, 2)})
_INTEGRATION_FIRST = _INTEGRATION_INDEX.first_tokens
_URGENCY_FIRST = _URGENCY_INDEX.first_tokens
_INDUSTRY_FIRST = _INDUSTRY_INDEX.first_tokens
_TEAM_PHRASE_FIRST = _TEAM_PHRASE_INDEX.first_tokens
_KEYWORD_INDEXES = (_INTEGRATION_INDEX, _INDUSTRY_INDEX, _URGENCY_INDEX, _TEAM_PHRASE_INDEX)
KEYWORD_FIRST_TOKENS = frozenset().union(*(index.first_tokens for index in _KEYWORD_INDEXES))
# Where any phrase can start: a one-token phrase, or the first two tokens of a longer one. Common words begin
# phrases ("a", "i", "in", "it", "need"), and this check spares them the look-ups when the next token fits none.
_KEYWORD_SINGLES = frozenset().union(*(index.singles for index in _KEYWORD_INDEXES))
_KEYWORD_PAIRS = frozenset().union(*(index.first_pairs for index in _KEYWORD_INDEXES))
# A keyword that names the caller's business only in some company: "our lawyer" is a person, "a store" a shop
# while "store documents" is a verb. Token before / after that show the keyword is not about the caller.


def scan_keywords(tokens: list[str], present: frozenset[str], found: Detection) -> None:
    """Integrations, urgency, industry and solo/pair team phrases, matched as token sequences."""
    industry: tuple[int, int, Industry, str] | None = None
    team_phrase: tuple[int, str] | None = None
    urgency_seen = False
    last = len(tokens) - 1
    starts = [
        i
        for i, token in enumerate(tokens)
        if token in present and (token in _KEYWORD_SINGLES or (i < last and (token, tokens[i + 1]) in _KEYWORD_PAIRS))
    ]
    for index in starts:
        token = tokens[index]
        if token in _INTEGRATION_FIRST and (hit := _INTEGRATION_INDEX.match_at(tokens, index)):
            name = hit[1]
            previous = tokens[index - 1] if index else ""
            if name not in found.integrations and previous not in INTEGRATION_NOT_AFTER.get(token, ()):
                found.integrations.append(name)
                found.evidence.append(("integrations", name, joined(tokens[index : index + hit[0]])))
        if not urgency_seen and token in _URGENCY_FIRST and (hit := _URGENCY_INDEX.match_at(tokens, index)):
            phrase = joined(tokens[index : index + hit[0]])
            if phrase in URGENCY_NEEDS_INTENT and INTENT_WORDS.isdisjoint(
                tokens[max(0, index - _INTENT_TOKENS) : index]
            ):
                pass  # "i got four emails this week" reports the past; it is not time pressure
            elif _negated(tokens, index):
                found.urgency_negated = True
            else:
                urgency_seen = True
                found.urgency, found.urgency_negated = phrase, False
                found.evidence.append(("urgency", phrase, phrase))
        if token in _INDUSTRY_FIRST and (hit := _INDUSTRY_INDEX.match_at(tokens, index)):
            length, sector = hit
            keyword = " ".join(tokens[index : index + length])
            if _describes_caller(tokens, index, length, keyword):
                rank = 0 if keyword in ORGANISATION_KEYWORDS else 1
                if industry is None or (rank, index) < industry[:2]:
                    industry = (rank, index, sector, joined(tokens[index : index + length]))
        # A pair beats "just me" said in the same breath: "just me and a paralegal" is two people.
        if (
            (team_phrase is None or team_phrase[0] == 1)
            and token in _TEAM_PHRASE_FIRST
            and (hit := _TEAM_PHRASE_INDEX.match_at(tokens, index))
            and (team_phrase is None or hit[1] == 2)
        ):
            team_phrase = (hit[1], joined(tokens[index : index + hit[0]]))
    if "crm" in found.integrations and NAMED_CRMS.intersection(found.integrations):
        # "our salesforce crm" names the CRM; the generic entry would only repeat it.
        found.integrations.remove("crm")
        found.evidence = [item for item in found.evidence if item[:2] != ("integrations", "crm")]
    if industry is not None:
        found.industry = industry[2]
        found.evidence.append(("industry", industry[2].value, industry[3]))
    # "me and one employee" reads "one employee" as a count of one; the pair phrase is the whole team.
    if team_phrase is not None and (found.team_size is None or (found.team_size == 1 and team_phrase[0] == 2)):
        found.evidence = [item for item in found.evidence if item[0] != "team_size"]
        found.team_size = team_phrase[0]
        found.evidence.append(("team_size", team_phrase[0], team_phrase[1]))


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


def _describes_caller(tokens: list[str], index: int, length: int, keyword: str) -> bool:
    before = tokens[index - 1] if index else ""
    after = tokens[index + length] if index + length < len(tokens) else ""
    if keyword in INDUSTRY_NOT_AFTER and before in INDUSTRY_NOT_AFTER[keyword]:
        return False
    if keyword in SHOP_KEYWORDS:
        return before in SHOP_QUALIFIERS and after not in SHOP_NOT_BEFORE
    if keyword in ORGANISATION_KEYWORDS:
        return True
    return after not in INDUSTRY_NOT_BEFORE and after not in INDUSTRY_NOT_BEFORE_BY_KEYWORD.get(keyword, ())
