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


def bedrock_runtime_client(timeout_seconds: float) -> Any:
    """A Bedrock Runtime client whose read timeout bounds an LLM scoring call (one retry at most)."""
    return _bedrock_runtime_client(timeout_seconds)


@cache
def _bedrock_runtime_client(timeout_seconds: float) -> Any:
    config = Config(
        connect_timeout=min(5.0, timeout_seconds),
        read_timeout=timeout_seconds,
        retries={"mode": "standard", "max_attempts": 2},
    )
    return boto3.client("bedrock-runtime", config=config)
