"""`voice-analytics redrive`, `replay` and `doctor` against the local stack (names from the stack, by its name).

The commands run in-process through Typer's CliRunner with AWS_ENDPOINT_URL pointing at the module's stack, the
way an operator runs them against AWS with credentials; the pipeline's runner consumes what they send back. Every
test ends with its ledger (tests/integration/ledger.py), like the fault tests: a redriven or replayed session has one
Lead, one Task, one event set and one alert, and reached no far end more often than the scenario explains; a
command that should change nothing (doctor, a refused redrive or replay) left no object, message, record or call.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from local.environment import environment
from tests.integration.ledger import every_scenario_closes_a_ledger
from tests.integration.pipeline import Pipeline, running_pipeline, session_id
from voice_analytics.cli import app

pytestmark = pytest.mark.integration

STAGE = "ops"


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    spool = tmp_path_factory.mktemp("spool")
    with (
        running_pipeline(STAGE, tmp_path_factory.mktemp("ops-logs")) as running,
        environment({"VOICE_ANALYTICS_STACK_NAME": running.stack.stack_name, "ANALYTICS_SPOOL_DIR": str(spool)}),
    ):
        yield running


@pytest.fixture(autouse=True)
def every_test_closes_a_ledger(pipeline: Pipeline) -> Iterator[None]:
    with every_scenario_closes_a_ledger(pipeline.ledgers):
        yield


def cli(*arguments: str) -> tuple[int, Any]:
    result = CliRunner().invoke(app, [*arguments, "--json"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, json.loads(result.stdout.strip().splitlines()[-1])


def doctor_checks() -> tuple[int, dict[str, dict[str, str]]]:
    code, checks = cli("doctor")
    return code, {check["name"]: check for check in checks}


# ---------------------------------------------------------------------------------------------------- doctor


def test_doctor_passes_on_a_healthy_local_stack(pipeline: Pipeline) -> None:
    pipeline.drain()
    ledger = pipeline.ledger()

    code, checks = doctor_checks()

    ledger.close()  # the bucket-write probe wrote nothing, and nothing else moved

    assert code == 0, checks
    assert {name for name, check in checks.items() if check["status"] == "FAIL"} == set()
    assert checks["bucket write"]["status"] == "PASS" and "can create records" in checks["bucket write"]["detail"]
    secrets = [check for name, check in checks.items() if name.startswith("secret ")]
    assert len(secrets) == 2 and all(check["status"] == "PASS" for check in secrets)
    dlqs = [check for name, check in checks.items() if name.startswith("DLQ of ")]
    assert len(dlqs) == 4 and all(check["detail"] == "empty" for check in dlqs)
    sources = [check for name, check in checks.items() if name.startswith("event source ")]
    assert len(sources) == 4 and all("local runner polls" in check["detail"] for check in sources)


def test_doctor_fails_on_a_secret_that_is_not_json_and_names_it(pipeline: Pipeline) -> None:
    ledger = pipeline.ledger()
    secrets = pipeline.stack.client("secretsmanager")
    name = pipeline.stack.parameter("AmplitudeSecretName")
    good = secrets.get_secret_value(SecretId=name)["SecretString"]
    secrets.put_secret_value(SecretId=name, SecretString="api_key=oops")
    try:
        code, checks = doctor_checks()
    finally:
        secrets.put_secret_value(SecretId=name, SecretString=good)

    ledger.close()
    assert code == 1
    assert checks[f"secret {name}"] == {"name": f"secret {name}", "status": "FAIL", "detail": "not JSON"}


def test_doctor_fails_when_the_bucket_is_gone(pipeline: Pipeline) -> None:
    ledger = pipeline.ledger()

    code, checks = cli("doctor", "--bucket", "no-such-bucket-for-doctor")

    ledger.close()
    assert code == 1
    assert {c["name"]: c for c in checks}["bucket write"]["status"] == "FAIL"


# ---------------------------------------------------------------------------------------------------- redrive


def test_permanent_failure_is_reported_by_doctor_then_redriven_into_exactly_one_lead_and_task(
    pipeline: Pipeline,
) -> None:
    ledger = pipeline.ledger()
    sid = session_id("redrive")
    pipeline.salesforce.fail_next(1, 400, "FIELD_CUSTOM_VALIDATION_EXCEPTION", "Lead: blocked by a validation rule")
    pipeline.put_session(sid)
    pipeline.drain()
    assert pipeline.dlq_depths()["SalesforceSyncDeadLetterQueue"] == 1
    assert pipeline.tasks(sid) == []

    code, checks = doctor_checks()
    assert code == 1
    assert checks["DLQ of SalesforceSyncQueue"]["status"] == "FAIL"
    assert "redrive --queue SalesforceSyncQueue" in checks["DLQ of SalesforceSyncQueue"]["detail"]

    # The validation rule is fixed (the fault is gone): move the message back.
    code, results = cli("redrive", "--queue", "salesforce")
    pipeline.drain()

    assert code == 0
    assert [(r["queue"], r["found"], r["moved"], r["failed"], r["method"]) for r in results] == [
        (f"voice-analytics-salesforce-sync-{STAGE}", 1, 1, 0, "copy")
    ]
    # The refused Lead upsert, then the redriven delivery's Lead and Task: one of each in the end.
    ledger.effects(sid, lead_calls=2)
    tally = ledger.close()
    assert tally.salesforce_faults_served == 1 and tally.dead_letters == []
    assert doctor_checks()[0] == 0


def _own_queue_pair(pipeline: Pipeline, name: str) -> tuple[str, str]:
    """A source queue with a RedrivePolicy and its DLQ, outside the stack and without a consumer."""
    sqs = pipeline.sqs
    dlq = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    source = sqs.create_queue(
        QueueName=name,
        Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"})},
    )["QueueUrl"]
    return source, dlq


def test_redrive_of_an_explicit_queue_keeps_body_and_attributes_and_stops_at_max(pipeline: Pipeline) -> None:
    ledger = pipeline.ledger()
    sqs = pipeline.sqs
    source, dlq = _own_queue_pair(pipeline, f"va-{STAGE}-explicit")
    for index in range(3):
        sqs.send_message(
            QueueUrl=dlq,
            MessageBody=json.dumps({"n": index}),
            MessageAttributes={
                "FailureReason": {"DataType": "String", "StringValue": f"reason {index}"},
                "FailedBy": {"DataType": "String", "StringValue": "salesforce_sync"},
            },
        )

    code, first = cli("redrive", "--queue", dlq, "--max", "2")
    code_rest, rest = cli("redrive", "--queue", source)

    assert (code, code_rest) == (0, 0)
    assert [(r["found"], r["moved"]) for r in first] == [(3, 2)]
    assert [(r["found"], r["moved"]) for r in rest] == [(1, 1)]
    moved = sqs.receive_message(QueueUrl=source, MaxNumberOfMessages=10, MessageAttributeNames=["All"])["Messages"]
    assert sorted(json.loads(m["Body"])["n"] for m in moved) == [0, 1, 2]
    for message in moved:
        n = json.loads(message["Body"])["n"]
        assert message["MessageAttributes"]["FailureReason"]["StringValue"] == f"reason {n}"
        assert message["MessageAttributes"]["FailedBy"]["StringValue"] == "salesforce_sync"
    assert sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"] == {
        "ApproximateNumberOfMessages": "0"
    }
    sqs.delete_queue(QueueUrl=source)
    sqs.delete_queue(QueueUrl=dlq)
    ledger.close()  # the stack's own queues and far ends saw none of it


def test_redrive_of_an_unknown_queue_fails_with_a_message(pipeline: Pipeline) -> None:
    ledger = pipeline.ledger()

    result = CliRunner().invoke(app, ["redrive", "--queue", "no-such-queue-anywhere"])

    ledger.close()
    assert result.exit_code == 2
    assert "no-such-queue-anywhere" in result.output


# ---------------------------------------------------------------------------------------------------- replay


def test_replay_objects_scores_sessions_whose_events_were_lost_exactly_once(pipeline: Pipeline) -> None:
    ledger = pipeline.ledger()
    s3, bucket = pipeline.s3, pipeline.bucket
    day = "2026-03-14"
    sids = [session_id("lost") for _ in range(2)]
    # The bucket's EventBridge switch was off while these were written: no event, nothing scored.
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
    try:
        for sid in sids:
            pipeline.put_session(sid, started_at=f"{day}T10:00:00Z", ended_at=f"{day}T10:01:35.400000Z")
    finally:
        s3.put_bucket_notification_configuration(
            Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}}
        )
    pipeline.drain()
    assert [pipeline.scored(sid) for sid in sids] == [[], []]

    code, result = cli("replay", "--since", day, "--until", day, "--mode", "objects")
    pipeline.drain()
    code_again, again = cli("replay", "--since", day, "--until", day, "--mode", "objects")
    pipeline.drain()

    assert (code, result["replayed"], result["failed"]) == (0, 2, 0)
    assert (code_again, again["replayed"]) == (0, 2)
    for sid in sids:
        ledger.effects(sid)  # the second replay was skipped by idempotency: no second call anywhere
        head = s3.head_object(Bucket=bucket, Key=f"sessions/year=2026/month=03/day=14/{sid}.json.gz")
        assert "replayed-at" in head["Metadata"] and head["ContentLength"] > 0
    ledger.close()


def test_replay_archive_redelivers_lead_scored_events_and_idempotency_keeps_one_of_each(pipeline: Pipeline) -> None:
    ledger = pipeline.ledger()
    sids = [session_id("archive") for _ in range(2)]
    for sid in sids:
        pipeline.put_session(sid)
    pipeline.drain()
    delivered_before = pipeline.stats("SalesforceSyncFunction")[0]
    today = datetime.now(UTC).date().isoformat()

    code, result = cli("replay", "--since", today, "--mode", "archive")
    pipeline.drain()

    assert code == 0 and result["state"] == "COMPLETED" and result["failed"] == 0
    # Every "Lead Scored" of today came back to the consumer (at least the two of this test)...
    assert pipeline.stats("SalesforceSyncFunction")[0] - delivered_before >= len(sids)
    # ...and changed nothing: every session of the module, these two included, reached no far end again.
    for sid in sids:
        ledger.effects(sid)
    ledger.close()


def test_replay_rejects_an_until_before_since(pipeline: Pipeline, tmp_path: Path) -> None:
    ledger = pipeline.ledger()

    result = CliRunner().invoke(app, ["replay", "--since", "2026-03-14", "--until", "2026-03-01"])

    ledger.close()
    assert result.exit_code == 2
