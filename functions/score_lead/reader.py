"""Turning the bytes of a session object into a validated record, with hard limits (no I/O here)."""

from __future__ import annotations

import json
import zlib

from functions.common.record import RecordInvalidError, SessionRecord, parse_record

GZIP_MAGIC = b"\x1f\x8b"
# Decompress in bounded steps so that a gzip bomb never allocates more than the cap (plus one chunk).
_CHUNK = 64 * 1024


class RejectedObjectError(Exception):
    """The object is not a valid session record; `reason` says why, for the quarantine sidecar."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def decompress_capped(data: bytes, limit: int) -> bytes:
    """Gunzip `data` (one or more members), refusing to produce more than `limit` bytes."""
    if not data.startswith(GZIP_MAGIC):
        raise RejectedObjectError("not gzip: the object does not start with the gzip magic bytes")
    output = bytearray()
    remaining = data
    try:
        while remaining:
            decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
            pending = remaining
            while pending and not decompressor.eof:
                output += decompressor.decompress(pending, _CHUNK)
                if len(output) > limit:
                    raise RejectedObjectError(f"decompresses to more than {limit} bytes (gzip bomb guard)")
                pending = decompressor.unconsumed_tail
            while not decompressor.eof:
                # Input is consumed but the decompressor may still hold output: drain it in bounded steps.
                chunk = decompressor.decompress(b"", _CHUNK)
                if not chunk:
                    raise RejectedObjectError("truncated gzip stream")
                output += chunk
                if len(output) > limit:
                    raise RejectedObjectError(f"decompresses to more than {limit} bytes (gzip bomb guard)")
            remaining = decompressor.unused_data
    except zlib.error as error:
        raise RejectedObjectError(f"corrupt gzip data: {error}") from error
    return bytes(output)


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
