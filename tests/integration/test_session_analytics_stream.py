"""The optional log stream (SessionAnalyticsStream=true), locally: the agent's `session_analytics` line, written to
the agent's log group, reaches the sessions bucket under stream/ through the template's subscription filter and
Firehose delivery stream (moto's CloudWatch Logs delivers to moto's Firehose, which writes to moto's S3).

moto applies neither the filter pattern nor Firehose's processing (decompression, message extraction) nor its
GZIP and buffering: each delivery is one object holding CloudWatch Logs' gzip JSON envelope. What the deployed
stream does with those is AWS's; tests/infrastructure/test_template.py pins its settings and that it is off by
default.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest

from agent.analytics_log import LOGGER_NAME, install_session_analytics_log, log_session_analytics
from local.aws.stack import LocalStack
from tests.samples import example_record

STAGE = "stream"


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    parameters = {"Stage": STAGE, "AlertEmail": "oncall@example.com", "SessionAnalyticsStream": "true"}
    with LocalStack(server="thread", parameters=parameters) as started:
        yield started


def _the_agents_line() -> str:
    """The line exactly as the agent writes it to stdout (its own handler and format)."""
    stream = io.StringIO()
    handler = install_session_analytics_log(stream)
    logger = logging.getLogger(LOGGER_NAME)
    try:
        log_session_analytics(example_record())
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    [line] = stream.getvalue().splitlines()
    return line


def _delivered(stack: LocalStack, bucket: str) -> list[dict[str, Any]]:
    s3 = stack.client("s3")
    envelopes = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="stream/"):
        for item in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            envelopes.append({"key": item["Key"], **json.loads(gzip.decompress(body))})
    return envelopes


def test_an_analytics_line_in_the_agents_log_group_lands_in_the_bucket_under_stream(stack: LocalStack) -> None:
    log_group = stack.output("AgentLogGroupName")
    bucket = stack.output("SessionsBucketName")
    logs = stack.client("logs")
    [subscription] = logs.describe_subscription_filters(logGroupName=log_group)["subscriptionFilters"]
    assert subscription["destinationArn"] == stack.physical_id("SessionAnalyticsDeliveryStream")
    line = _the_agents_line()
    logs.create_log_stream(logGroupName=log_group, logStreamName="agent-1")

    logs.put_log_events(
        logGroupName=log_group,
        logStreamName="agent-1",
        logEvents=[{"timestamp": int(time.time() * 1000), "message": line}],
    )

    [envelope] = _delivered(stack, bucket)
    assert envelope["key"].startswith("stream/year=")  # the template's Prefix (moto keeps its !{...} literally)
    assert (envelope["logGroup"], envelope["logStream"]) == (log_group, "agent-1")
    assert envelope["subscriptionFilters"] == [subscription["filterName"]]
    [event] = envelope["logEvents"]
    assert event["message"] == line
    assert json.loads(event["message"])["_event_type"] == "session_analytics"
    assert json.loads(event["message"])["session_id"] == "trial-call-0001"
