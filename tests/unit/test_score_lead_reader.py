from __future__ import annotations

import gzip
import json

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
