"""Gunzip with a hard cap on what decompression may produce (a gzip bomb never allocates more than the cap plus one
chunk). score_lead reads each session object through it; the compaction reads every raw object of a day through it."""

from __future__ import annotations

import zlib

GZIP_MAGIC = b"\x1f\x8b"
# Decompress in bounded steps so that a gzip bomb never allocates more than the cap (plus one chunk).
_CHUNK = 64 * 1024


class RejectedObjectError(Exception):
    """The object is not a valid session record (or not readable gzip); `reason` says why, for the quarantine
    sidecar or the compaction manifest."""

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
