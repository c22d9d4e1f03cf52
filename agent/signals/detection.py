"""What the detector found in one utterance."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from functions.common.record import Industry

MAX_EVIDENCE_TEXT = 200


@dataclass(slots=True)
class Detection:
    """The signals found in one utterance, with the text that matched each."""

    team_size: int | None = None
    monthly_volume: int | None = None
    integrations: list[str] = field(default_factory=list)
    urgency: str | None = None
    urgency_negated: bool = False
    industry: Industry | None = None
    evidence: list[tuple[str, int | str | None, str]] = field(default_factory=list)

    def as_output(self) -> dict[str, Any]:
        """The CLI's line format: exactly these keys, in this order, null or [] when absent."""
        return {
            "team_size": self.team_size,
            "monthly_volume": self.monthly_volume,
            "integrations": list(self.integrations),
            "urgency": self.urgency,
            "industry": self.industry.value if self.industry else None,
        }


def joined(tokens: list[str]) -> str:
    """Evidence text of a run of tokens: "30 - 40" reads "30-40", and it is capped at MAX_EVIDENCE_TEXT."""
    return " ".join(tokens).replace(" - ", "-")[:MAX_EVIDENCE_TEXT]
