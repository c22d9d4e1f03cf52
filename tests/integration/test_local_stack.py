"""The local stack comes up from template.yaml itself, and the local runner behaves like an SQS event source.

The stack uses its own stage ("itest"), so its names never meet the hand-written resources of conftest.py in the
shared in-process moto backends.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from local.runner import LambdaRunner
from local.stack import LocalStack

pytestmark = pytest.mark.integration

STAGE = "itest"


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack(parameters={"Stage": STAGE, "AlertEmail": "oncall@example.com"}) as started:
        yield started


def _sam_resources(stack: LocalStack, kind: str) -> dict[str, dict[str, Any]]:
    return {
        logical: resource.get("Properties", {})
        for logical, resource in stack.sam_template["Resources"].items()
        if resource["Type"] == kind
    }


def test_every_queue_and_the_bucket_exist_with_the_names_the_template_gives(stack: LocalStack) -> None:
    sqs, s3 = stack.client("sqs"), stack.client("s3")
    queues = _sam_resources(stack, "AWS::SQS::Queue")
    assert queues
    for properties in queues.values():
        name = stack.resolve(properties["QueueName"])
        assert name.endswith(f"-{STAGE}")
        assert sqs.get_queue_url(QueueName=name)["QueueUrl"]
    for properties in _sam_resources(stack, "AWS::S3::Bucket").values():
        s3.head_bucket(Bucket=stack.resolve(properties["BucketName"]))


def test_rules_carry_the_template_patterns_and_targets(stack: LocalStack) -> None:
    events = stack.client("events")
    rules = _sam_resources(stack, "AWS::Events::Rule")
    assert rules
    for logical, properties in rules.items():
        bus = stack.resolve(properties.get("EventBusName", "default"))
        rule = events.describe_rule(Name=stack.physical_id(logical), EventBusName=bus)
        assert json.loads(rule["EventPattern"]) == stack.resolve(properties["EventPattern"])
        targets = events.list_targets_by_rule(Rule=rule["Name"], EventBusName=bus)["Targets"]
        assert [target["Arn"] for target in targets] == [stack.resolve(t["Arn"]) for t in properties["Targets"]]
    for properties in _sam_resources(stack, "AWS::Events::EventBus").values():
        assert events.describe_event_bus(Name=stack.resolve(properties["Name"]))["Name"] == f"voice-analytics-{STAGE}"


def test_an_object_under_sessions_lands_in_the_score_queue_and_others_do_not(stack: LocalStack) -> None:
    s3, sqs = stack.client("s3"), stack.client("sqs")
    bucket = stack.output("SessionsBucketName")
    queue = stack.queue_url("ScoreLeadQueue")
    s3.put_object(Bucket=bucket, Key="scored/year=2026/month=11/day=20/not-for-scoring.json.gz", Body=b"x")
    s3.put_object(Bucket=bucket, Key="sessions/year=2026/month=11/day=20/itest-1.json.gz", Body=b"x")
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1)["Messages"]
    bodies = [json.loads(message["Body"]) for message in messages]
    assert [body["detail"]["object"]["key"] for body in bodies] == [
        "sessions/year=2026/month=11/day=20/itest-1.json.gz"
    ]
    assert bodies[0]["detail-type"] == "Object Created" and bodies[0]["detail"]["bucket"]["name"] == bucket
    sqs.delete_message_batch(
        QueueUrl=queue, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
    )


def test_event_source_mappings_are_disabled_and_read_from_the_template(stack: LocalStack) -> None:
    mappings = stack.client("lambda").list_event_source_mappings()["EventSourceMappings"]
    ours = {source.uuid for source in stack.event_sources()}
    assert ours and ours <= {mapping["UUID"] for mapping in mappings}
    assert all(mapping["State"] == "Disabled" for mapping in mappings if mapping["UUID"] in ours)
    functions = _sam_resources(stack, "AWS::Serverless::Function")
    for source in stack.event_sources():
        (event,) = functions[source.function.logical_id]["Events"].values()
        assert source.batch_size == event["Properties"]["BatchSize"]
        assert source.queue_logical_id == event["Properties"]["Queue"]["Fn::GetAtt"][0]


def test_each_function_environment_is_resolved_against_the_stack(stack: LocalStack) -> None:
    dead_letter = stack.dead_letter_queues()
    for spec in stack.functions().values():
        env = spec.environment
        assert env["STAGE"] == STAGE
        assert env["SESSIONS_BUCKET"] == stack.output("SessionsBucketName")
        assert env["DEAD_LETTER_QUEUE_URL"] in dead_letter.values()
    assert len({spec.environment["DEAD_LETTER_QUEUE_URL"] for spec in stack.functions().values()}) == 4


def test_runner_deletes_successes_keeps_reported_failures_and_can_deliver_twice(stack: LocalStack) -> None:
    """With stand-in handlers (no real ones), the runner's SQS semantics: batch item failures stay in flight."""
    sqs = stack.client("sqs")
    source = next(s for s in stack.event_sources() if s.queue_logical_id == "HotLeadAlertQueue")
    seen: list[dict[str, Any]] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seen.extend(event["Records"])
        assert context.get_remaining_time_in_millis() > 0 and context.function_name == source.function.name
        failed = [r["messageId"] for r in event["Records"] if json.loads(r["body"]).get("fail")]
        return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}

    runner = LambdaRunner(stack, deliveries=2)
    runner.sources = [source]
    runner._busy = {source.logical_id: False}
    runner._handlers[source.function.logical_id] = handler
    sqs.send_message(QueueUrl=source.queue_url, MessageBody=json.dumps({"n": 1}))
    sqs.send_message(QueueUrl=source.queue_url, MessageBody=json.dumps({"fail": True}))
    with runner:
        deadline = time.monotonic() + 10
        while len({r["messageId"] for r in seen}) < 2 or any(runner._busy.values()):
            assert time.monotonic() < deadline, "runner did not deliver"
            time.sleep(0.05)
        with pytest.raises(Exception, match="HotLeadAlertQueue"):
            runner.drain(timeout=1)  # the failed message is in flight until the visibility timeout
    record = seen[0]
    assert record["eventSource"] == "aws:sqs" and record["eventSourceARN"] == source.queue_arn
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert len(seen) == 4  # two messages, each delivered twice
    attributes = sqs.get_queue_attributes(QueueUrl=source.queue_url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "0"
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "1"
