"""Keywords matched as token sequences: integrations, urgency, industry, and the solo and pair team phrases.

A phrase index finds the longest phrase at a token with one dict lookup on the token pair; what each kind looks at
around its phrase is bounded and listed in its module (`integrations.py`, `urgency.py`, `industry.py`).
"""

from __future__ import annotations

from typing import NamedTuple

from functions.common.record import Industry

from .detection import Detection, joined
from .industry import INDUSTRY_INDEX, industry_at
from .integrations import INTEGRATION_INDEX, integration_counts
from .phrases import PhraseIndex
from .urgency import URGENCY_INDEX, urgency_at
from .words import NAMED_CRMS, PAIR_PHRASES, SOLO_PHRASES

_TEAM_PHRASE_INDEX = PhraseIndex({**dict.fromkeys(SOLO_PHRASES, 1), **dict.fromkeys(PAIR_PHRASES, 2)})
# Past this many keyword positions in one utterance the rest are not examined.
MAX_KEYWORD_STARTS = 256
_INTEGRATION_FIRST = INTEGRATION_INDEX.first_tokens
_URGENCY_FIRST = URGENCY_INDEX.first_tokens
_INDUSTRY_FIRST = INDUSTRY_INDEX.first_tokens
_TEAM_PHRASE_FIRST = _TEAM_PHRASE_INDEX.first_tokens
_KEYWORD_INDEXES = (INTEGRATION_INDEX, INDUSTRY_INDEX, URGENCY_INDEX, _TEAM_PHRASE_INDEX)
KEYWORD_FIRST_TOKENS = frozenset().union(*(index.first_tokens for index in _KEYWORD_INDEXES))
# Where any phrase can start: a one-token phrase, or the first two tokens of a longer one. Common words begin
# phrases ("a", "i", "in", "it", "need"), and this check spares them the look-ups when the next token fits none.
_KEYWORD_SINGLES = frozenset().union(*(index.singles for index in _KEYWORD_INDEXES))
_KEYWORD_PAIRS = frozenset().union(*(index.first_pairs for index in _KEYWORD_INDEXES))


class TeamPhrase(NamedTuple):
    size: int
    start: int
    end: int


def scan_keywords(tokens: list[str], present: frozenset[str], found: Detection) -> TeamPhrase | None:
    """Integrations, urgency and industry, matched as token sequences; returns the solo or pair team phrase."""
    industry: tuple[int, int, Industry, str] | None = None
    team_phrase: TeamPhrase | None = None
    urgency: str | None = None
    negated = False
    product_end = -1  # where the last product name ended
    last = len(tokens) - 1
    starts = [
        i
        for i, token in enumerate(tokens)
        if token in present and (token in _KEYWORD_SINGLES or (i < last and (token, tokens[i + 1]) in _KEYWORD_PAIRS))
    ]
    # Cut at MAX_KEYWORD_STARTS: real speech has a handful of keywords, and a 100,000-character run of them ("by the
    # 15th by the 15th ...") would otherwise pay every look-around of every one.
    for index in starts[:MAX_KEYWORD_STARTS]:
        token = tokens[index]
        if (
            token in _INTEGRATION_FIRST
            and index >= product_end  # "drop box" is one name, not "drop" and then "box"
            and (hit := INTEGRATION_INDEX.match_at(tokens, index))
        ):
            name = hit[1]
            after_product, product_end = index == product_end, index + hit[0]
            if name not in found.integrations and integration_counts(tokens, index, hit[0], name, after_product):
                found.integrations.append(name)
                found.evidence.append(("integrations", name, joined(tokens[index : index + hit[0]])))
        if token in _URGENCY_FIRST and (said := urgency_at(tokens, index)):
            # Urgency holds until a negation clears it; the first phrase of pressure is the one reported.
            if not said[0]:
                urgency, negated = None, True
            elif urgency is None:
                urgency, negated = said[1], False
        if token in _INDUSTRY_FIRST and (sector := industry_at(tokens, index)):
            length, rank, value = sector
            if industry is None or (rank, index) < industry[:2]:
                industry = (rank, index, value, joined(tokens[index : index + length]))
        # A pair beats "just me" said in the same breath: "just me and a paralegal" is two people.
        if (
            (team_phrase is None or team_phrase.size == 1)
            and token in _TEAM_PHRASE_FIRST
            and (hit := _TEAM_PHRASE_INDEX.match_at(tokens, index))
            and (team_phrase is None or hit[1] == 2)
        ):
            team_phrase = TeamPhrase(hit[1], index, index + hit[0])
    if "crm" in found.integrations and NAMED_CRMS.intersection(found.integrations):
        # "our salesforce crm" names the CRM; the generic entry would only repeat it.
        found.integrations.remove("crm")
        found.evidence = [item for item in found.evidence if item[:2] != ("integrations", "crm")]
    found.urgency, found.urgency_negated = urgency, negated
    if urgency is not None:
        found.evidence.append(("urgency", urgency, urgency))
    if industry is not None:
        found.industry = industry[2]
        found.evidence.append(("industry", industry[2].value, industry[3]))
    return team_phrase
