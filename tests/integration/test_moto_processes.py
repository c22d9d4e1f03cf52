"""`LocalStack(server="processes")`: moto in child processes, DynamoDB on a server of its own (what `make bench`
runs), and the fixes applied inside moto's server (`local.aws.moto_patches.apply_all`) taking effect there."""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from local.aws.stack import LocalStack
from local.environment import environment

pytestmark = pytest.mark.integration

STAGE = "mproc"


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with (
        LocalStack(parameters={"Stage": STAGE, "AlertEmail": "oncall@example.com"}, server="processes") as started,
        environment(started.aws_environment()),  # fake credentials and endpoints for the clients made below
    ):
        yield started


def _refuses_connections(endpoint_url: str) -> bool:
    host, port = endpoint_url.removeprefix("http://").split(":")
    try:
        socket.create_connection((host, int(port)), timeout=1).close()
    except OSError:
        return True
    return False


def test_dynamodb_is_served_apart_and_reached_through_the_per_service_endpoint(stack: LocalStack) -> None:
    environment_values = stack.aws_environment()
    assert environment_values["AWS_ENDPOINT_URL_DYNAMODB"] == stack.dynamodb_endpoint_url
    assert stack.dynamodb_endpoint_url != stack.endpoint_url
    (table_logical,) = stack.logical_ids("AWS::DynamoDB::Table")
    table = stack.physical_id(table_logical)
    described = stack.client("dynamodb").describe_table(TableName=table)["Table"]
    assert [key["AttributeName"] for key in described["KeySchema"]] == ["id"]
    ttl = stack.client("dynamodb").describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    assert ttl["TimeToLiveStatus"] == "ENABLED"
    # The main server's copy is gone: a client on the wrong endpoint fails instead of writing where nothing reads.
    main = boto3.client("dynamodb", endpoint_url=stack.endpoint_url, region_name="us-east-1")
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        main.describe_table(TableName=table)
    # A client made the way the handlers make theirs (environment only) writes to DynamoDB's own server.
    boto3.client("dynamodb").put_item(TableName=table, Item={"id": {"S": "from-the-environment"}})
    item = stack.client("dynamodb").get_item(TableName=table, Key={"id": {"S": "from-the-environment"}})
    assert item["Item"]["id"] == {"S": "from-the-environment"}


def test_the_server_process_applies_the_moto_fixes(stack: LocalStack) -> None:
    """An S3 object reaches the score queue through EventBridge with the "account" field moto's own delivery
    template lacks (added by moto_patches.apply_all in the child), as AWS sends it and Powertools requires."""
    s3, sqs = stack.client("s3"), stack.client("sqs")
    key = f"sessions/year=2026/month=11/day=25/{uuid.uuid4().hex}.json.gz"
    s3.put_object(Bucket=stack.output("SessionsBucketName"), Key=key, Body=b"x")
    queue = stack.queue_url("ScoreLeadQueue")
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=2)["Messages"]
    bodies = [json.loads(message["Body"]) for message in messages]
    assert [body["detail"]["object"]["key"] for body in bodies] == [key]
    assert bodies[0]["account"] == "123456789012"
    sqs.delete_message(QueueUrl=queue, ReceiptHandle=messages[0]["ReceiptHandle"])


def test_concurrent_receivers_never_get_the_same_message(stack: LocalStack) -> None:
    sqs = stack.client("sqs")
    queue = sqs.create_queue(QueueName=f"race-{uuid.uuid4().hex[:12]}", Attributes={"VisibilityTimeout": "60"})[
        "QueueUrl"
    ]
    for start in range(0, 300, 10):
        sqs.send_message_batch(
            QueueUrl=queue, Entries=[{"Id": str(n), "MessageBody": str(start + n)} for n in range(10)]
        )
    received: list[str] = []
    lock = threading.Lock()

    def receive() -> None:
        client = boto3.client("sqs", endpoint_url=stack.endpoint_url, region_name="us-east-1")
        while True:
            batch = client.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
            if not batch:
                return
            with lock:
                received.extend(message["Body"] for message in batch)

    threads = [threading.Thread(target=receive) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(received, key=int) == [str(n) for n in range(300)]  # each exactly once


def test_a_waiting_long_poll_does_not_hold_up_other_receivers_of_its_queue(stack: LocalStack) -> None:
    sqs = stack.client("sqs")
    queue = sqs.create_queue(QueueName=f"wait-{uuid.uuid4().hex[:12]}")["QueueUrl"]
    outcome: dict[str, Any] = {}

    def long_poll() -> None:
        client = boto3.client("sqs", endpoint_url=stack.endpoint_url, region_name="us-east-1")
        outcome["long"] = client.receive_message(QueueUrl=queue, WaitTimeSeconds=8).get("Messages", [])

    waiting = threading.Thread(target=long_poll)
    waiting.start()
    time.sleep(0.5)  # the long poll is now waiting on the empty queue (under the queue's lock, released by wait)
    started = time.monotonic()
    short = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=0).get("Messages", [])
    blocked_s = time.monotonic() - started
    sqs.send_message(QueueUrl=queue, MessageBody="wake")
    waiting.join(timeout=15)
    assert short == []
    assert blocked_s < 4, f"a receive waited {blocked_s:.1f} s behind another receiver's long poll"
    assert [message["Body"] for message in outcome["long"]] == ["wake"]


def test_stopping_the_stack_stops_its_server_processes() -> None:
    with LocalStack(parameters={"Stage": "mstop", "AlertEmail": "oncall@example.com"}, server="processes") as stack:
        endpoints = [stack.endpoint_url, stack.dynamodb_endpoint_url]
        assert not any(_refuses_connections(url) for url in endpoints)
    assert all(_refuses_connections(url) for url in endpoints)


def test_an_unknown_server_mode_is_refused_by_name() -> None:
    with pytest.raises(Exception, match="server='docker'"):
        LocalStack(server="docker").start()
