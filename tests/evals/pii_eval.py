"""Recall and false positives of the transcript redaction on the labelled personal-data set (`make eval`).

The redaction is a black box here: it takes a line and returns a line. The words of the input are aligned with the
words of the output (difflib on word lists, masks such as "[phone]" counting as one word), so each input word
either survived or was replaced. A `pii` item is masked when none of its words survived, a `keep` item is kept
when all of its words did; every occurrence of an item counts.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PII_SET = Path(__file__).with_name("pii.jsonl")
CATEGORIES = ("spoken_email", "spoken_phone", "spelled", "card_account", "written", "ordinary")
KEYS = frozenset({"text", "category", "pii", "keep"})
RECALL_TARGET = 0.95
FALSE_POSITIVE_TARGET = 0.02

_WORD = re.compile(r"\[[a-z]+\]|[^\W_]+")


@dataclass
class CategoryScore:
    pii_items: int = 0
    masked: int = 0
    keep_items: int = 0
    lost: int = 0
    misses: list[str] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.masked / self.pii_items if self.pii_items else 1.0

    @property
    def false_positive_rate(self) -> float:
        return self.lost / self.keep_items if self.keep_items else 0.0

    def add(self, other: CategoryScore) -> None:
        self.pii_items += other.pii_items
        self.masked += other.masked
        self.keep_items += other.keep_items
        self.lost += other.lost


def load_pii_set(path: Path = PII_SET) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def occurrences(text: str, item: str) -> list[tuple[int, int]]:
    """Character spans of every whole-word occurrence of `item` in `text`."""
    pattern = re.compile(r"(?<!\w)" + re.escape(item) + r"(?!\w)")
    return [match.span() for match in pattern.finditer(text)]


def surviving_spans(text: str, redacted: str) -> tuple[list[tuple[int, int]], set[int]]:
    """The input's words (as character spans) and the indexes of those the output still holds."""
    words = [(match.start(), match.end()) for match in _WORD.finditer(text)]
    before = [text[start:end] for start, end in words]
    after = _WORD.findall(redacted)
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    kept = {block.a + offset for block in matcher.get_matching_blocks() for offset in range(block.size)}
    return words, kept


def _words_in(words: list[tuple[int, int]], span: tuple[int, int]) -> list[int]:
    return [index for index, (start, end) in enumerate(words) if start < span[1] and end > span[0]]


def evaluate_pii(cases: list[dict[str, Any]], redact: Callable[[str], str]) -> dict[str, CategoryScore]:
    scores = {name: CategoryScore() for name in CATEGORIES}
    for case in cases:
        text, score = case["text"], scores[case["category"]]
        redacted = redact(text)
        words, kept = surviving_spans(text, redacted)
        for item in case["pii"]:
            score.pii_items += 1
            if all(not kept.intersection(_words_in(words, span)) for span in occurrences(text, item)):
                score.masked += 1
            else:
                score.misses.append(f"not masked {item!r}: {redacted}")
        for item in case["keep"]:
            score.keep_items += 1
            if not all(kept.issuperset(_words_in(words, span)) for span in occurrences(text, item)):
                score.lost += 1
                score.misses.append(f"lost {item!r}: {redacted}")
    return scores


def overall(scores: dict[str, CategoryScore]) -> CategoryScore:
    total = CategoryScore()
    for score in scores.values():
        total.add(score)
    return total


def report(cases: list[dict[str, Any]], redact: Callable[[str], str], *, verbose: bool = False) -> bool:
    """Print recall and false-positive rate per category and overall; True when both targets are met."""
    scores = evaluate_pii(cases, redact)
    total = overall(scores)
    print(
        f"\ntranscript redaction on {len(cases)} labelled lines ({PII_SET.name}); "
        f"target recall >= {RECALL_TARGET:.2f}, signal numbers masked <= {FALSE_POSITIVE_TARGET:.0%}"
    )
    print(f"{'category':<16}{'recall':>8}{'masked':>8}{'of':>5}{'fp rate':>9}{'lost':>6}{'of':>5}")
    for name, score in [*scores.items(), ("overall", total)]:
        recall = f"{score.recall:.3f}" if score.pii_items else "-"
        false_positives = f"{score.false_positive_rate:.3f}" if score.keep_items else "-"
        print(
            f"{name:<16}{recall:>8}{score.masked:>8}{score.pii_items:>5}"
            f"{false_positives:>9}{score.lost:>6}{score.keep_items:>5}"
        )
        if verbose and name != "overall":
            for miss in score.misses:
                print(f"    {miss}")
    met = total.recall >= RECALL_TARGET and total.false_positive_rate <= FALSE_POSITIVE_TARGET
    if not met:
        print("below target")
    return met
