"""The detector's word lists: TOML files in `lexicons/`, read once at import and checked as they load.

The words callers use are data, kept in the files; the modules hold the logic that reads an utterance. Every
accessor checks its entries against the tokenizer, because an entry that no tokenized utterance can produce (an
upper-case letter, a space inside a one-token list, a character the tokenizer drops) would silently never match.
Such an entry, a duplicate, a wrong type or a key nobody reads stops the import with the file and the entry named.

Phrases may hold `{name}` slots: the phrase stands for itself with each word of the file's `[slots].name` list in
turn, and an empty word drops out with its space ("by {the} end" is "by end" and "by the end").
"""

from __future__ import annotations

import functools
import itertools
import re
import tomllib
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

# The detector's one tokenizer. Its alternatives are disjoint character classes with no nested quantifiers, so it
# is linear in the text (see the package docstring).
TOKEN_RE = re.compile(r"\d+(?:[.,]\d+)*|[a-z]+(?:'[a-z]+)?|[-–%$€£#+/&]")
LEXICON_DIR = Path(__file__).with_name("lexicons")
# The session record's pattern for an integration id (functions/common/record.py).
ID_PATTERN = re.compile(r"^[a-z0-9_]{1,40}$")
_SLOT = re.compile(r"\{([a-z_]+)\}")
# Entries the tokenizer reads as themselves beyond doubt; anything else gets the full check.
_PLAIN_WORD = re.compile(r"[a-z]+")
_PLAIN_PHRASE = re.compile(r"[a-z]+(?: [a-z]+)*")


class LexiconError(ValueError):
    """A lexicon file breaks a rule; the message names the file and the entry."""


@functools.cache
def tokens_of(phrase: str) -> tuple[str, ...]:
    """The tokens of a lexicon phrase (cached: each is read for its check and again for its index)."""
    return tuple(TOKEN_RE.findall(phrase))


def phrase_problem(phrase: str) -> str | None:
    """Why the tokenizer cannot produce `phrase` as a token sequence, or None when it can."""
    if _PLAIN_PHRASE.fullmatch(phrase):
        return None  # lowercase words and single spaces: each word is one token (most entries, checked fast)
    if phrase != phrase.lower():
        return "is not lowercase"
    if phrase != " ".join(phrase.split()):
        return "has leading, trailing or repeated spaces"
    tokens = tokens_of(phrase)
    if not tokens or "".join(tokens) != phrase.replace(" ", ""):
        return f"is not made of whole tokens (the tokenizer reads it as {list(tokens)})"
    return None


def word_problem(word: str) -> str | None:
    """Why `word` is not exactly one token, or None when it is."""
    if _PLAIN_WORD.fullmatch(word):
        return None
    if word != word.lower():
        return "is not lowercase"
    if tokens_of(word) != (word,):
        return f"is not one token (the tokenizer reads it as {list(tokens_of(word))})"
    return None


class Lexicon:
    """One table of a lexicon file. Each accessor takes one key, checks its entries and returns them in the shape the
    code uses; `close()` rejects the keys nobody took, since a misspelt key would otherwise be ignored."""

    def __init__(self, path: Path, data: dict[str, Any], where: str = "", slots: dict[str, Any] | None = None) -> None:
        self.path = path
        self._data = data
        self._where = where
        self._slots = slots
        self._unread = set(data)

    @classmethod
    def load(cls, name: str, directory: Path = LEXICON_DIR) -> Lexicon:
        path = directory / f"{name}.toml"
        try:
            with path.open("rb") as source:
                data = tomllib.load(source)
        except (OSError, tomllib.TOMLDecodeError) as error:
            raise LexiconError(
                f"{path}: cannot be read ({error}); the signal detector does not load without it"
            ) from error
        return cls(path, data)

    def error(self, key: str, problem: str) -> LexiconError:
        return LexiconError(
            f"{self.path}: {self._where}{key} {problem}; the signal detector does not load until it is fixed"
        )

    def _take(self, key: str, kind: type | tuple[type, ...], kind_name: str) -> Any:
        if key not in self._data:
            raise self.error(key, "is missing")
        self._unread.discard(key)
        value = self._data[key]
        if not isinstance(value, kind) or isinstance(value, bool):
            raise self.error(key, f"is {type(value).__name__}, not {kind_name}")
        return value

    def _strings(self, key: str) -> list[str]:
        values: list[Any] = self._take(key, list, "a list of strings")
        for position, value in enumerate(values):
            if not isinstance(value, str):
                raise self.error(f"{key}[{position}]", f"{value!r} is not a string")
        return values

    def words(self, key: str) -> frozenset[str]:
        """A list of single tokens."""
        found: set[str] = set()
        for position, word in enumerate(self._strings(key)):
            problem = word_problem(word) or ("is listed twice" if word in found else None)
            if problem:
                raise self.error(f"{key}[{position}]", f"{word!r} {problem}")
            found.add(word)
        return frozenset(found)

    def phrases(self, key: str) -> tuple[str, ...]:
        """A list of phrases (token sequences), `{name}` slots expanded, in the file's order."""
        found: dict[str, None] = {}
        for position, entry in enumerate(self._strings(key)):
            for phrase in self._expand(f"{key}[{position}]", entry):
                problem = phrase_problem(phrase) or ("is listed twice" if phrase in found else None)
                if problem:
                    raise self.error(f"{key}[{position}]", f"{phrase!r} {problem}")
                found[phrase] = None
        return tuple(found)

    def _expand(self, where: str, entry: str) -> Iterator[str]:
        names = _SLOT.findall(entry)
        if not names:
            yield entry
            return
        if self._slots is None:
            raise self.error(where, f"{entry!r} has a slot but the file has no [slots] table")
        choices = []
        for name in names:
            if name not in self._slots:
                raise self.error(where, f"{entry!r} names slot {name!r}, which [slots] does not define")
            choices.append(self._slots[name])
        pieces = _SLOT.split(entry)[::2]  # the text around the slots; split() also returns the slot names between
        for words in itertools.product(*choices):
            filled = pieces[0] + "".join(word + piece for word, piece in zip(words, pieces[1:], strict=True))
            yield " ".join(filled.split())

    def numbers(self, key: str) -> dict[str, float]:
        """A table of single tokens to numbers >= 0."""
        table: dict[str, Any] = self._take(key, dict, "a table")
        values: dict[str, float] = {}
        for word, value in table.items():
            problem = word_problem(word)
            if problem:
                raise self.error(f"{key}.{word!r}", problem)
            if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                raise self.error(f"{key}.{word}", f"{value!r} is not a number >= 0")
            values[word] = value
        return values

    def number(self, key: str) -> float:
        value: float = self._take(key, (int, float), "a number")
        if value <= 0:
            raise self.error(key, f"{value!r} is not a number > 0")
        return value

    def names(self) -> list[str]:
        """The keys of this table."""
        return list(self._data)

    def table(self, key: str) -> Lexicon:
        return Lexicon(self.path, self._take(key, dict, "a table"), f"{self._where}{key}.", self._slots)

    def word_table(self, key: str) -> dict[str, frozenset[str]]:
        """A table of single tokens to lists of single tokens."""
        table = self.table(key)
        sets: dict[str, frozenset[str]] = {}
        for word in table.names():
            if problem := word_problem(word):
                raise table.error(repr(word), problem)
            sets[word] = table.words(word)
        table.close()
        return sets

    def tables(self, key: str) -> list[Lexicon]:
        """An array of tables (`[[key]]`)."""
        items: list[Any] = self._take(key, list, "an array of tables")
        views = []
        for position, item in enumerate(items):
            if not isinstance(item, dict):
                raise self.error(f"{key}[{position}]", "is not a table")
            views.append(Lexicon(self.path, item, f"{self._where}{key}[{position}].", self._slots))
        return views

    def phrase_map(self, key: str, names: Collection[str] | re.Pattern[str]) -> dict[str, str]:
        """A table of names to phrase lists, as phrase (its tokens joined by spaces) -> name; a phrase may belong to
        one name only."""
        table = self.table(key)
        mapping: dict[str, str] = {}
        for name in table.names():
            allowed = names.fullmatch(name) if isinstance(names, re.Pattern) else name in names
            if not allowed:
                raise table.error(name, "is not a known name" if not isinstance(names, re.Pattern) else "is not an id")
            for phrase in table.phrases(name):
                tokens = " ".join(tokens_of(phrase))  # "non-profit" and "non - profit" are one phrase
                if tokens in mapping:
                    raise table.error(name, f"{phrase!r} is also listed under {mapping[tokens]!r}")
                mapping[tokens] = name
        table.close()
        return mapping

    def with_slots(self) -> Lexicon:
        """This file with its `[slots]` table read, for phrases that use slots."""
        slots = self.table("slots")
        checked: dict[str, Any] = {}
        for name in slots.names():
            for position, word in enumerate(slots._strings(name)):
                if word and (problem := phrase_problem(word)):
                    raise slots.error(f"{name}[{position}]", f"{word!r} {problem}")
            checked[name] = slots._data[name]
        self._slots = checked
        return self

    def subset(self, key: str, items: Collection[str], of: Collection[str], what: str) -> None:
        """Checks that every item (read from `key`) is one of `of`: a reference to an entry that does not exist would
        never apply."""
        for item in items:
            if item not in of:
                raise self.error(key, f"names {item!r}, which is not {what}")

    def close(self) -> None:
        if self._unread:
            raise self.error(", ".join(sorted(self._unread)), "is not a key the detector reads")
