"""`detect` for one utterance and `SignalTracker` for a call."""

from __future__ import annotations

import re

from functions.common.record import Evidence, Industry, Signals

from .counts import Counts, scan_numbers
from .detection import Detection, joined
from .keywords import KEYWORD_FIRST_TOKENS, TeamPhrase, scan_keywords
from .lexicon import TOKEN_RE
from .members import NEEDED as MEMBER_WORDS
from .members import Members, read_members
from .numbers import NUMBER_TRIGGERS
from .words import NAMED_CRMS, SELF_WORDS

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
    counts = None
    if _DIGIT_RE.search(text) or not NUMBER_TRIGGERS.isdisjoint(tokens):
        counts = scan_numbers(tokens)
    phrase = None
    if present := KEYWORD_FIRST_TOKENS.intersection(tokens):
        phrase = scan_keywords(tokens, present, found)
    # A member list names the caller ("me", "four of us") or two roles or more: most utterances have neither.
    members = None
    if not MEMBER_WORDS.isdisjoint(tokens) and (
        not SELF_WORDS.isdisjoint(tokens) or "us" in tokens or len(MEMBER_WORDS.intersection(tokens)) > 1
    ):
        members = read_members(tokens)
    if counts is not None or phrase is not None or members is not None:
        _count_signals(tokens, counts, phrase, members, found)
    return found


def _count_signals(
    tokens: list[str], counts: Counts | None, phrase: TeamPhrase | None, members: Members | None, found: Detection
) -> None:
    """Team size and volume from the number readings, the solo and pair phrases and the member lists."""
    team: tuple[float, int, int] | None = None
    volume = counts.volume if counts is not None else None
    numbers: list[tuple[int, str, int, str]] = []  # evidence of the number readings, in the order they were said
    past = False  # the team count is a past value ("there used to be four of us, now it's just me")
    if counts is not None and counts.team is not None:
        team, past = (counts.team.value, counts.team.start, counts.team.end), counts.team.stale
    # "me and one employee" reads "one employee" as a count of one; the pair phrase is the whole team. A phrase
    # said after the numbers comes after them in the evidence.
    team_late = False
    if phrase is not None and (
        team is None or (round(team[0]) == 1 and phrase.size == 2) or (past and phrase.start > team[1])
    ):
        team, team_late = (phrase.size, phrase.start, phrase.end), True
    # A member list is the team when no other count is, or when it holds that count ("me and two assistants"); a
    # list of the people at the call ("me and two colleagues are on this call") voids the count it holds.
    if members is not None and members.size == 0:
        if team is not None and team[1] < members.end and members.start < team[2]:
            team = None
    elif members is not None and (
        team is None or (team[1] < members.end and members.start < team[2]) or (past and members.start > team[1])
    ):
        team, team_late = (members.size, members.start, members.end), True
    if volume is not None:
        value = volume.value * (team[0] if volume.per == "person" and team is not None else 1)
        monthly = round(value)
        if 0 < monthly <= 1_000_000_000:
            found.monthly_volume = monthly
            numbers.append((volume.start, "monthly_volume", monthly, joined(tokens[volume.start : volume.end])))
    if team is not None:
        size = round(team[0])
        found.team_size = size
        if team_late:
            found.evidence.append(("team_size", size, joined(tokens[team[1] : team[2]])))
        else:
            numbers.append((team[1], "team_size", size, joined(tokens[team[1] : team[2]])))
    found.evidence[:0] = [(name, value, text) for _, name, value, text in sorted(numbers)]


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
