"""Token-sequence lookup shared by the keyword readers."""

from __future__ import annotations

from typing import Any

from .lexicon import tokens_of


class PhraseIndex:
    """Phrases by their tokens; a match at a position is the longest phrase that starts there ("rest api", not
    "api")."""

    def __init__(self, phrases: dict[str, Any]) -> None:
        # Multi-word phrases are found through their first two tokens: each pair knows the lengths of its phrases,
        # longest first, so a match costs one dict lookup per length (a handful), however many phrases share the
        # pair ("me and my ..." has 80).
        self._single: dict[str, Any] = {}
        self._multi: dict[tuple[str, ...], Any] = {}
        lengths: dict[tuple[str, str], set[int]] = {}
        for phrase, value in phrases.items():
            tokens = tokens_of(phrase)
            if len(tokens) == 1:
                self._single[tokens[0]] = value
            else:
                self._multi[tokens] = value
                lengths.setdefault((tokens[0], tokens[1]), set()).add(len(tokens))
        self._lengths = {pair: sorted(sizes, reverse=True) for pair, sizes in lengths.items()}
        self.singles = frozenset(self._single)
        self.first_pairs = frozenset(lengths)
        self.first_tokens = self.singles | frozenset(first for first, _ in self.first_pairs)

    def match_at(self, tokens: list[str], index: int) -> tuple[int, Any] | None:
        """The longest phrase starting at `index`: its length in tokens and its value."""
        size = len(tokens)
        if index + 1 < size and (lengths := self._lengths.get((tokens[index], tokens[index + 1]))):
            multi = self._multi
            for length in lengths:
                if index + length <= size and (phrase := tuple(tokens[index : index + length])) in multi:
                    return length, multi[phrase]
        if index < size and tokens[index] in self._single:
            return 1, self._single[tokens[index]]
        return None

    def find(self, tokens: list[str], start: int, stop: int) -> int | None:
        """Index of the first phrase that starts in tokens[start:stop], or None."""
        first = self.first_tokens
        for index in range(max(0, start), min(stop, len(tokens))):
            if tokens[index] in first and self.match_at(tokens, index) is not None:
                return index
        return None
