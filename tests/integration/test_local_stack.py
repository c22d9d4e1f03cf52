"""The local stack comes up from template.yaml itself, and the local runner behaves like an SQS event source.

The stack uses its own stage ("itest"), so its names never meet the hand-written resources of conftest.py in the
shared in-process moto backends.
"""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from local.aws.runner import LambdaRunner
from local.aws.stack import LocalStack

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
    # The queue-fed functions each have their dead-letter queue; the scheduled compaction has none.
    queue_fed = {source.function.logical_id: source.function for source in stack.event_sources()}
    assert set(stack.functions()) - set(queue_fed) == {"CompactFunction"}
    assert all(spec.environment["DEAD_LETTER_QUEUE_URL"] in dead_letter.values() for spec in queue_fed.values())
    assert len({spec.environment["DEAD_LETTER_QUEUE_URL"] for spec in queue_fed.values()}) == 4


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


def test_a_batching_window_gathers_records_that_trickle_in_with_a_few_receives(stack: LocalStack) -> None:
    """MaximumBatchingWindowInSeconds: records arriving one by one within the window are invoked as ONE batch, as
    soon as the batch is full, and gathered with a few receives (not one long poll per record)."""
    sqs = stack.client("sqs")
    source = next(s for s in stack.event_sources() if s.queue_logical_id == "HotLeadAlertQueue")
    queue_url = sqs.create_queue(QueueName=f"window-{uuid.uuid4().hex[:12]}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    batches: list[tuple[float, int]] = []
    runner = LambdaRunner(stack)
    runner.sources = [
        dataclasses.replace(source, batch_size=10, batching_window_s=5, queue_url=queue_url, queue_arn=queue_arn)
    ]
    runner._handlers[source.function.logical_id] = lambda event, context: batches.append(
        (time.monotonic(), len(event["Records"]))
    )
    receives: list[int] = []
    receive = runner._receive

    def counted(*args: Any) -> list[dict[str, Any]]:
        messages = receive(*args)
        if messages:
            receives.append(len(messages))
        return messages

    runner._receive = counted  # type: ignore[method-assign,assignment]
    with runner:
        first_sent = time.monotonic()
        for n in range(10):
            sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps({"n": n}))
            time.sleep(0.05)
        runner.drain(timeout=20)
    assert [count for _, count in batches] == [10]
    assert batches[0][0] - first_sent < 4, "the full batch waited for the end of the window"
    # One receive per record before the change (10); 2-4 here, with room for a slow machine's sends.
    assert sum(receives) == 10 and len(receives) <= 6, f"records per receive: {receives}"


def _process_runner(stack: LocalStack, log_dir: Any, *, timeout_s: int = 30, **extra_env: str) -> LambdaRunner:
    """A process-isolated runner for the hot-lead queue whose function is tests/integration/worker_handlers.py."""
    source = next(s for s in stack.event_sources() if s.queue_logical_id == "HotLeadAlertQueue")
    # A queue of its own (the stack's queues hold what earlier tests left in flight), short visibility.
    sqs = stack.client("sqs")
    queue_url = sqs.create_queue(QueueName=f"worker-{uuid.uuid4().hex[:12]}", Attributes={"VisibilityTimeout": "2"})[
        "QueueUrl"
    ]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    function = dataclasses.replace(
        source.function, handler="tests.integration.worker_handlers.report", timeout_s=timeout_s
    )
    runner = LambdaRunner(
        stack, log_dir=log_dir, isolation="process", extra_env={"WORKER_TEST_MARKER": "local", **extra_env}
    )
    runner.sources = [
        dataclasses.replace(source, function=function, batching_window_s=0, queue_url=queue_url, queue_arn=queue_arn)
    ]
    runner.stats = {function.logical_id: runner.stats[function.logical_id]}
    return runner


def _log_lines(log_dir: Any, logical_id: str) -> list[dict[str, Any]]:
    lines = (log_dir / f"{logical_id}.log").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.startswith("{")]


def test_process_isolation_runs_each_function_in_its_own_process_with_its_own_environment(
    stack: LocalStack, tmp_path: Any
) -> None:
    import os

    runner = _process_runner(stack, tmp_path)
    source = runner.sources[0]
    sqs = stack.client("sqs")
    with runner:
        assert runner.init_ms[source.function.logical_id] > 0
        sqs.send_message(QueueUrl=source.queue_url, MessageBody=json.dumps({"n": 1}))
        runner.drain(timeout=20)
    seen = _log_lines(tmp_path, source.function.logical_id)
    assert [line["body"] for line in seen] == [{"n": 1}]
    assert seen[0]["pid"] != os.getpid()
    assert seen[0]["service"] == source.function.environment["POWERTOOLS_SERVICE_NAME"]
    assert seen[0]["marker"] == "local"
    assert os.environ.get("WORKER_TEST_MARKER") is None  # the runner's own process is left alone
    assert seen[0]["function_name"] == source.function.name and seen[0]["remaining_ms"] > 0
    stats = runner.stats[source.function.logical_id]
    assert (stats.invocations, stats.records, stats.failed_records, stats.errors) == (1, 1, 0, 0)


def test_process_isolation_stops_an_invocation_past_its_timeout_and_cold_starts_the_next(
    stack: LocalStack, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from local.aws import runner as runner_module

    monkeypatch.setattr(runner_module._FunctionProcess, "GRACE_S", 0.5)
    runner = _process_runner(stack, tmp_path, timeout_s=1)
    source = runner.sources[0]
    sqs = stack.client("sqs")
    with runner:
        sqs.send_message(QueueUrl=source.queue_url, MessageBody=json.dumps({"sleep_s": 30}))
        deadline = time.monotonic() + 20
        stats = runner.stats[source.function.logical_id]
        while stats.errors < 1:
            assert time.monotonic() < deadline, "the overrunning invocation was not stopped"
            time.sleep(0.05)
        assert stats.overran_timeout == 1 and "timed out" in (stats.last_error or "")
        # Visible again after 2 s, the message goes to a fresh process (a cold start), which does not sleep on a
        # second delivery.
        while len(_log_lines(tmp_path, source.function.logical_id)) < 2:
            assert time.monotonic() < deadline, "no delivery after the timeout"
            time.sleep(0.05)
        runner.drain(timeout=10)
    first, second = _log_lines(tmp_path, source.function.logical_id)
    assert (first["receive_count"], second["receive_count"]) == ("1", "2")
    assert first["pid"] != second["pid"]
    assert stats.records - stats.failed_records == 1


def test_process_isolation_reports_a_failing_init_with_its_error(stack: LocalStack, tmp_path: Any) -> None:
    runner = _process_runner(stack, tmp_path, WORKER_TEST_BROKEN_INIT="1")
    with pytest.raises(RuntimeError, match="init failed: ImportError: init fails on purpose"):
        runner.start()
    runner.stop()
