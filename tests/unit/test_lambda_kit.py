"""functions/common/lambda_kit.py: `once_per_session` runs a function once per session id and consumer, keyed in
DynamoDB as `<consumer>#<hash of the session id>` (the key the roles' dynamodb:LeadingKeys conditions allow).

The idempotency table is moto's in-process DynamoDB (no socket); Powertools' idempotency and our kit run unchanged.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from functions.common import aws
from functions.common.lambda_kit import LambdaKit, lambda_kit
from functions.common.settings import SalesforceSyncSettings

TABLE = "voice-analytics-idempotency-unit"


@pytest.fixture
def table(in_process_aws: None) -> Iterator[Any]:
    # The kit's client is built once per process (functions/common/aws.py); build it inside moto's scope.
    aws.idempotency_dynamodb_client.cache_clear()
    client = boto3.client("dynamodb")
    client.create_table(
        TableName=TABLE,
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    yield client
    aws.idempotency_dynamodb_client.cache_clear()


class _Context:
    """What Powertools' idempotency reads of the Lambda context: the time left (for its in-progress records)."""

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def kit(consumer: str) -> LambdaKit:
    created = lambda_kit(consumer, SalesforceSyncSettings(idempotency_table=TABLE))
    created.idempotency_config.register_lambda_context(_Context())  # as sqs_handler does per invocation
    return created


def counting(kit_: LambdaKit, calls: list[str]) -> Any:
    @kit_.once_per_session
    def work(*, session_id: str, detail: str) -> dict[str, str]:
        calls.append(f"{session_id}/{detail}")
        return {"done": f"{session_id}/{detail}"}

    return work


def test_a_session_is_processed_once_whatever_else_the_delivery_carries(table: Any) -> None:
    calls: list[str] = []
    work = counting(kit("salesforce_sync"), calls)

    first = work(session_id="call-1", detail="first delivery")
    again = work(session_id="call-1", detail="a redelivery, with a new message id and event id")
    other = work(session_id="call-2", detail="first delivery")

    assert calls == ["call-1/first delivery", "call-2/first delivery"]
    assert first == again == {"done": "call-1/first delivery"}
    assert other == {"done": "call-2/first delivery"}


def test_each_consumer_keeps_its_own_record_of_a_session(table: Any) -> None:
    calls: list[str] = []
    for consumer in ("salesforce_sync", "amplitude_events", "hot_lead_alert"):
        counting(kit(consumer), calls)(session_id="call-1", detail=consumer)
        counting(kit(consumer), calls)(session_id="call-1", detail=consumer)

    assert calls == ["call-1/salesforce_sync", "call-1/amplitude_events", "call-1/hot_lead_alert"]
    ids = sorted(item["id"]["S"] for item in table.scan(TableName=TABLE)["Items"])
    digest = hashlib.md5(json.dumps("call-1").encode()).hexdigest()
    assert ids == [f"amplitude_events#{digest}", f"hot_lead_alert#{digest}", f"salesforce_sync#{digest}"]


def test_a_failed_run_is_not_recorded_so_the_redelivery_runs_again(table: Any) -> None:
    attempts: list[int] = []

    @kit("salesforce_sync").once_per_session
    def flaky(*, session_id: str) -> str:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("Salesforce is down")
        return session_id

    with pytest.raises(RuntimeError, match="Salesforce is down"):
        flaky(session_id="call-3")

    assert flaky(session_id="call-3") == "call-3"
    assert len(attempts) == 2


def test_a_session_is_remembered_for_the_configured_window_not_powertools_default_hour(table: Any) -> None:
    before = time.time()
    counting(kit("salesforce_sync"), [])(session_id="call-4", detail="first")

    [item] = table.scan(TableName=TABLE)["Items"]
    expiry = int(item["expiration"]["N"])
    window = SalesforceSyncSettings().idempotency_expiry_seconds  # 15 days: longer than SQS keeps a message
    assert window == 15 * 24 * 60 * 60
    assert before + window - 5 <= expiry <= time.time() + window + 5
