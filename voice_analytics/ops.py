"""Operations on a deployed stack: redrive DLQs, replay events, check the installation (`doctor`).

Everything here talks to AWS through boto3, which honours AWS_ENDPOINT_URL, so the same code runs against AWS and
against the local stack (moto). Names come from the CloudFormation stack (`describe_stack_resources`, outputs,
parameters) or from explicit options; nothing restates template.yaml.

Choices, and why:
- Redrive: on AWS, SQS's own `start_message_move_task` (server side, keeps every attribute) when the whole DLQ is
  to be moved. moto does not implement it, and a move task cannot stop after N messages, so with a local endpoint
  or `--max` the messages are moved by receive -> send (body and message attributes kept) -> delete, and a message
  is deleted from the DLQ only once the source queue accepted it (a crash in between duplicates, never loses; the
  consumers are idempotent on the session id).
- Replay, mode `archive`: EventBridge `start_replay` of the project bus's archive ("Lead Scored" events) into the
  bus, i.e. into the three consumers. Mode `objects`: each `sessions/` object of the date range is copied onto
  itself with `MetadataDirective=REPLACE` (metadata kept, plus `replayed-at`), which makes S3 emit a new
  "Object Created" event through the same EventBridge rule as a put by the agent. That needs no extra permission
  on the agent's side, rewrites the same bytes (the content and key stay the same, a versioned bucket keeps the
  old version) and reaches score_lead exactly as a new record would. score_lead is idempotent on the session id:
  within the idempotency window (15 days) a session already scored is skipped, so this mode is for objects that
  were never scored (EventBridge switched off, a rule broken, a quarantined object fixed in place).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

DEFAULT_STACK_NAME = "voice-analytics-dev"
STACK_NAME_VARIABLE = "VOICE_ANALYTICS_STACK_NAME"
SQS_BATCH = 10
# A source queue deeper than this is reported as WARN by doctor (the consumers are behind).
QUEUE_DEPTH_WARN = 100
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=30)


class OpsError(RuntimeError):
    """An operation could not run; the message says what to fix."""


def client(service: str) -> Any:
    """A boto3 client; AWS_ENDPOINT_URL (the local stack) is honoured by boto3 itself."""
    return boto3.client(service, config=_CONFIG)  # type: ignore[call-overload]


def local_endpoint() -> str:
    return os.environ.get("AWS_ENDPOINT_URL", "")


def default_stack_name() -> str:
    return os.environ.get(STACK_NAME_VARIABLE) or DEFAULT_STACK_NAME


# ---------------------------------------------------------------------------------------------------- the stack


@dataclass
class StackView:
    """A deployed stack as CloudFormation describes it: resources by logical id, outputs and parameters. The one
    view of a stack: the operations read AWS's, the local stack (local/aws/stack.py) reads moto's."""

    name: str
    resources: dict[str, tuple[str, str]]  # logical id -> (type, physical id)
    outputs: dict[str, str]
    parameters: dict[str, str]

    @classmethod
    def load(cls, name: str, cloudformation: Any = None) -> StackView:
        cfn = cloudformation or client("cloudformation")
        try:
            stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
            items = cfn.describe_stack_resources(StackName=name)["StackResources"]
        except ClientError as error:
            raise OpsError(f"stack {name!r} not found or not readable: {error}") from error
        return cls(
            name=name,
            resources={
                item["LogicalResourceId"]: (item["ResourceType"], item.get("PhysicalResourceId", "")) for item in items
            },
            outputs={item["OutputKey"]: item["OutputValue"] for item in stack.get("Outputs", [])},
            parameters={item["ParameterKey"]: item.get("ParameterValue", "") for item in stack.get("Parameters", [])},
        )

    def of_type(self, resource_type: str) -> dict[str, str]:
        return {logical: physical for logical, (kind, physical) in self.resources.items() if kind == resource_type}

    def physical_id(self, logical_id: str) -> str:
        return self._resource(logical_id)[1]

    def resource_type(self, logical_id: str) -> str:
        return self._resource(logical_id)[0]

    def output(self, name: str) -> str:
        if name not in self.outputs:
            raise OpsError(f"stack {self.name} has no output {name!r} (it has: {', '.join(sorted(self.outputs))})")
        return self.outputs[name]

    def _resource(self, logical_id: str) -> tuple[str, str]:
        if logical_id not in self.resources:
            raise OpsError(f"stack {self.name} has no resource {logical_id!r}")
        return self.resources[logical_id]


# ---------------------------------------------------------------------------------------------------- queues


@dataclass(frozen=True)
class QueuePair:
    """A source queue and the DLQ its RedrivePolicy names."""

    label: str
    source_url: str
    source_arn: str
    dlq_url: str
    dlq_arn: str

    def names(self) -> set[str]:
        return {
            self.label,
            self.source_url,
            self.dlq_url,
            self.source_arn,
            self.dlq_arn,
            _queue_name(self.source_url),
            _queue_name(self.dlq_url),
        }


def _queue_name(url_or_arn: str) -> str:
    return url_or_arn.rstrip("/").replace(":", "/").rsplit("/", 1)[-1]


def _queue_url(sqs: Any, name_url_or_arn: str) -> str:
    if name_url_or_arn.startswith(("http://", "https://")):
        return name_url_or_arn
    arguments = {"QueueName": _queue_name(name_url_or_arn)}
    if name_url_or_arn.startswith("arn:"):
        arguments["QueueOwnerAWSAccountId"] = name_url_or_arn.split(":")[4]
    try:
        return str(sqs.get_queue_url(**arguments)["QueueUrl"])
    except ClientError as error:
        raise OpsError(f"no queue {name_url_or_arn!r}: {error}") from error


def _pair_for_source(sqs: Any, label: str, source_url: str) -> QueuePair | None:
    attributes = sqs.get_queue_attributes(QueueUrl=source_url, AttributeNames=["QueueArn", "RedrivePolicy"])[
        "Attributes"
    ]
    policy = attributes.get("RedrivePolicy")
    if not policy:
        return None
    dlq_arn = str(json.loads(policy)["deadLetterTargetArn"])
    return QueuePair(label, source_url, attributes["QueueArn"], _queue_url(sqs, dlq_arn), dlq_arn)


def queue_pairs(stack_name: str | None, queue: str = "all") -> list[QueuePair]:
    """The (source, DLQ) pairs to work on: every one of the stack, or the one `queue` names (logical id, name, URL
    or ARN of the source or of its DLQ, or a unique part of a name such as "salesforce"). Without a stack, `queue`
    must name a queue directly."""
    sqs = client("sqs")
    if stack_name is None:
        if queue == "all":
            raise OpsError("--queue all needs --stack-name (or VOICE_ANALYTICS_STACK_NAME)")
        url = _queue_url(sqs, queue)
        pair = _pair_for_source(sqs, _queue_name(url), url)
        if pair is not None:
            return [pair]
        sources = sqs.list_dead_letter_source_queues(QueueUrl=url).get("queueUrls", [])
        pairs = [p for p in (_pair_for_source(sqs, _queue_name(s), s) for s in sources) if p is not None]
        if not pairs:
            raise OpsError(f"{queue!r} has no RedrivePolicy and no queue uses it as its DLQ")
        return pairs
    view = StackView.load(stack_name)
    pairs = []
    for logical, physical in sorted(view.of_type("AWS::SQS::Queue").items()):
        pair = _pair_for_source(sqs, logical, _queue_url(sqs, physical))
        if pair is not None:
            pairs.append(pair)
    if queue == "all":
        return pairs
    dlq_labels = {
        pair.dlq_arn: logical
        for logical, physical in view.of_type("AWS::SQS::Queue").items()
        for pair in pairs
        if _queue_name(physical) == _queue_name(pair.dlq_url)
    }
    exact = [p for p in pairs if queue in p.names() or dlq_labels.get(p.dlq_arn) == queue]
    if exact:
        return exact
    partial = [p for p in pairs if any(queue.lower() in name.lower() for name in p.names())]
    if len(partial) == 1:
        return partial
    known = ", ".join(p.label for p in pairs)
    raise OpsError(f"--queue {queue!r} matches {len(partial)} queues of stack {stack_name}; use one of: {known}, all")


def queue_depth(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ],
    )["Attributes"]
    return sum(int(value) for value in attributes.values())


# ---------------------------------------------------------------------------------------------------- redrive

RedriveMethod = Literal["auto", "move-task", "copy"]


@dataclass
class RedriveResult:
    queue: str
    dlq: str
    method: str
    found: int
    moved: int = 0
    failed: int = 0
    task_handle: str | None = None
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "queue": self.queue,
            "dlq": self.dlq,
            "method": self.method,
            "found": self.found,
            "moved": self.moved,
            "failed": self.failed,
            "task_handle": self.task_handle,
            "errors": self.errors,
        }


def _sendable_attributes(attributes: dict[str, Any]) -> dict[str, Any]:
    kept: dict[str, Any] = {}
    for name, value in attributes.items():
        item = {"DataType": value["DataType"]}
        for key in ("StringValue", "BinaryValue"):
            if key in value:
                item[key] = value[key]
        kept[name] = item
    return kept


def redrive(pair: QueuePair, *, max_messages: int | None = None, method: RedriveMethod = "auto") -> RedriveResult:
    """Move the DLQ's messages back to the source queue; returns the counts."""
    sqs = client("sqs")
    found = queue_depth(sqs, pair.dlq_url)
    chosen = method
    if chosen == "auto":
        chosen = "copy" if local_endpoint() or max_messages is not None else "move-task"
    result = RedriveResult(
        queue=_queue_name(pair.source_url), dlq=_queue_name(pair.dlq_url), method=chosen, found=found
    )
    if found == 0:
        return result
    if chosen == "move-task":
        try:
            response = sqs.start_message_move_task(SourceArn=pair.dlq_arn, DestinationArn=pair.source_arn)
        except ClientError as error:
            if method == "move-task":
                raise OpsError(f"start_message_move_task failed for {result.dlq}: {error}") from error
            result.method = "copy"  # e.g. an SQS-compatible endpoint without move tasks
            return _redrive_by_copy(sqs, pair, result, max_messages)
        result.task_handle = str(response.get("TaskHandle"))
        result.moved = found  # moved asynchronously by SQS; `list_message_move_tasks` shows progress
        return result
    return _redrive_by_copy(sqs, pair, result, max_messages)


def _redrive_by_copy(sqs: Any, pair: QueuePair, result: RedriveResult, max_messages: int | None) -> RedriveResult:
    limit = max_messages if max_messages is not None else result.found
    empty_rounds = 0
    while result.moved + result.failed < limit:
        messages = sqs.receive_message(
            QueueUrl=pair.dlq_url,
            MaxNumberOfMessages=min(SQS_BATCH, limit - result.moved - result.failed),
            WaitTimeSeconds=0,
            VisibilityTimeout=60,
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            # Short polling samples a subset of SQS's servers: only stop once the queue says it is empty.
            empty_rounds += 1
            if empty_rounds >= 3 or queue_depth(sqs, pair.dlq_url) == 0:
                break
            continue
        empty_rounds = 0
        entries = []
        for index, message in enumerate(messages):
            entry: dict[str, Any] = {"Id": str(index), "MessageBody": message["Body"]}
            if message.get("MessageAttributes"):
                entry["MessageAttributes"] = _sendable_attributes(message["MessageAttributes"])
            group = message.get("Attributes", {}).get("MessageGroupId")
            if group:
                entry["MessageGroupId"] = group
                entry["MessageDeduplicationId"] = message["MessageId"]
            entries.append(entry)
        response = sqs.send_message_batch(QueueUrl=pair.source_url, Entries=entries)
        sent = {item["Id"] for item in response.get("Successful", [])}
        for failure in response.get("Failed", []):
            result.failed += 1
            result.errors.append(f"{failure.get('Code')}: {failure.get('Message')}")
        done = [m for i, m in enumerate(messages) if str(i) in sent]
        if done:
            sqs.delete_message_batch(
                QueueUrl=pair.dlq_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        result.moved += len(done)
    return result


# ---------------------------------------------------------------------------------------------------- replay


@dataclass
class ReplayResult:
    mode: str
    since: str
    until: str
    replayed: int = 0
    failed: int = 0
    replay_name: str | None = None
    state: str | None = None
    archive_events: int | None = None
    keys: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "since": self.since,
            "until": self.until,
            "replayed": self.replayed,
            "failed": self.failed,
            "replay_name": self.replay_name,
            "state": self.state,
            "archive_events": self.archive_events,
            "errors": self.errors,
        }


def _days(since: date, until: date) -> Iterator[date]:
    day = since
    while day <= until:
        yield day
        day += timedelta(days=1)


def replay_objects(bucket: str, since: date, until: date, prefix: str = "sessions") -> ReplayResult:
    """Copy every `<prefix>/year=/month=/day=/` object of the range onto itself so S3 emits "Object Created"."""
    s3 = client("s3")
    result = ReplayResult(mode="objects", since=since.isoformat(), until=until.isoformat())
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    for day in _days(since, until):
        partition = f"{prefix.strip('/')}/year={day:%Y}/month={day:%m}/day={day:%d}/"
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=partition):
            for item in page.get("Contents", []):
                key = item["Key"]
                try:
                    head = s3.head_object(Bucket=bucket, Key=key)
                    extra: dict[str, Any] = {}
                    for name in ("ContentType", "ContentEncoding", "ServerSideEncryption", "SSEKMSKeyId"):
                        if head.get(name):
                            extra[name] = head[name]
                    s3.copy_object(
                        Bucket=bucket,
                        Key=key,
                        CopySource={"Bucket": bucket, "Key": key},
                        MetadataDirective="REPLACE",
                        Metadata={**head.get("Metadata", {}), "replayed-at": stamp},
                        **extra,
                    )
                except (ClientError, BotoCoreError) as error:
                    result.failed += 1
                    result.errors.append(f"{key}: {error}")
                    continue
                result.replayed += 1
                result.keys.append(key)
    return result


def _archive_arn(events: Any, view: StackView | None, bus_name: str, archive_name: str | None) -> tuple[str, str]:
    """(archive ARN, bus ARN); the archive by name, from the stack, or the one archive of the bus."""
    bus_arn = str(events.describe_event_bus(Name=bus_name)["Arn"])
    if archive_name is None and view is not None:
        archive_name = next((p for p in view.of_type("AWS::Events::Archive").values() if p), None)
    if archive_name is None:
        archives = events.list_archives(EventSourceArn=bus_arn).get("Archives", [])
        if len(archives) != 1:
            raise OpsError(f"bus {bus_name} has {len(archives)} archives: name one with --archive")
        archive_name = str(archives[0]["ArchiveName"])
    archive_name = archive_name.rsplit("/", 1)[-1]
    return str(events.describe_archive(ArchiveName=archive_name)["ArchiveArn"]), bus_arn


def replay_archive(
    bus_name: str,
    since: datetime,
    until: datetime,
    *,
    view: StackView | None = None,
    archive_name: str | None = None,
    wait_s: float = 120.0,
) -> ReplayResult:
    """EventBridge replay of the bus archive between `since` and `until`, waited for (up to `wait_s`)."""
    import time

    events = client("events")
    archive_arn, bus_arn = _archive_arn(events, view, bus_name, archive_name)
    result = ReplayResult(mode="archive", since=since.isoformat(), until=until.isoformat())
    archive = events.describe_archive(ArchiveName=archive_arn.rsplit("/", 1)[-1])
    result.archive_events = archive.get("EventCount")
    result.replay_name = f"ops-{since:%Y%m%d}-{uuid.uuid4().hex[:8]}"
    events.start_replay(
        ReplayName=result.replay_name,
        EventSourceArn=archive_arn,
        EventStartTime=since,
        EventEndTime=until,
        Destination={"Arn": bus_arn},
    )
    deadline = time.monotonic() + wait_s
    while True:
        state = str(events.describe_replay(ReplayName=result.replay_name)["State"])
        result.state = state
        if state in ("COMPLETED", "FAILED", "CANCELLED") or time.monotonic() > deadline:
            break
        time.sleep(1)
    if state == "FAILED":
        result.failed = 1
        result.errors.append(str(events.describe_replay(ReplayName=result.replay_name).get("StateReason")))
    return result


# ---------------------------------------------------------------------------------------------------- doctor

Status = Literal["PASS", "WARN", "FAIL"]


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str


def _checked(name: str, run: Any) -> list[Check]:
    try:
        found = run()
    except (ClientError, BotoCoreError, OpsError, ValueError) as error:
        return [Check(name, "FAIL", f"{type(error).__name__}: {error}")]
    return list(found)


def doctor(stack_name: str, *, bucket: str | None = None) -> list[Check]:
    """Every check, in order: configuration, the stack, bucket write, secrets, queues, DLQs, event sources,
    quarantine and the agent's spool. FAIL means something is broken; WARN means look at it."""
    checks: list[Check] = []
    checks += _checked("configuration", _configuration_checks)
    view: StackView | None = None
    try:
        view = StackView.load(stack_name)
        checks.append(Check("stack", "PASS", f"{stack_name}: {len(view.resources)} resources"))
    except (OpsError, BotoCoreError) as error:
        checks.append(Check("stack", "FAIL", str(error)))
    bucket = bucket or (view.outputs.get("SessionsBucketName") if view else None)
    if bucket:
        checks += _checked("bucket write", lambda: [_bucket_write_check(bucket)])
        checks += _checked("quarantine", lambda: [_quarantine_check(bucket)])
    else:
        checks.append(Check("bucket write", "FAIL", "no bucket: deploy the stack or pass --bucket"))
    if view is not None:
        checks += _checked("secrets", lambda: _secret_checks(view))
        checks += _checked("queues", lambda: _queue_checks(stack_name))
        checks += _checked("event sources", lambda: _event_source_checks(view))
    checks += _checked("agent spool", lambda: [_spool_check()])
    return checks


def _configuration_checks() -> Iterator[Check]:
    from agent.settings import AgentSettings

    session = boto3.session.Session()
    region = session.region_name
    yield Check("region", "PASS" if region else "FAIL", region or "no region: set AWS_REGION or AWS_DEFAULT_REGION")
    credentials = session.get_credentials()
    yield Check(
        "credentials",
        "PASS" if credentials else "FAIL",
        f"from {credentials.method}" if credentials else "no AWS credentials found",
    )
    endpoint = local_endpoint()
    yield Check("endpoint", "PASS", f"local endpoint {endpoint}" if endpoint else "AWS (no AWS_ENDPOINT_URL)")
    try:
        settings = AgentSettings.from_env()
    except ValueError as error:
        yield Check("agent settings", "FAIL", str(error))
        return
    yield Check(
        "agent settings",
        "PASS" if settings.analytics_bucket else "WARN",
        f"ANALYTICS_BUCKET={settings.analytics_bucket}"
        if settings.analytics_bucket
        else "ANALYTICS_BUCKET not set here (the agent's host needs it)",
    )


def _bucket_write_check(bucket: str) -> Check:
    from agent.exporter import s3_sink_from_settings
    from agent.settings import AgentSettings

    settings = AgentSettings.from_env()
    sink = s3_sink_from_settings(settings, bucket=bucket)
    outcome = sink.check_write(settings.analytics_prefix)
    return Check("bucket write", "PASS" if outcome.ok else "FAIL", outcome.detail)


def _quarantine_check(bucket: str) -> Check:
    s3 = client("s3")
    keys = [
        item["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="quarantine/")
        for item in page.get("Contents", [])
        if not item["Key"].endswith(".reason.json")
    ]
    if not keys:
        return Check("quarantine", "PASS", "no quarantined objects")
    return Check("quarantine", "WARN", f"{len(keys)} quarantined objects (reasons in quarantine/<key>.reason.json)")


_SECRET_MODELS = {
    "SalesforceSecretName": ("functions.common.salesforce", "SalesforceCredentials"),
    "AmplitudeSecretName": ("functions.common.amplitude", "AmplitudeCredentials"),
}


def _secret_checks(view: StackView) -> Iterator[Check]:
    import importlib

    secrets = client("secretsmanager")
    for parameter, secret_name in sorted(view.parameters.items()):
        if not parameter.endswith("SecretName") or not secret_name:
            continue
        name = f"secret {secret_name}"
        try:
            value = secrets.get_secret_value(SecretId=secret_name)["SecretString"]
        except ClientError as error:
            yield Check(name, "FAIL", f"not readable: {error.response.get('Error', {}).get('Code')}")
            continue
        try:
            data = json.loads(value)
        except ValueError:
            yield Check(name, "FAIL", "not JSON")
            continue
        if parameter in _SECRET_MODELS:
            module, model = _SECRET_MODELS[parameter]
            try:
                getattr(importlib.import_module(module), model).model_validate(data)
            except ValueError as error:
                fields = sorted({".".join(str(p) for p in item["loc"]) for item in getattr(error, "errors", list)()})
                yield Check(name, "FAIL", f"JSON without the fields {model} needs: {', '.join(fields)}")
                continue
        yield Check(name, "PASS", f"present and parseable ({len(data)} keys)")


def _queue_checks(stack_name: str) -> Iterator[Check]:
    sqs = client("sqs")
    for pair in queue_pairs(stack_name):
        depth = queue_depth(sqs, pair.source_url)
        yield Check(
            f"queue {pair.label}",
            "PASS" if depth <= QUEUE_DEPTH_WARN else "WARN",
            f"{depth} messages waiting or in flight",
        )
        dead = queue_depth(sqs, pair.dlq_url)
        yield Check(
            f"DLQ of {pair.label}",
            "PASS" if dead == 0 else "FAIL",
            "empty"
            if dead == 0
            else f"{dead} messages: read their FailureReason, fix the cause, then "
            f"`voice-analytics redrive --queue {pair.label}`",
        )


def _event_source_checks(view: StackView) -> Iterator[Check]:
    lambda_client = client("lambda")
    local = bool(local_endpoint())
    for logical, uuid_ in sorted(view.of_type("AWS::Lambda::EventSourceMapping").items()):
        state = str(lambda_client.get_event_source_mapping(UUID=uuid_).get("State"))
        if state == "Enabled":
            yield Check(f"event source {logical}", "PASS", "Enabled")
        elif local and state == "Disabled":
            yield Check(f"event source {logical}", "PASS", "Disabled on the local stack (the local runner polls)")
        else:
            yield Check(f"event source {logical}", "FAIL", f"{state}: the function does not receive its queue")


def _spool_check() -> Check:
    from agent.exporter import spooled_keys
    from agent.settings import AgentSettings

    settings = AgentSettings.from_env()
    waiting = spooled_keys(settings.spool_dir)
    if not waiting:
        return Check("agent spool", "PASS", f"nothing spooled in {settings.spool_dir}")
    return Check(
        "agent spool", "WARN", f"{len(waiting)} records spooled in {settings.spool_dir}: `voice-analytics spool flush`"
    )
