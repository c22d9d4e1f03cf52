"""Industry: a keyword or a description of the caller's own business, not of their customers, a relative or a past job.

Bounds: one token each side of a keyword for its company, up to `_REACH` tokens before it for a past, a relative
or the caller's customers.
"""

from __future__ import annotations

from functions.common.record import Industry

from .phrases import PhraseIndex
from .words import (
    CUSTOMER_MARKERS,
    CUSTOMER_NOUNS,
    CUSTOMER_SKIPS,
    DEPARTMENT_VERBS,
    DEPARTMENTS,
    INDUSTRY_DESCRIPTIONS,
    INDUSTRY_KEYWORDS,
    INDUSTRY_MEDIA,
    INDUSTRY_NOT_AFTER,
    INDUSTRY_NOT_BEFORE,
    INDUSTRY_NOT_BEFORE_BY_KEYWORD,
    INDUSTRY_PAST,
    NOW_MARKERS,
    ORGANISATION_KEYWORDS,
    RELATIVE_VERBS,
    RELATIVES,
    SELL_VERBS,
    SHOP_KEYWORDS,
    SHOP_NOT_BEFORE,
    SHOP_QUALIFIERS,
    WORK_VERBS,
)

_REACH = 5
_CUSTOMER_RANK = 3
_ARTICLES = frozenset({"a", "an", "the"})
# The token right before a keyword that may make it the caller's customers (after the skips, checked in full).
_CUSTOMER_FIRST = CUSTOMER_MARKERS | CUSTOMER_SKIPS | {"to"}
# Any of these in the tokens before a keyword calls for the look-backs; most keywords have none.
_LOOK_BACK_WORDS = (
    INDUSTRY_PAST
    | RELATIVES
    | frozenset(relative + "'s" for relative in RELATIVES)
    | {"are", "is", "include", "including"}
)
# A keyword names the organisation (0), the sector (1), or a description of the business (2): the lowest rank wins,
# then the earliest in the utterance.
INDUSTRY_INDEX = PhraseIndex(
    {
        **{phrase: (sector, 2) for phrase, sector in INDUSTRY_DESCRIPTIONS.items()},
        **{
            phrase: (sector, 0 if phrase in ORGANISATION_KEYWORDS else 1)
            for phrase, sector in INDUSTRY_KEYWORDS.items()
        },
    }
)


def industry_at(tokens: list[str], index: int) -> tuple[int, int, Industry] | None:
    """The industry phrase at `index` when it describes the caller: its length, rank and sector."""
    hit = INDUSTRY_INDEX.match_at(tokens, index)
    if hit is None:
        return None
    length, (sector, rank) = hit
    keyword = " ".join(tokens[index : index + length])
    if not _describes_caller(tokens, index, length, keyword, rank):
        return None
    # After "for", "with", "serving"...: "software for dental offices", "we work with law firms" name the caller's
    # customers. With an article ("i manage operations for a restaurant group") it may be the caller's employer:
    # anything else said beats it, but alone it stands.
    start = index - 1 if keyword in SHOP_KEYWORDS else index  # "for grocery stores": before the qualifier
    if start and tokens[start - 1] in _CUSTOMER_FIRST and (article := _customers(tokens, start)) is not None:
        return (length, _CUSTOMER_RANK, sector) if article else None
    return length, rank, sector


def _describes_caller(tokens: list[str], index: int, length: int, keyword: str, rank: int) -> bool:
    before = tokens[index - 1] if index else ""
    after = tokens[index + length] if index + length < len(tokens) else ""
    if keyword in INDUSTRY_NOT_AFTER and before in INDUSTRY_NOT_AFTER[keyword]:
        return False
    if keyword in SHOP_KEYWORDS and (before not in SHOP_QUALIFIERS or after in SHOP_NOT_BEFORE):
        return False
    if after in INDUSTRY_MEDIA or (keyword in DEPARTMENTS and _department(tokens, index, before, after)):
        return False
    if not _LOOK_BACK_WORDS.isdisjoint(tokens[max(0, index - _REACH) : index]) and (
        _past(tokens, index) or _relatives(tokens, index) or _clients_are(tokens, index)
    ):
        return False
    if keyword in SHOP_KEYWORDS or rank == 0:
        return True
    return after not in INDUSTRY_NOT_BEFORE and after not in INDUSTRY_NOT_BEFORE_BY_KEYWORD.get(keyword, ())


def _department(tokens: list[str], index: int, before: str, after: str) -> bool:
    """ "someone from marketing", "we use xero for accounting", "finance runs on netsuite": a department or a
    purpose, not the business."""
    if before == "from" or after in DEPARTMENT_VERBS:
        return True
    return before == "for" and index >= 2 and tokens[index - 2] not in WORK_VERBS


def _past(tokens: list[str], index: int) -> bool:
    """ "i used to work in insurance", "we started as an accounting firm": a past, unless "now" or "but" follows it."""
    position = index - 1
    while position >= 0 and index - position <= _REACH:
        token = tokens[position]
        if token in NOW_MARKERS or token == "but":
            return False
        if token in INDUSTRY_PAST:
            following = tokens[position + 1]
            if token == "used":
                return following == "to"
            if token == "started":
                return following in ("as", "out")
            return True
        position -= 1
    return False


def _relatives(tokens: list[str], index: int) -> bool:
    """ "my brother is a realtor", "my wife's clinic": somebody else's business."""
    for position in range(max(0, index - _REACH), index):
        token = tokens[position]
        if token in RELATIVES and tokens[position + 1] in RELATIVE_VERBS:
            return True
        if token.endswith("'s") and token[:-2] in RELATIVES:
            return True
    return False


def _customers(tokens: list[str], index: int) -> bool | None:
    """ "software for dental offices", "we work with law firms", "we sell to retailers": the caller's customers. None
    when not; else whether an article stands before the keyword ("for a restaurant group")."""
    position = index - 1
    article = False
    while position >= 0 and tokens[position] in CUSTOMER_SKIPS and index - position <= _REACH:
        article |= tokens[position] in _ARTICLES
        position -= 1
    if position < 0:
        return None
    token = tokens[position]
    previous = tokens[position - 1] if position else ""
    if token in CUSTOMER_MARKERS:
        # "i work for a bank", "i'm with a law firm" are the caller's own
        return None if previous in WORK_VERBS else article
    return article if token == "to" and previous in SELL_VERBS else None


def _clients_are(tokens: list[str], index: int) -> bool:
    """ "most of our clients are hospitals", "our biggest customer is a bank": the customers, said outright."""
    position = index - 1
    while position >= 0 and tokens[position] in CUSTOMER_SKIPS and index - position <= _REACH:
        position -= 1
    return (
        position >= 1
        and tokens[position] in ("are", "is", "include", "including")
        and (tokens[position - 1] in CUSTOMER_NOUNS)
    )
