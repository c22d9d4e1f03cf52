"""score_lead's S3 reads and the quarantine copy: a missing key answered with 403 when the role has no
s3:ListBucket, the size limits, and what a quarantined object and its sidecar hold.

S3 is botocore's own Stubber on a real client (the answers S3 gives) for the reads, and moto's in-process S3 for the
quarantine copy; the code under test is unchanged.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.response import StreamingBody
from botocore.stub import Stubber
from moto import mock_aws

from functions.common.events import S3Location
from functions.score_lead.reader import RejectedObjectError
from functions.score_lead.storage import ObjectMissingError, fetch_object, quarantine_object

BUCKET = "voice-analytics-sessions-unit"
ENCODED = "sessions/year%3D2026/month%3D11/day%3D20/trial-call-0001.json.gz"
DECODED = "sessions/year=2026/month=11/day=20/trial-call-0001.json.gz"


@pytest.fixture
def s3() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("s3", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def _denied(stubber: Stubber, key: str) -> None:
    stubber.add_client_error(
        "get_object", "AccessDenied", "Access Denied", 403, expected_params={"Bucket": BUCKET, "Key": key}
    )


def _found(stubber: Stubber, key: str, body: bytes = b"gzip bytes") -> None:
    stubber.add_response(
        "get_object",
        {"Body": StreamingBody(io.BytesIO(body), len(body)), "ContentLength": len(body)},
        expected_params={"Bucket": BUCKET, "Key": key},
    )


def test_url_encoded_key_denied_as_named_is_read_decoded(s3: tuple[Any, Stubber]) -> None:
    client, stubber = s3
    _denied(stubber, ENCODED)
    _found(stubber, DECODED)

    fetched = fetch_object(client, S3Location(bucket=BUCKET, key=ENCODED), 1024)

    assert fetched.location.key == DECODED and fetched.data == b"gzip bytes"


def test_denied_for_a_plain_key_is_raised_for_a_retry(s3: tuple[Any, Stubber]) -> None:
    client, stubber = s3
    _denied(stubber, DECODED)

    with pytest.raises(ClientError, match="AccessDenied"):
        fetch_object(client, S3Location(bucket=BUCKET, key=DECODED), 1024)


def test_denied_both_ways_is_raised_and_not_found_is_missing(s3: tuple[Any, Stubber]) -> None:
    client, stubber = s3
    _denied(stubber, ENCODED)
    _denied(stubber, DECODED)
    with pytest.raises(ClientError, match="AccessDenied"):
        fetch_object(client, S3Location(bucket=BUCKET, key=ENCODED), 1024)

    stubber.add_client_error("get_object", "NoSuchKey", "Not Found", 404)
    with pytest.raises(ObjectMissingError):
        fetch_object(client, S3Location(bucket=BUCKET, key=DECODED), 1024)


def test_denied_as_named_and_missing_decoded_is_a_missing_object(s3: tuple[Any, Stubber]) -> None:
    client, stubber = s3
    _denied(stubber, ENCODED)
    stubber.add_client_error(
        "get_object", "NoSuchKey", "Not Found", 404, expected_params={"Bucket": BUCKET, "Key": DECODED}
    )

    with pytest.raises(ObjectMissingError) as missing:
        fetch_object(client, S3Location(bucket=BUCKET, key=ENCODED), 1024)

    assert str(missing.value) == f"s3://{BUCKET}/{DECODED} does not exist"


def test_missing_as_named_says_which_object(s3: tuple[Any, Stubber]) -> None:
    client, stubber = s3
    stubber.add_client_error("get_object", "NoSuchKey", "Not Found", 404)

    with pytest.raises(ObjectMissingError) as missing:
        fetch_object(client, S3Location(bucket=BUCKET, key=DECODED), 1024)

    assert str(missing.value) == f"s3://{BUCKET}/{DECODED} does not exist"


class _CountingStream(io.BytesIO):
    """The raw HTTP body: remembers how far it had been read when it was closed."""

    read_before_close = -1

    def close(self) -> None:
        if not self.closed:
            self.read_before_close = self.tell()
        super().close()


def _sized(stubber: Stubber, body: bytes, content_length: int) -> _CountingStream:
    raw = _CountingStream(body)
    stubber.add_response(
        "get_object",
        {"Body": StreamingBody(raw, len(body)), "ContentLength": content_length},
        expected_params={"Bucket": BUCKET, "Key": DECODED},
    )
    return raw


def test_an_object_of_exactly_the_limit_is_read_whole_and_one_byte_more_is_rejected(s3: tuple[Any, Stubber]) -> None:
    client, stubber = s3
    _sized(stubber, b"x" * 1024, 1024)
    _sized(stubber, b"x" * 1025, 1025)
    location = S3Location(bucket=BUCKET, key=DECODED)

    assert fetch_object(client, location, 1024).data == b"x" * 1024
    with pytest.raises(RejectedObjectError) as rejected:
        fetch_object(client, location, 1024)

    assert rejected.value.reason == "object is 1025 bytes, over the 1024-byte limit (MAX_RECORD_BYTES)"


def test_a_body_longer_than_its_content_length_is_read_only_to_one_byte_past_the_limit(
    s3: tuple[Any, Stubber],
) -> None:
    client, stubber = s3
    raw = _sized(stubber, b"x" * 5000, 1000)

    with pytest.raises(RejectedObjectError) as rejected:
        fetch_object(client, S3Location(bucket=BUCKET, key=DECODED), 1024)

    assert rejected.value.reason == "object is over the 1024-byte limit (MAX_RECORD_BYTES)"
    assert raw.read_before_close == 1025


# ------------------------------------------------------------------------------------------------- quarantine


@pytest.fixture
def bucket() -> Iterator[Any]:
    """A versioned bucket in moto's in-process S3 (no socket)."""
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        yield client


def test_quarantine_copies_the_object_with_its_reason_and_writes_a_sidecar(bucket: Any) -> None:
    first = bucket.put_object(Bucket=BUCKET, Key=DECODED, Body=b"not gzip")["VersionId"]
    bucket.put_object(Bucket=BUCKET, Key=DECODED, Body=b"a later version")
    reason = "not gzip: the object does not start with the gzip magic bytes"

    target = quarantine_object(bucket, S3Location(bucket=BUCKET, key=DECODED, version_id=first), reason, "quarantine/")

    assert target == S3Location(bucket=BUCKET, key=f"quarantine/{DECODED}")
    copy = bucket.get_object(Bucket=BUCKET, Key=target.key)
    assert copy["Body"].read() == b"not gzip"  # the version the event named, not the latest
    assert copy["Metadata"]["quarantine-reason"] == reason
    assert copy["Metadata"]["source-key"] == DECODED
    quarantined_at = datetime.fromisoformat(copy["Metadata"]["quarantined-at"])
    assert quarantined_at.utcoffset() == timedelta(0)
    sidecar = json.loads(bucket.get_object(Bucket=BUCKET, Key=f"{target.key}.reason.json")["Body"].read())
    assert sidecar == {
        "reason": reason,
        "source": {"bucket": BUCKET, "key": DECODED, "version_id": first},
        "source_uri": f"s3://{BUCKET}/{DECODED}",
        "quarantined_at": quarantined_at.isoformat(),
        "next_step": "fix the producer or the object, then copy it back under sessions/ to reprocess",
    }
    assert bucket.head_object(Bucket=BUCKET, Key=f"{target.key}.reason.json")["ContentType"] == "application/json"
    # Indented, for the operator who opens it.
    raw = bucket.get_object(Bucket=BUCKET, Key=f"{target.key}.reason.json")["Body"].read().decode()
    assert raw == json.dumps(sidecar, indent=2)


def test_quarantine_metadata_is_one_ascii_line_cut_to_s3s_limits_and_the_sidecar_keeps_it_all(bucket: Any) -> None:
    bucket.put_object(Bucket=BUCKET, Key=DECODED, Body=b"{}")
    reason = "field 'contact.company': Zoë\r\n" + "x" * 2000

    target = quarantine_object(bucket, S3Location(bucket=BUCKET, key=DECODED, version_id="null"), reason, "quarantine")

    assert target.key == f"quarantine/{DECODED}"

    metadata = bucket.head_object(Bucket=BUCKET, Key=target.key)["Metadata"]
    assert metadata["quarantine-reason"] == "field 'contact.company': Zoe " + "x" * 992 + "..."
    assert len(metadata["quarantine-reason"]) == 1024
    sidecar = json.loads(bucket.get_object(Bucket=BUCKET, Key=f"{target.key}.reason.json")["Body"].read())
    assert sidecar["reason"] == reason


def test_quarantine_metadata_cuts_a_long_source_key_to_512_characters(bucket: Any) -> None:
    key = f"sessions/year=2026/month=11/day=20/{'k' * 600}.json.gz"
    bucket.put_object(Bucket=BUCKET, Key=key, Body=b"{}")

    target = quarantine_object(bucket, S3Location(bucket=BUCKET, key=key), "not gzip", "held-X//")

    assert target.key == f"held-X/{key}"  # the prefix as configured, without its trailing slashes
    assert bucket.head_object(Bucket=BUCKET, Key=target.key)["Metadata"]["source-key"] == key[:509] + "..."
