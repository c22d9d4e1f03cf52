"""The ledger itself (tests/integration/ledger.py) refuses what it exists to catch: an input with no outcome, an
outcome nobody expected, a second call at a far end, a DLQ message without its reason. Real handlers and far ends
(conftest.py's stack); each scenario breaks one account on purpose and reads the ledger's complaint."""

from __future__ import annotations

import hashlib
import json
import uuid

import boto3
import pytest

from tests.integration.conftest import BUCKET, TABLE, FakeLambdaContext, Handlers, LocalStack
from tests.integration.test_handlers import lead_scored_body, object_created_body, put_session
from tests.samples import sqs_event

pytestmark = pytest.mark.integration


def _sid() -> str:
    return f"ledger-{uuid.uuid4().hex[:12]}"


def test_a_session_put_in_without_an_outcome_in_the_ledger_fails_it(local_stack: LocalStack) -> None:
    ledger = local_stack.ledger()
    key = put_session(local_stack, _sid())

    with pytest.raises(AssertionError, match=f"{key} was put in but the ledger has no outcome for it"):
        ledger.close()


def test_a_quarantine_nobody_expected_fails_the_ledger(
    local_stack: LocalStack, handlers: Handlers, lambda_context: FakeLambdaContext
) -> None:
    ledger = local_stack.ledger()
    key = f"sessions/year=2026/month=11/day=20/{_sid()}.json.gz"
    local_stack.s3.put_object(Bucket=BUCKET, Key=key, Body=b"not gzip")
    handlers.score_lead.lambda_handler(sqs_event([object_created_body(key)]), lambda_context)
    ledger.effects("some-other-session", consumers=())  # expected scored, never was: reported too

    with pytest.raises(AssertionError) as refused:
        ledger.close()

    assert f"quarantine/{key}: quarantined, not expected" in str(refused.value)
    assert "some-other-session: expected scored, but there is no sessions/ object for it" in str(refused.value)


def test_a_second_salesforce_call_for_a_session_fails_the_ledger_even_when_salesforce_hid_it(
    local_stack: LocalStack, handlers: Handlers, lambda_context: FakeLambdaContext
) -> None:
    """What salesforce_sync keyed on the message id would do: the upserts by external id keep one Lead and one
    Task, so only the calls tell."""
    sid = _sid()
    first = local_stack.ledger()
    handlers.salesforce_sync.lambda_handler(sqs_event([lead_scored_body(sid)]), lambda_context)
    first.effects(sid, scored=False, consumers=["salesforce_sync"])
    first.close()
    # Forget that salesforce_sync did this session (its Powertools idempotency item: the consumer prefix and the
    # MD5 of the JSON of the session id), so the same body is synced a second time.
    key = {"id": {"S": f"salesforce_sync#{hashlib.md5(json.dumps(sid).encode()).hexdigest()}"}}
    dynamodb = boto3.client("dynamodb")
    assert "Item" in dynamodb.get_item(TableName=TABLE, Key=key)
    dynamodb.delete_item(TableName=TABLE, Key=key)
    second = local_stack.ledger()

    handlers.salesforce_sync.lambda_handler(sqs_event([lead_scored_body(sid)]), lambda_context)

    assert len([task for task in local_stack.salesforce.records("Task") if task["Voice_Session_Id__c"] == sid]) == 1
    with pytest.raises(AssertionError, match=f"{sid}: 1 Task upsert call\\(s\\) at Salesforce for a session not in"):
        second.close()


def test_a_dead_letter_without_a_failure_reason_fails_the_ledger(local_stack: LocalStack) -> None:
    ledger = local_stack.ledger()
    local_stack.sqs.send_message(QueueUrl=local_stack.dlq_url, MessageBody=json.dumps({"detail": {"session_id": "x"}}))

    with pytest.raises(AssertionError, match="has no FailureReason: it got there by maxReceiveCount"):
        ledger.close()


def test_an_alert_for_a_session_expected_cold_fails_the_ledger(
    local_stack: LocalStack, handlers: Handlers, lambda_context: FakeLambdaContext
) -> None:
    sid = _sid()
    ledger = local_stack.ledger()
    handlers.hot_lead_alert.lambda_handler(sqs_event([lead_scored_body(sid)]), lambda_context)
    ledger.effects(sid, hot=False, scored=False, consumers=["hot_lead_alert"])

    with pytest.raises(AssertionError, match=f"1 alert\\(s\\) for {sid} were published, not expected"):
        ledger.close()
