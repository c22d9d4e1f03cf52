"""A moto S3 server on loopback for the agent's export tests (module-scoped; a fresh bucket per test)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from local.aws.moto_patches import apply_all
from local.aws.moto_server import start_in_thread


@pytest.fixture(scope="module")
def agent_s3_endpoint() -> Iterator[str]:
    apply_all()  # as the local stack does: S3 refuses a body that does not match its Content-MD5 (the write check)
    server, endpoint = start_in_thread()
    try:
        yield endpoint
    finally:
        server.stop()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, agent_s3_endpoint: str) -> str:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", agent_s3_endpoint)
    return agent_s3_endpoint


@pytest.fixture
def bucket(aws_env: str) -> str:
    name = f"agent-{uuid.uuid4().hex[:12]}"
    s3 = boto3.client("s3", endpoint_url=aws_env)
    s3.create_bucket(Bucket=name)
    # As template.yaml's bucket: SSE-KMS by default, which every record takes.
    s3.put_bucket_encryption(
        Bucket=name,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}, "BucketKeyEnabled": True}]
        },
    )
    return name


@pytest.fixture
def s3(aws_env: str) -> Any:
    return boto3.client("s3", endpoint_url=aws_env)
