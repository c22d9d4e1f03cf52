"""boto3 clients, built once per container with explicit timeouts.

Endpoints are never chosen in code: boto3 honours AWS_ENDPOINT_URL, which points local runs at moto.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient

# Short timeouts with the SDK's standard retries: a stuck call fails the batch item (SQS retries it)
# instead of eating the whole function timeout.
DEFAULT_CONFIG = Config(connect_timeout=5, read_timeout=20, retries={"mode": "standard", "max_attempts": 3})


@cache
def idempotency_dynamodb_client() -> DynamoDBClient:
    """The idempotency store's client, built at init by functions/common/lambda_kit.py.

    From boto3's default session, as the other clients are: Powertools' DynamoDBPersistenceLayer would otherwise build
    a session of its own, whose botocore loader lists the service data and parses endpoints.json again when the first
    S3/EventBridge/SNS/SQS client is created (about 265 M instructions, some 80 ms, in each function's first invocation,
    measured under callgrind on CPython 3.12). Powertools' own default config (no `config=`), as before: these are the
    idempotency calls that Powertools makes and retries.
    """
    return boto3.client("dynamodb")


@cache
def s3_client() -> S3Client:
    return boto3.client("s3", config=DEFAULT_CONFIG)


@cache
def events_client() -> EventBridgeClient:
    return boto3.client("events", config=DEFAULT_CONFIG)


@cache
def sns_client() -> SNSClient:
    return boto3.client("sns", config=DEFAULT_CONFIG)


@cache
def sqs_client() -> SQSClient:
    return boto3.client("sqs", config=DEFAULT_CONFIG)


def bedrock_runtime_client(timeout_seconds: float, connect_timeout_seconds: float = 5.0, attempts: int = 2) -> Any:
    """A Bedrock Runtime client whose timeouts bound a Converse call: at most `attempts` tries in all (botocore's
    standard mode retries throttling, 5xx and read timeouts, each retry billed again), each connecting within
    `connect_timeout_seconds` and reading within `timeout_seconds` (botocore's default read timeout is 60 s)."""
    return _bedrock_runtime_client(timeout_seconds, connect_timeout_seconds, attempts)


def bedrock_runtime_config(timeout_seconds: float, connect_timeout_seconds: float, attempts: int) -> Config:
    return Config(
        connect_timeout=min(connect_timeout_seconds, timeout_seconds),
        read_timeout=timeout_seconds,
        retries={"mode": "standard", "total_max_attempts": attempts},
    )


@cache
def _bedrock_runtime_client(timeout_seconds: float, connect_timeout_seconds: float, attempts: int) -> Any:
    return boto3.client(
        "bedrock-runtime", config=bedrock_runtime_config(timeout_seconds, connect_timeout_seconds, attempts)
    )
