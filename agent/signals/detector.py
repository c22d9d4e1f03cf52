"""`detect` for one utterance and `SignalTracker` for a call."""

from __future__ import annotations

import re

from functions.common.record import Evidence, Industry, Signals

from .counts import scan_numbers
from .detection import Detection
from .keywords import KEYWORD_FIRST_TOKENS, scan_keywords
from .lexicon import TOKEN_RE
from .numbers import NUMBER_TRIGGERS
from .words import NAMED_CRMS

MAX_UTTERANCE_CHARS = 100_000

_DIGIT_RE = re.compile(r"\d")
_NORMALISE = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "—": " - ", "\u00a0": " "})


def detect(utterance: str) -> Detection:
    """Detect the signals in one utterance. Pure, no I/O; linear in the length of the text."""
    text = utterance[:MAX_UTTERANCE_CHARS].lower()
    if not text.isascii():  # every character _NORMALISE maps is non-ASCII; isascii() is a flag check, translate a pass
        text = text.translate(_NORMALISE)
    tokens = TOKEN_RE.findall(text)
    found = Detection()
    if not tokens:
        return found
    # Most utterances hold no number at all: two C-level checks spare them the Python pass.
    if _DIGIT_RE.search(text) or not NUMBER_TRIGGERS.isdisjoint(tokens):
        scan_numbers(tokens, found)
    if present := KEYWORD_FIRST_TOKENS.intersection(tokens):
        scan_keywords(tokens, present, found)
    return found


class SignalTracker:
    """Merges detections over a call: the latest explicit value wins, and every piece of evidence is kept."""

    def __init__(self) -> None:
        self._team_size: int | None = None
        self._monthly_volume: int | None = None
        self._integrations: list[str] = []
        self._urgency: str | None = None
        self._industry: Industry | None = None
        # Raw tuples on the call path; the pydantic models are built once, with the record.
        self._evidence: list[tuple[str, int | str | None, int, str]] = []

    def observe(self, turn_index: int, text: str) -> Detection:
        """Run the detector on one final user utterance and merge what it found."""
        found = detect(text)
        if found.team_size is not None:
            self._team_size = found.team_size
        if found.monthly_volume is not None:
            self._monthly_volume = found.monthly_volume
        for name in found.integrations:
            if name not in self._integrations:
                self._integrations.append(name)
        if found.urgency is not None:
            self._urgency = found.urgency
        elif found.urgency_negated:
            self._urgency = None  # "actually there's no rush" later in the call is an explicit answer too
        if found.industry is not None:
            self._industry = found.industry
        self._evidence.extend((field_name, value, turn_index, matched) for field_name, value, matched in found.evidence)
        return found

    def to_model(self) -> Signals:
        """The merged signals as the session record's `signals` section."""
        integrations = list(self._integrations)
        if "crm" in integrations and NAMED_CRMS.intersection(integrations):
            integrations.remove("crm")
        return Signals(
            team_size=self._team_size,
            monthly_volume=self._monthly_volume,
            integrations=integrations,
            urgency=self._urgency,
            industry=self._industry,
            evidence=[
                Evidence.model_validate({"field": name, "value": value, "turn_index": turn, "text": text})
                for name, value, turn, text in self._evidence
            ],
        )
