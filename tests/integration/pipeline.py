"""One running pipeline for a test module: the stack from template.yaml on moto, both emulators, the real handlers
polled by the local runner, the read-backs every count assertion needs, and `ledger()` (tests/integration/ledger.py),
which every scenario ends with.

Test-only settings (each one a shorter wait, none a change of behaviour):
- every source queue gets `VisibilityTimeout=1` after the stack is created (`set_queue_attributes`; the template
  says 180-360 s), so a failed item comes back after one second and reaches its DLQ after maxReceiveCount (5)
  receives in about five seconds instead of half an hour;
- every event source's batching window is 0.2 s (the template says 1-5 s), so a drain takes well under a second;
- the Salesforce client timeout is 2 s and the Amplitude flush timeout 3 s (template/settings: 10 s and 20 s), so
  "the far end answers too late" scenarios take seconds.
"""

from __future__ import annotations

import copy
import dataclasses
import gzip
import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from local.aws.runner import LambdaRunner
from local.aws.stack import LocalStack
from local.emulators.amplitude import AmplitudeEmulator
from local.emulators.salesforce import SalesforceEmulator
from local.environment import environment, loopback_without_proxy
from tests.integration.ledger import AlertOutbox, FarEnds, Ledger
from tests.samples import example_record_data

TEST_VISIBILITY_TIMEOUT_S = 1
TEST_BATCHING_WINDOW_S = 0.2
TEST_SALESFORCE_TIMEOUT_S = 2
TEST_AMPLITUDE_FLUSH_TIMEOUT_S = 3
DRAIN_TIMEOUT_S = 45.0


def session_id(prefix: str = "flt") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def record_data(sid: str, **changes: Any) -> dict[str, Any]:
    """The example record (a hot lead) as session `sid`, with a contact email of its own (so one Lead each)."""
    data = copy.deepcopy(example_record_data())
    data["session_id"] = sid
    data["contact"]["email"] = f"{sid}@example.com"
    data.update(changes)
    return data


def gzip_line(document: Any) -> bytes:
    return gzip.compress((json.dumps(document, ensure_ascii=False) + "\n").encode("utf-8"), mtime=0)


def session_key(sid: str, started_at: str = "2026-11-20T15:04:05Z") -> str:
    moment = datetime.fromisoformat(started_at)
    return f"sessions/year={moment:%Y}/month={moment:%m}/day={moment:%d}/{sid}.json.gz"


@dataclass
class Pipeline:
    stack: LocalStack
    runner: LambdaRunner
    salesforce: SalesforceEmulator
    amplitude: AmplitudeEmulator
    log_dir: Path
    bucket: str
    outbox: AlertOutbox
    ledgers: list[Ledger] = field(default_factory=list)

    # -- the ledger ----------------------------------------------------------------------------------------

    def far_ends(self) -> FarEnds:
        """What a ledger reads: the bucket, every DLQ (each one function's: the function whose environment names
        it, read from the template), the emulators, the hot-lead topic's deliveries; closing drains first."""
        owners = {}
        for source in self.runner.sources:
            environment = source.function.environment
            owners[environment["DEAD_LETTER_QUEUE_URL"]] = environment["POWERTOOLS_SERVICE_NAME"]
        assert set(owners) == set(self.stack.dead_letter_queues().values()), "a DLQ that no function names"
        return FarEnds(
            s3=self.s3,
            sqs=self.sqs,
            bucket=self.bucket,
            salesforce=self.salesforce,
            amplitude=self.amplitude,
            alerts=self.outbox,
            dead_letter_queues=owners,
            settle=self.drain,
        )

    def ledger(self) -> Ledger:
        """Open the ledger of a scenario (before it puts anything); `close()` it at the end."""
        ledger = Ledger(self.far_ends())
        self.ledgers.append(ledger)
        return ledger

    @contextmanager
    def lead_scored_tap(self) -> Iterator[Callable[[], list[str]]]:
        """A rule on the project bus that copies every "Lead Scored" event into a queue of the test's own; yields
        a function returning the bodies captured so far (what each consumer queue was sent)."""
        sqs, events = self.sqs, self.stack.client("events")
        bus = self.stack.output("LeadsBusName")
        name = f"va-{self.stack.parameter('Stage')}-lead-scored-tap"
        tap = sqs.create_queue(QueueName=name)["QueueUrl"]
        tap_arn = sqs.get_queue_attributes(QueueUrl=tap, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name=name, EventBusName=bus, EventPattern=json.dumps({"detail-type": ["Lead Scored"]}))
        events.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "tap", "Arn": tap_arn}])
        captured: list[str] = []

        def take() -> list[str]:
            while messages := sqs.receive_message(QueueUrl=tap, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
                "Messages", []
            ):
                captured.extend(message["Body"] for message in messages)
                sqs.delete_message_batch(
                    QueueUrl=tap,
                    Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
                )
            return list(captured)

        try:
            yield take
        finally:
            events.remove_targets(Rule=name, EventBusName=bus, Ids=["tap"])
            events.delete_rule(Name=name, EventBusName=bus)
            sqs.delete_queue(QueueUrl=tap)

    def send(self, queue_logical_id: str, bodies: list[str]) -> None:
        """Send `bodies` to a queue of the stack as new messages (new message ids: a redelivery as SQS, a replay or
        a redrive makes one)."""
        url = self.stack.queue_url(queue_logical_id)
        for start in range(0, len(bodies), 10):
            self.sqs.send_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "MessageBody": body} for i, body in enumerate(bodies[start : start + 10])],
            )

    # -- input ---------------------------------------------------------------------------------------------

    def put_session(self, sid: str, **changes: Any) -> str:
        data = record_data(sid, **changes)
        key = session_key(sid, data["started_at"])
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=gzip_line(data))
        return key

    def put_raw(self, key: str, body: bytes) -> str:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=body)
        return key

    def drain(self, timeout: float = DRAIN_TIMEOUT_S) -> None:
        self.runner.drain(timeout)

    # -- read-backs ----------------------------------------------------------------------------------------

    @property
    def s3(self) -> Any:
        return self.stack.client("s3")

    @property
    def sqs(self) -> Any:
        return self.stack.client("sqs")

    def leads(self, sid: str) -> list[dict[str, Any]]:
        return [lead for lead in self.salesforce.records("Lead") if lead.get("Email") == f"{sid}@example.com"]

    def tasks(self, sid: str) -> list[dict[str, Any]]:
        return [task for task in self.salesforce.records("Task") if task.get("Voice_Session_Id__c") == sid]

    def alerts(self, sid: str) -> list[dict[str, Any]]:
        """SNS messages of the hot-lead topic for `sid`, read back through the email outbox (kept across calls)."""
        return self.outbox.for_session(sid)

    def scored(self, sid: str) -> list[str]:
        return [key for key in self.keys("scored/") if key.endswith(f"/{sid}.json.gz")]

    def scored_versions(self, sid: str) -> int:
        """Versions of the session's scored object (the bucket is versioned; each scoring writes one)."""
        (key,) = self.scored(sid)
        versions = self.s3.list_object_versions(Bucket=self.bucket, Prefix=key).get("Versions", [])
        return sum(version["Key"] == key for version in versions)

    def keys(self, prefix: str) -> list[str]:
        keys: list[str] = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            keys.extend(item["Key"] for item in page.get("Contents", []))
        return keys

    def dlq_depths(self) -> dict[str, int]:
        depths = {}
        for logical, url in self.stack.dead_letter_queues().items():
            attributes = self.sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
            )["Attributes"]
            depths[logical] = sum(int(value) for value in attributes.values())
        return depths

    def metric_total(self, function_logical_id: str, name: str) -> float:
        """Sum of one metric over the function's EMF lines (its log file stands in for its CloudWatch log group)."""
        path = self.log_dir / f"{function_logical_id}.log"
        total = 0.0
        if not path.exists():
            return total
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.startswith("{") or '"_aws"' not in line:
                continue
            document = json.loads(line)
            value = document.get(name)
            if value is None:
                continue
            total += sum(value) if isinstance(value, list) else float(value)
        return total

    def stats(self, function_logical_id: str) -> tuple[int, int]:
        """(records delivered, records reported failed) so far for a function."""
        stat = self.runner.stats[function_logical_id]
        return stat.records, stat.failed_records


def _create_secrets(stack: LocalStack, salesforce: SalesforceEmulator, amplitude: AmplitudeEmulator) -> None:
    """The secrets the template names as parameters, pointing at the emulators (names read from the stack)."""
    stack.create_secrets(
        {
            stack.parameter("SalesforceSecretName"): salesforce.secret("client_credentials"),
            stack.parameter("AmplitudeSecretName"): amplitude.secret(),
        }
    )


@contextmanager
def running_pipeline(stage: str, log_dir: Path) -> Iterator[Pipeline]:
    """The whole backend on this machine, for one test module (its own stage, so names never meet)."""
    parameters = {
        "Stage": stage,
        "AlertEmail": "oncall@example.com",
        # Secrets are per process in moto's shared backends: one name per stage.
        "SalesforceSecretName": f"voice-analytics/{stage}/salesforce",
        "AmplitudeSecretName": f"voice-analytics/{stage}/amplitude",
    }
    with ExitStack() as scope:
        scope.enter_context(loopback_without_proxy())
        stack = scope.enter_context(LocalStack(parameters=parameters))
        scope.enter_context(environment(stack.aws_environment()))
        salesforce = scope.enter_context(SalesforceEmulator())
        amplitude = scope.enter_context(AmplitudeEmulator())
        _create_secrets(stack, salesforce, amplitude)
        sqs = stack.client("sqs")
        for source in stack.event_sources():
            sqs.set_queue_attributes(
                QueueUrl=source.queue_url, Attributes={"VisibilityTimeout": str(TEST_VISIBILITY_TIMEOUT_S)}
            )
        runner = LambdaRunner(
            stack,
            extra_env={
                "SALESFORCE_CA_BUNDLE": salesforce.ca_bundle,
                "POWERTOOLS_TRACE_DISABLED": "true",
                "SALESFORCE_TIMEOUT_SECONDS": str(TEST_SALESFORCE_TIMEOUT_S),
                "AMPLITUDE_FLUSH_TIMEOUT_SECONDS": str(TEST_AMPLITUDE_FLUSH_TIMEOUT_S),
            },
            log_dir=log_dir,
        )
        runner.sources = [
            dataclasses.replace(source, batching_window_s=TEST_BATCHING_WINDOW_S) for source in runner.sources
        ]
        runner.start(warm_up=True)
        scope.callback(runner.stop)
        yield Pipeline(
            stack=stack,
            runner=runner,
            salesforce=salesforce,
            amplitude=amplitude,
            log_dir=log_dir,
            bucket=stack.output("SessionsBucketName"),
            outbox=AlertOutbox(sqs, stack.alerts_queue_url),
        )
