"""score_lead's S3 read when the role has no s3:ListBucket: S3 then answers a missing key with 403, not 404.

S3 is botocore's own Stubber on a real client (the answers S3 gives), the code under test is unchanged.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.response import StreamingBody
from botocore.stub import Stubber

from functions.common.events import S3Location
from functions.score_lead.storage import ObjectMissingError, fetch_object

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
