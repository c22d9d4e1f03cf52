"""A team given by its members: "me and two assistants", "two dentists, three hygienists and a front desk person".

A member list is a run of items joined by "and", "plus", "&" or nothing (speech-to-text drops the commas). An item
is the caller ("me", "myself", "i" after "and"), a count and a role ("two assistants", "a paralegal", "my office
manager", "the owner"), or "N of us". Family count only as "my ..." in a list that names the caller. Between items
a filler ("and then like") or a place ("in the office") may sit. The list is a team when it names the caller and a
role, or two roles or more; its size is the sum, plus the caller when they follow it ("two drivers working for me").
People who are not staff (clients, friends, pets) are not roles, and people "on this call" are not the team.

Bounds: an item is a number phrase (at most `numbers.PHRASE_TOKENS` tokens) and at most `_MODIFIERS` words before its
role; a list has at most `MAX_ITEMS` items, with at most `_GAP` tokens of filler or place between two; the caller
and the people on the call are looked for `_AFTER` tokens after it; a list is tried from at most `_MODIFIERS + 2`
positions before each role noun, at most `MAX_LISTS` lists are tried per utterance, and the pass moves past each list
it reads.
"""

from __future__ import annotations

from typing import NamedTuple

from .numbers import NUMBER_START, number_phrase_end, phrase_value
from .phrases import PhraseIndex
from .words import (
    ARTICLE_STARTS,
    FAMILY,
    FUNCTION_WORDS,
    LIST_FILLERS,
    LIST_PLACES,
    MEMBER_MODIFIERS,
    NOT_TEAM_AFTER,
    ROLES,
    SELF_AFTER,
    SELF_WORDS,
)

MAX_ITEMS = 8
MAX_LISTS = 32
_MODIFIERS = 2
_GAP = 3
_AFTER = 4
_JOINS = frozenset({"and", "plus", "&"})
_OWNERS = frozenset({"my", "our"})
_ONE = frozenset({"a", "an", "one", "another", "the"})
_NOT_TEAM = PhraseIndex(dict.fromkeys(NOT_TEAM_AFTER, True))
TRIGGERS = ROLES | SELF_WORDS | FAMILY | {"us"}
# Every member list has a role, a family member or "N of us" in it.
NEEDED = ROLES | FAMILY | {"us"}


class Members(NamedTuple):
    size: int
    start: int
    end: int


class _Item(NamedTuple):
    people: float
    end: int
    is_self: bool
    family: bool


def read_members(tokens: list[str]) -> Members | None:
    """The first member list in the utterance that names a team (size 0 for the people at the call), or None."""
    size = len(tokens)
    tried_up_to = 0
    lists = 0
    for index, token in enumerate(tokens):
        if token not in TRIGGERS or index < tried_up_to:
            continue
        lists += 1
        if lists > MAX_LISTS:
            return None  # real speech names its team once or twice; a run of role nouns is not read to its end
        begin = index if token in SELF_WORDS else max(tried_up_to, index - _MODIFIERS - 2)  # "us": "four of us"
        for start in range(begin, index + 1):
            found = _list_at(tokens, start, size)
            if found is not None:
                if found[1]:
                    return found[0]
                tried_up_to = found[0].end
                break
    return None


def _list_at(tokens: list[str], start: int, size: int) -> tuple[Members, bool] | None:
    """The member list starting at `start` (None if no item starts there), and whether it names a team."""
    people = family = 0.0
    roles = 0
    has_self = False
    position = start
    owned = False  # the last item was "my ...": "my partner and i"
    us = False  # an item was "N of us": a bare count after it is more of us
    for _ in range(MAX_ITEMS):
        item = _item_at(tokens, position, size, after_owner=owned, after_us=us)
        if item is None:
            break
        owned = tokens[position] in _OWNERS
        us |= tokens[item.end - 2 : item.end] == ["of", "us"]
        has_self |= item.is_self
        if item.family:
            family += item.people
        else:
            people += item.people
            roles += not item.is_self
        position = item.end
        following = _next_item(tokens, position, size, owned, us)
        if following is None:
            break
        position = following
    if position == start:
        return None
    if family and has_self:
        people += family
        roles += 1
    if not has_self and _caller_after(tokens, position, size):
        people, has_self = people + 1, True  # "a bookkeeper and two drivers working for me"
    team = roles >= 1 and (has_self or roles >= 2) and 1 <= people <= 10_000
    if team and _on_the_call(tokens, position):
        return Members(0, start, position), True  # a list, but of the people at the call: no team
    return Members(round(people), start, position), team


def _next_item(tokens: list[str], position: int, size: int, owned: bool, us: bool) -> int | None:
    """Where the next item starts after a join, a filler or a place ("and then like", "in the office plus")."""
    placed = False
    for gap in range(_GAP + 1):
        index = position + gap
        if index >= size:
            return None
        token = tokens[index]
        if token in _JOINS:
            index += 1
            while index < size and index - position <= _GAP + 2 and tokens[index] in LIST_FILLERS:
                index += 1
            return index if _item_at(tokens, index, size, after_owner=owned, after_us=us) is not None else None
        if (gap == 0 or placed) and _item_at(tokens, index, size, after_owner=False, after_us=us) is not None:
            return index  # no join: speech-to-text drops the commas
        if gap == 0 and token not in LIST_PLACES:
            return None
        placed = True  # "two of us in sales three engineers": the next item may follow the place
    return None


def _item_at(tokens: list[str], position: int, size: int, *, after_owner: bool, after_us: bool = False) -> _Item | None:
    if position >= size:
        return None
    token = tokens[position]
    if token in SELF_WORDS or (after_owner and token == "i"):
        return _Item(1, position + 1, True, False)
    count = 1.0
    owner = token in _OWNERS
    if owner:
        position += 1
        if position < size and ("0" <= tokens[position][0] <= "9" or tokens[position] in NUMBER_START):
            end = number_phrase_end(tokens, position)
            count, position = phrase_value(tokens[position:end]) or 0.0, end
    elif token in _ONE and not (position + 1 < size and tokens[position + 1] in ARTICLE_STARTS):
        position += 1
    elif "0" <= token[0] <= "9" or token in NUMBER_START or token in _ONE:
        end = number_phrase_end(tokens, position)
        count, position = phrase_value(tokens[position:end]) or 0.0, end
        if tokens[position : position + 2] == ["of", "us"]:
            return _Item(count, position + 2, False, False) if count > 0 else None  # "four of us"
        if after_us and count > 0 and (position >= size or tokens[position] in LIST_PLACES):
            return _Item(count, position, False, False)  # "two of us up front and three in the back"
    else:
        return None
    role = _role_after(tokens, position, size)
    if role is None or count <= 0:
        return None
    if tokens[role] in FAMILY and not owner:
        return None
    if token == "the" and tokens[role].endswith("s"):
        return None  # "the owner" is one person; "the drivers" no count
    return _Item(count, role + 1, False, tokens[role] in FAMILY)


def _role_after(tokens: list[str], position: int, size: int) -> int | None:
    """A role noun at `position` or after at most `_MODIFIERS` plain words ("front desk person", "other agents")."""
    words = 0
    while position < size:
        token = tokens[position]
        if token in ROLES or token in FAMILY:
            return position
        if token == "-":
            position += 1
            continue
        if (
            words == _MODIFIERS
            or not token[0].isalpha()
            or (token in FUNCTION_WORDS and token not in MEMBER_MODIFIERS)
            or token in _JOINS
            or token in SELF_WORDS
            or token in NUMBER_START
        ):
            return None
        words += 1
        position += 1
    return None


def _caller_after(tokens: list[str], end: int, size: int) -> bool:
    """ "working for me", "under me", "with me" right after the list."""
    for index in range(end, min(size - 1, end + _AFTER)):
        if tokens[index] in SELF_AFTER and tokens[index + 1] in SELF_WORDS:
            return True
    return False


def _on_the_call(tokens: list[str], end: int) -> bool:
    """ "me and two colleagues are on this call": people at the call, not the team."""
    return _NOT_TEAM.find(tokens, end, end + _AFTER) is not None
