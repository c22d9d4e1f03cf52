"""The insights taxonomy (taxonomy.toml beside this module), read and checked once per container, and the phrase
matcher that finds its entries in text.

The file is data: topic and competitor ids with their phrases, the cue lists of the local provider, VADER lexicon
adjustments and coaching thresholds. A missing section, an entry of the wrong type, an id outside the scored record's
id pattern, a phrase no tokenized text can produce, or a topic named by a competitor that does not exist stops the
import with the file and the entry named.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from functions.common.insights import TAXONOMY_ID

TAXONOMY_PATH = Path(__file__).with_name("taxonomy.toml")
# Words of a lower-cased text: letters and digits, with an apostrophe inside a word kept ("can't", "docusign's").
TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_ID = re.compile(TAXONOMY_ID)
CUE_LISTS = ("objection", "cancel", "churn", "follow_up", "deflection", "negation", "question_starts")
# Cue lists of single words, looked up as sets; the others are phrase lists.
WORD_LISTS = ("negation", "question_starts")
# The session record's signals a topic may name in `signals`.
SIGNAL_FIELDS = frozenset({"team_size", "monthly_volume", "integrations", "urgency", "industry"})
COACHING_THRESHOLDS = (
    "agent_talk_share_above",
    "response_latency_p95_ms_above",
    "interruptions_at_least",
    "sentiment_drop_at_least",
)


class TaxonomyError(ValueError):
    """taxonomy.toml breaks a rule; the message names the file and the entry."""


def tokens(text: str) -> list[str]:
    """The words of `text` as the matcher reads them (typographic apostrophes made plain)."""
    return TOKEN.findall(text.lower().replace("’", "'").replace("‘", "'"))


@dataclass(frozen=True)
class PhraseIndex:
    """Phrases (token tuples) by their first token, each with the key it stands for: one dict lookup per word of
    the text, then a comparison per phrase starting with that word (linear in the text)."""

    by_first: dict[str, list[tuple[tuple[str, ...], str]]] = field(default_factory=dict)

    @classmethod
    def build(cls, entries: Iterable[tuple[str, str]], source: str) -> PhraseIndex:
        by_first: dict[str, list[tuple[tuple[str, ...], str]]] = {}
        for phrase, key in entries:
            words = tuple(tokens(phrase))
            if not words or " ".join(words) != " ".join(phrase.lower().replace("-", " ").split()):
                raise TaxonomyError(f"{TAXONOMY_PATH.name}: {source} phrase {phrase!r} can never match tokenized text")
            by_first.setdefault(words[0], []).append((words, key))
        for candidates in by_first.values():
            candidates.sort(key=lambda item: -len(item[0]))  # the longest phrase at a position wins
        return cls(by_first)

    def find(self, words: list[str]) -> list[tuple[int, str]]:
        """(position, key) of every phrase found in `words`, in order, without overlaps."""
        found: list[tuple[int, str]] = []
        position = 0
        while position < len(words):
            for phrase, key in self.by_first.get(words[position], ()):
                if tuple(words[position : position + len(phrase)]) == phrase:
                    found.append((position, key))
                    position += len(phrase)
                    break
            else:
                position += 1
        return found

    def keys_in(self, words: list[str]) -> list[str]:
        """The distinct keys found in `words`, in order of first mention."""
        return list(dict.fromkeys(key for _, key in self.find(words)))


@dataclass(frozen=True)
class Entry:
    id: str
    label: str
    topics: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    signals: tuple[str, ...] = ()


@dataclass(frozen=True)
class Taxonomy:
    topics: Mapping[str, Entry]
    competitors: Mapping[str, Entry]
    topic_phrases: PhraseIndex
    competitor_phrases: PhraseIndex
    cues: Mapping[str, PhraseIndex]
    negations: frozenset[str]
    question_starts: frozenset[str]
    sentiment_lexicon: Mapping[str, float]
    coaching: Mapping[str, float]

    def label(self, entry_id: str) -> str:
        entry = self.topics.get(entry_id) or self.competitors.get(entry_id)
        return entry.label if entry else entry_id


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
        raise TaxonomyError(f"{TAXONOMY_PATH.name}: {where} must be a list of non-empty strings")
    if len(set(value)) != len(value):
        raise TaxonomyError(f"{TAXONOMY_PATH.name}: {where} lists an entry twice")
    return tuple(value)


def _words(value: Any, where: str) -> frozenset[str]:
    words = _strings(value, where)
    if any(tokens(word) != [word] for word in words):
        raise TaxonomyError(f"{TAXONOMY_PATH.name}: {where} must hold single lower-case words")
    return frozenset(words)


def _entries(section: Any, kind: str) -> dict[str, Entry]:
    if not isinstance(section, dict) or not section:
        raise TaxonomyError(f"{TAXONOMY_PATH.name}: [{kind}] is missing or empty")
    entries = {}
    for entry_id, body in section.items():
        where = f"[{kind}.{entry_id}]"
        if not _ID.match(entry_id):
            raise TaxonomyError(f"{TAXONOMY_PATH.name}: {where} id must match {TAXONOMY_ID}")
        unknown = set(body) - {"label", "phrases", "topics", "categories", "signals"}
        if unknown or not isinstance(body.get("label"), str):
            raise TaxonomyError(f"{TAXONOMY_PATH.name}: {where} needs a label and knows no keys {sorted(unknown)}")
        entries[entry_id] = Entry(
            id=entry_id,
            label=body["label"],
            topics=_strings(body.get("topics", []), f"{where} topics") if body.get("topics") else (),
            categories=_strings(body["categories"], f"{where} categories") if body.get("categories") else (),
            signals=_strings(body["signals"], f"{where} signals") if body.get("signals") else (),
        )
        if not set(entries[entry_id].signals) <= SIGNAL_FIELDS:
            raise TaxonomyError(f"{TAXONOMY_PATH.name}: {where} signals must be among {sorted(SIGNAL_FIELDS)}")
        _strings(body.get("phrases"), f"{where} phrases")
    return entries


def parse_taxonomy(data: Mapping[str, Any]) -> Taxonomy:
    """Check the decoded file and build its matchers."""
    unknown = set(data) - {"topics", "competitors", "cues", "sentiment", "coaching"}
    if unknown:
        raise TaxonomyError(f"{TAXONOMY_PATH.name}: unknown sections {sorted(unknown)}")
    topics = _entries(data.get("topics"), "topics")
    competitors = _entries(data.get("competitors"), "competitors")
    for entry in competitors.values():
        missing = set(entry.topics) - set(topics)
        if missing:
            raise TaxonomyError(
                f"{TAXONOMY_PATH.name}: [competitors.{entry.id}] names unknown topics {sorted(missing)}"
            )
    cues = data.get("cues") or {}
    if set(cues) != set(CUE_LISTS):
        raise TaxonomyError(f"{TAXONOMY_PATH.name}: [cues] must hold exactly {list(CUE_LISTS)}")
    lexicon = data.get("sentiment") or {}
    if not all(isinstance(value, int | float) and -4 <= value <= 4 for value in lexicon.values()):
        raise TaxonomyError(f"{TAXONOMY_PATH.name}: [sentiment] values must be numbers from -4 to 4")
    coaching = data.get("coaching") or {}
    if set(coaching) != set(COACHING_THRESHOLDS) or not all(isinstance(v, int | float) for v in coaching.values()):
        raise TaxonomyError(f"{TAXONOMY_PATH.name}: [coaching] must hold exactly {list(COACHING_THRESHOLDS)}")

    def phrases(kind: str) -> list[tuple[str, str]]:
        return [(phrase, entry_id) for entry_id, body in data[kind].items() for phrase in body["phrases"]]

    return Taxonomy(
        topics=topics,
        competitors=competitors,
        topic_phrases=PhraseIndex.build(phrases("topics"), "[topics]"),
        competitor_phrases=PhraseIndex.build(phrases("competitors"), "[competitors]"),
        cues={
            name: PhraseIndex.build(((cue, name) for cue in _strings(cues[name], f"[cues] {name}")), f"[cues] {name}")
            for name in CUE_LISTS
            if name not in WORD_LISTS
        },
        negations=_words(cues["negation"], "[cues] negation"),
        question_starts=_words(cues["question_starts"], "[cues] question_starts"),
        sentiment_lexicon={word: float(value) for word, value in lexicon.items()},
        coaching={name: float(value) for name, value in coaching.items()},
    )


@cache
def taxonomy() -> Taxonomy:
    """The taxonomy of this container (read once)."""
    with TAXONOMY_PATH.open("rb") as handle:
        return parse_taxonomy(tomllib.load(handle))
