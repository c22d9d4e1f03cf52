"""Turning the bytes of a session object into a validated record, with hard limits (no I/O here)."""

from __future__ import annotations

import json

from functions.common.gzip_capped import GZIP_MAGIC, RejectedObjectError, decompress_capped
from functions.common.record import RecordInvalidError, SessionRecord, parse_record

__all__ = ["GZIP_MAGIC", "RejectedObjectError", "decode_record", "decompress_capped", "read_record"]


def decode_record(text_bytes: bytes, source: str) -> SessionRecord:
    """Parse one NDJSON line (a trailing newline is fine) and validate it as a v1 session record."""
    try:
        text = text_bytes.decode("utf-8")
    except UnicodeDecodeError as error:
        raise RejectedObjectError(f"not UTF-8: {error}") from error
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) != 1:
        raise RejectedObjectError(f"expected exactly one NDJSON line (one session), found {len(lines)}")
    try:
        data = json.loads(lines[0])
    except json.JSONDecodeError as error:
        raise RejectedObjectError(f"not JSON: {error}") from error
    try:
        return parse_record(data, source=source)
    except RecordInvalidError as error:
        raise RejectedObjectError(str(error)) from error


def read_record(compressed: bytes, source: str, max_decompressed_bytes: int) -> SessionRecord:
    """Decompress (capped) and validate a `sessions/` object's content."""
    return decode_record(decompress_capped(compressed, max_decompressed_bytes), source)
