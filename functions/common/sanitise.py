"""Text clean-up for the far ends: Salesforce field lengths, SNS subjects, S3 metadata."""

from __future__ import annotations

import re
import unicodedata

# Bidirectional overrides and isolates (U+202A-U+202E, U+2066-U+2069) reorder how the text around them is shown,
# so a caller-given name could make an alert or a Salesforce field read differently from what it holds.
_BIDI_CONTROLS = "\u202a-\u202e\u2066-\u2069"
_CONTROL = re.compile(f"[\\x00-\\x1f\\x7f{_BIDI_CONTROLS}]")
_CONTROL_EXCEPT_NEWLINE_TAB = re.compile(f"[\\x00-\\x08\\x0b-\\x1f\\x7f{_BIDI_CONTROLS}]")
_SPACES = re.compile(r"\s+")
ELLIPSIS = "..."


def truncate(text: str, limit: int) -> str:
    """Cut `text` to at most `limit` characters, marking the cut with an ellipsis."""
    if len(text) <= limit:
        return text
    if limit <= len(ELLIPSIS):
        return text[:limit]
    return text[: limit - len(ELLIPSIS)] + ELLIPSIS


def single_line(text: str) -> str:
    """Control characters (newlines, tabs, NUL, bidi overrides...) become single spaces."""
    return _SPACES.sub(" ", _CONTROL.sub(" ", text)).strip()


def to_ascii(text: str) -> str:
    """Transliterate to ASCII where Unicode can ("Müller" -> "Muller"), dropping what cannot be."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def sns_subject(text: str, limit: int = 99) -> str:
    """A subject SNS accepts: ASCII, no control characters, not empty, under 100 characters."""
    cleaned = truncate(single_line(to_ascii(text)), limit)
    return cleaned or "Voice analytics notification"


def plain_text(text: str) -> str:
    """Multi-line text without control characters (bidi overrides included) other than newline and tab."""
    return _CONTROL_EXCEPT_NEWLINE_TAB.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def metadata_value(text: str, limit: int = 1024) -> str:
    """An S3 user-metadata value: ASCII on one line (S3 sends metadata as HTTP headers)."""
    return truncate(single_line(to_ascii(text)), limit)
