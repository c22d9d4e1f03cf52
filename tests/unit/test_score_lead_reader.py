from __future__ import annotations

import gzip
import json
import tracemalloc
import zlib

import pytest

from functions.score_lead.reader import RejectedObjectError, decompress_capped, read_record
from functions.score_lead.storage import gzip_ndjson
from tests.samples import example_record_data

LIMIT = 5 * 1024 * 1024


def test_valid_gzip_ndjson_record_is_read() -> None:
    record = read_record(gzip_ndjson(example_record_data()), "s3://b/k", LIMIT)

    assert record.session_id == "trial-call-0001"


def test_gzip_bomb_is_rejected_without_inflating_it() -> None:
    bomb = gzip.compress(b"\0" * (50 * 1024 * 1024))

    with pytest.raises(RejectedObjectError, match="gzip bomb guard"):
        decompress_capped(bomb, LIMIT)


def test_plain_json_is_rejected_as_not_gzip() -> None:
    with pytest.raises(RejectedObjectError, match="not gzip"):
        read_record(json.dumps(example_record_data()).encode(), "s3://b/k", LIMIT)


def test_truncated_gzip_is_rejected() -> None:
    data = gzip_ndjson(example_record_data())

    with pytest.raises(RejectedObjectError, match=r"truncated|corrupt"):
        read_record(data[: len(data) // 2], "s3://b/k", LIMIT)


def test_concatenated_gzip_members_are_one_stream() -> None:
    line = (json.dumps(example_record_data()) + "\n").encode()
    data = gzip.compress(line[:100]) + gzip.compress(line[100:])

    assert read_record(data, "s3://b/k", LIMIT).session_id == "trial-call-0001"


def test_two_records_in_one_object_are_rejected() -> None:
    line = json.dumps(example_record_data()) + "\n"

    with pytest.raises(RejectedObjectError, match="exactly one NDJSON line"):
        read_record(gzip.compress((line + line).encode()), "s3://b/k", LIMIT)


def test_bad_json_is_rejected() -> None:
    with pytest.raises(RejectedObjectError, match="not JSON"):
        read_record(gzip.compress(b"{not json"), "s3://b/k", LIMIT)


def test_schema_violation_names_the_field() -> None:
    data = example_record_data()
    data["duration_s"] = -1

    with pytest.raises(RejectedObjectError, match="duration_s"):
        read_record(gzip_ndjson(data), "s3://b/k", LIMIT)


def _reason(data: bytes, limit: int = LIMIT) -> str:
    with pytest.raises(RejectedObjectError) as rejected:
        read_record(data, "s3://b/k", limit)
    assert str(rejected.value) == rejected.value.reason
    return rejected.value.reason


def test_each_rejection_says_why_in_the_words_of_the_quarantine_sidecar() -> None:
    assert _reason(b"{}") == "not gzip: the object does not start with the gzip magic bytes"
    assert _reason(gzip.compress(b'{"a": "\xff"}\n')).startswith("not UTF-8: 'utf-8' codec can't decode byte 0xff")
    assert _reason(gzip.compress(b"\n\n")) == "expected exactly one NDJSON line (one session), found 0"
    assert _reason(gzip.compress(b"{nope}\n")).startswith("not JSON: Expecting property name")
    assert _reason(gzip.compress(b'{"schema_version": "2"}\n')) == (
        "session record s3://b/k is invalid: field 'schema_version': expected '1', got '2'"
    )
    assert _reason(b"\x1f\x8b" + b"\x00" * 30).startswith("corrupt gzip data: Error -3 while decompressing data")
    assert _reason(gzip.compress(b"0" * 2000), limit=1000) == "decompresses to more than 1000 bytes (gzip bomb guard)"


def test_the_decompression_cap_is_inclusive() -> None:
    data = gzip.compress(b"0" * 1000)

    assert decompress_capped(data, 1000) == b"0" * 1000
    with pytest.raises(RejectedObjectError, match="more than 999 bytes"):
        decompress_capped(data, 999)


# A gzip stream of 300,000 "0"s (gzip.compress, mtime 0) cut after 90 bytes: all of its input is used up after the
# first 65,536 bytes of output, while inflate still holds 514 bytes of a match, which the drain loop takes out
# before it can tell the stream is truncated.
CUT_AFTER_A_MATCH = bytes.fromhex("1f8b0800000000000203edc1010d000000c2a04aef9fce1e0e28") + bytes(64)
HELD_BACK = 65_536 + 514


def test_output_held_back_after_the_input_ran_out_counts_towards_the_cap() -> None:
    with pytest.raises(RejectedObjectError) as truncated:
        decompress_capped(CUT_AFTER_A_MATCH, HELD_BACK)
    assert truncated.value.reason == "truncated gzip stream"
    with pytest.raises(RejectedObjectError, match=f"more than {HELD_BACK - 1} bytes"):
        decompress_capped(CUT_AFTER_A_MATCH, HELD_BACK - 1)


def test_a_member_after_the_first_must_be_gzip_too() -> None:
    line = (json.dumps(example_record_data()) + "\n").encode()

    with pytest.raises(RejectedObjectError, match=r"corrupt gzip data: .*incorrect header check"):
        decompress_capped(gzip.compress(line) + zlib.compress(b"more"), LIMIT)


def test_a_gzip_bomb_never_inflates_much_beyond_the_cap() -> None:
    """Decompression goes in 64 KiB steps: refusing 64 MiB of zeros under a 1 MiB cap allocates about the cap."""
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024), compresslevel=9, mtime=0)
    tracemalloc.start()
    try:
        with pytest.raises(RejectedObjectError, match="gzip bomb guard"):
            decompress_capped(bomb, 1024 * 1024)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert peak < 4 * 1024 * 1024, f"{peak} bytes allocated"
