"""Integrations: a product name counts when the caller uses or needs it, not when it is a word, a product they do not
use, or one they left.

Bounds: one token before and after a name for its company, up to `_LIST_LOOK_BACK` tokens before it for a negation
(through a list of products) and `_LOOK_BACK` for a product left.
"""

from __future__ import annotations

from .lexicon import tokens_of
from .phrases import PhraseIndex
from .words import (
    AMBIGUOUS_INTEGRATIONS,
    INTEGRATION_CHANGE_VERBS,
    INTEGRATION_LEFT_SKIPS,
    INTEGRATION_LEFT_WORDS,
    INTEGRATION_NEGATION_SKIPS,
    INTEGRATION_NOT_AFTER,
    INTEGRATION_NOT_BEFORE,
    INTEGRATION_PAST_USE,
    INTEGRATIONS,
    NEGATORS,
)

_LOOK_BACK = 4
_LIST_LOOK_BACK = 6
INTEGRATION_INDEX = PhraseIndex(INTEGRATIONS)
# Names of products that sit in lists with others: a negation reaches through them ("not hubspot or any crm").
_NAME_TOKENS = frozenset(token for alias in INTEGRATIONS for token in tokens_of(alias) if len(token) > 2)


def integration_counts(tokens: list[str], index: int, length: int, name: str, after_product: bool) -> bool:
    """Whether the name matched at tokens[index : index + length] (canonical id `name`) is an integration;
    `after_product` when another product's name ends right before it."""
    token = tokens[index]
    previous = tokens[index - 1] if index else ""
    following = tokens[index + length] if index + length < len(tokens) else ""
    if previous in INTEGRATION_NOT_AFTER.get(token, ()) or following in INTEGRATION_NOT_BEFORE.get(name, ()):
        return False
    # A name that is also a word counts in a product's company, or next to another product ("slack, outlook, teams").
    if (
        length == 1
        and (context := AMBIGUOUS_INTEGRATIONS.get(token))
        and not after_product
        and following not in context["after"]
        and (previous in context["not_after"] or previous not in context["before"])
        and INTEGRATION_INDEX.match_at(tokens, index + length) is None
    ):
        return False
    return not _not_used(tokens, index)


def _not_used(tokens: list[str], index: int) -> bool:
    """A negation ("we don't use slack", "not hubspot or any crm") or a product left ("we moved off dropbox",
    "switched from pipedrive", "we were on box")."""
    position = index - 1
    negation_ok = left_ok = True
    while position >= 0 and (negation_ok or left_ok):
        token = tokens[position]
        distance = index - position
        left_ok = left_ok and distance <= _LOOK_BACK
        if negation_ok and (token in NEGATORS or token.endswith("n't")):
            return True
        if left_ok and (
            token in INTEGRATION_LEFT_WORDS
            or (token == "from" and position and tokens[position - 1] in INTEGRATION_CHANGE_VERBS)
            or (token == "used" and tokens[position + 1] == "to")
            or (
                token in INTEGRATION_PAST_USE
                and (tokens[position + 1] in ("on", "using", "with", "in") or distance == 1)
            )
        ):
            return True
        # A negation reaches through a list of products: "we don't use hubspot or any crm".
        negation_ok = (
            negation_ok
            and distance < _LIST_LOOK_BACK
            and (token in INTEGRATION_NEGATION_SKIPS or token in _NAME_TOKENS or token in ("or", "nor", "and"))
        )
        left_ok = left_ok and token in INTEGRATION_LEFT_SKIPS
        position -= 1
    return False
