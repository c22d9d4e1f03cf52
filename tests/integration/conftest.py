"""The local far ends for handler tests: moto in server mode (S3, SQS, EventBridge, SNS, DynamoDB, Secrets
Manager) plus the Salesforce and Amplitude emulators, and the real handlers imported against them.

The handlers build their boto3 clients from the environment, so everything here is set before they are imported.
Resources are named like the local defaults in functions/common/settings.py.
"""

from __future__ import annotations

import importlib
import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import boto3
import pytest

from local.aws.moto_server import start_in_thread
from local.emulators.amplitude import AmplitudeEmulator
from local.emulators.salesforce import SalesforceEmulator
from tests.integration.ledger import AlertOutbox, FarEnds, Ledger

REGION = "us-east-1"
BUCKET = "voice-analytics-sessions-local"
TABLE = "voice-analytics-idempotency-local"
BUS = "voice-analytics-local"
TOPIC = "voice-analytics-hot-leads-local"
DLQ = "voice-analytics-dlq-local"
SALESFORCE_SECRET = "voice-analytics/local/salesforce"
AMPLITUDE_SECRET = "voice-analytics/local/amplitude"
LEAD_SCORED_PATTERN = {"source": ["voice-analytics.scoring"], "detail-type": ["Lead Scored"]}


@dataclass
class LocalStack:
    """Clients and the names/urls of what the tests read back."""

    s3: Any
    sqs: Any
    sns: Any
    dlq_url: str
    lead_scored_tap_url: str
    hot_rule_tap_url: str
    alerts_tap_url: str
    topic_arn: str
    salesforce: SalesforceEmulator
    amplitude: AmplitudeEmulator
    outbox: AlertOutbox

    def ledger(self) -> Ledger:
        """Open a scenario's ledger (tests/integration/ledger.py): one DLQ shared by every handler here, so each
        message's `FailedBy` says whose; the handlers run synchronously, so there is nothing to settle."""
        return Ledger(
            FarEnds(
                s3=self.s3,
                sqs=self.sqs,
                bucket=BUCKET,
                salesforce=self.salesforce,
                amplitude=self.amplitude,
                alerts=self.outbox,
                dead_letter_queues={self.dlq_url: None},
            )
        )

    def drain(self, queue_url: str) -> list[dict[str, Any]]:
        """Receive and delete everything currently in a queue."""
        messages: list[dict[str, Any]] = []
        while True:
            batch = self.sqs.receive_message(
                QueueUrl=queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], WaitTimeSeconds=0
            ).get("Messages", [])
            if not batch:
                return messages
            messages.extend(batch)
            self.sqs.delete_message_batch(
                QueueUrl=queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)],
            )


@dataclass
class Handlers:
    score_lead: ModuleType
    salesforce_sync: ModuleType
    amplitude_events: ModuleType
    hot_lead_alert: ModuleType


@pytest.fixture(scope="session")
def local_stack() -> Iterator[LocalStack]:
    server, endpoint = start_in_thread()
    with SalesforceEmulator() as salesforce, AmplitudeEmulator() as amplitude, pytest.MonkeyPatch.context() as env:
        for name in ("AWS_PROFILE", "HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
            env.delenv(name, raising=False)
        env.setenv("NO_PROXY", "127.0.0.1,localhost")
        env.setenv("AWS_ENDPOINT_URL", endpoint)
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        env.setenv("AWS_SESSION_TOKEN", "testing")
        env.setenv("AWS_DEFAULT_REGION", REGION)
        env.setenv("POWERTOOLS_METRICS_NAMESPACE", "VoiceAnalytics")
        env.setenv("POWERTOOLS_SERVICE_NAME", "voice-analytics-tests")
        env.setenv("POWERTOOLS_TRACE_DISABLED", "true")
        env.setenv("STAGE", "local")
        env.setenv("SESSIONS_BUCKET", BUCKET)
        env.setenv("IDEMPOTENCY_TABLE", TABLE)
        env.setenv("EVENT_BUS_NAME", BUS)
        env.setenv("SALESFORCE_SECRET_NAME", SALESFORCE_SECRET)
        env.setenv("SALESFORCE_CA_BUNDLE", salesforce.ca_bundle)
        env.setenv("AMPLITUDE_SECRET_NAME", AMPLITUDE_SECRET)
        env.setenv("AMPLITUDE_FLUSH_TIMEOUT_SECONDS", "10")

        s3 = boto3.client("s3")
        sqs = boto3.client("sqs")
        sns = boto3.client("sns")
        events = boto3.client("events")
        s3.create_bucket(Bucket=BUCKET)
        boto3.client("dynamodb").create_table(
            TableName=TABLE,
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        dlq_url = sqs.create_queue(QueueName=DLQ)["QueueUrl"]
        env.setenv("DEAD_LETTER_QUEUE_URL", dlq_url)

        # The project bus with the same kind of rules as template.yaml, each into a queue the tests read.
        events.create_event_bus(Name=BUS)
        taps = {}
        for name, pattern in {
            "lead-scored-tap": LEAD_SCORED_PATTERN,
            "hot-rule-tap": {**LEAD_SCORED_PATTERN, "detail": {"hot": [True]}},
        }.items():
            url = sqs.create_queue(QueueName=name)["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            events.put_rule(Name=name, EventBusName=BUS, EventPattern=json.dumps(pattern))
            events.put_targets(Rule=name, EventBusName=BUS, Targets=[{"Id": name, "Arn": arn}])
            taps[name] = url

        topic_arn = sns.create_topic(Name=TOPIC)["TopicArn"]
        env.setenv("HOT_LEAD_TOPIC_ARN", topic_arn)
        alerts_url = sqs.create_queue(QueueName="alerts-tap")["QueueUrl"]
        alerts_arn = sqs.get_queue_attributes(QueueUrl=alerts_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=alerts_arn)

        secrets = boto3.client("secretsmanager")
        secrets.create_secret(
            Name=SALESFORCE_SECRET,
            SecretString=json.dumps(salesforce.secret()),
        )
        secrets.create_secret(
            Name=AMPLITUDE_SECRET,
            SecretString=json.dumps(amplitude.secret()),
        )
        try:
            yield LocalStack(
                s3=s3,
                sqs=sqs,
                sns=sns,
                dlq_url=dlq_url,
                lead_scored_tap_url=taps["lead-scored-tap"],
                hot_rule_tap_url=taps["hot-rule-tap"],
                alerts_tap_url=alerts_url,
                topic_arn=topic_arn,
                salesforce=salesforce,
                amplitude=amplitude,
                outbox=AlertOutbox(sqs, alerts_url),
            )
        finally:
            server.stop()


@pytest.fixture(scope="session")
def handlers(local_stack: LocalStack) -> Handlers:
    """The real handler modules, imported once the environment points at the local stack."""
    assert os.environ["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1")
    return Handlers(
        score_lead=importlib.import_module("functions.score_lead.handler"),
        salesforce_sync=importlib.import_module("functions.salesforce_sync.handler"),
        amplitude_events=importlib.import_module("functions.amplitude_events.handler"),
        hot_lead_alert=importlib.import_module("functions.hot_lead_alert.handler"),
    )


@dataclass
class FakeLambdaContext:
    function_name: str = "voice-analytics-test"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:voice-analytics-test"
    aws_request_id: str = ""
    remaining_ms: int = 60_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext(aws_request_id=str(uuid.uuid4()))
