"""The real handlers, fed the events/ payloads, against moto (server mode) and the Salesforce/Amplitude emulators."""

from __future__ import annotations

import gzip
import json
import uuid
from datetime import datetime
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from functions.common.record import partition_key
from functions.score_lead.storage import gzip_ndjson
from tests.integration.conftest import BUCKET, FakeLambdaContext, Handlers, LocalStack
from tests.samples import example_record_data, load_event, sqs_event

pytestmark = pytest.mark.integration


def unique_session_id(prefix: str = "it") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def put_session(stack: LocalStack, session_id: str, **changes: Any) -> str:
    data = example_record_data()
    data.update(session_id=session_id, **changes)
    key = partition_key("sessions", datetime.fromisoformat(data["started_at"]), session_id)
    stack.s3.put_object(Bucket=BUCKET, Key=key, Body=gzip_ndjson(data))
    return key


def object_created_body(key: str, bucket: str = BUCKET) -> str:
    event = json.loads(load_event("score_lead_sqs_event.json")["Records"][0]["body"])
    event["id"] = str(uuid.uuid4())
    event["detail"]["bucket"]["name"] = bucket
    event["detail"]["object"]["key"] = key
    return json.dumps(event)


def lead_scored_body(session_id: str, *, hot: bool = True) -> str:
    event = json.loads(load_event("lead_scored_sqs_event.json")["Records"][0]["body"])
    event["id"] = str(uuid.uuid4())
    detail = event["detail"]
    detail["session_id"] = session_id
    detail["hot"] = hot
    return json.dumps(event)


def bus_events_for(stack: LocalStack, queue_url: str, session_id: str) -> list[dict[str, Any]]:
    events = [json.loads(message["Body"]) for message in stack.drain(queue_url)]
    return [event for event in events if event["detail"]["session_id"] == session_id]


def alerts_for(stack: LocalStack, session_id: str) -> list[dict[str, Any]]:
    notifications = [json.loads(message["Body"]) for message in stack.drain(stack.alerts_tap_url)]
    return [note for note in notifications if f"Session: {session_id}" in note["Message"]]


def dead_letters_for(stack: LocalStack, consumer: str) -> list[dict[str, Any]]:
    return [
        message
        for message in stack.drain(stack.dlq_url)
        if message["MessageAttributes"]["FailedBy"]["StringValue"] == consumer
    ]


# ----------------------------------------------------------------------------------------------- score_lead


def test_score_lead_scores_the_sample_event_writes_scored_record_and_puts_lead_scored(
    local_stack: LocalStack, handlers: Handlers, lambda_context: FakeLambdaContext
) -> None:
    event = load_event("score_lead_sqs_event.json")
    key = json.loads(event["Records"][0]["body"])["detail"]["object"]["key"]
    local_stack.s3.put_object(Bucket=BUCKET, Key=key, Body=gzip_ndjson(example_record_data()))

    result = handlers.score_lead.lambda_handler(event, lambda_context)

    assert result == {"batchItemFailures": []}
    scored_key = "scored/year=2026/month=11/day=20/trial-call-0001.json.gz"
    scored = json.loads(gzip.decompress(local_stack.s3.get_object(Bucket=BUCKET, Key=scored_key)["Body"].read()))
    assert scored["session_id"] == "trial-call-0001"
    assert scored["scoring"]["grade"] == "A" and scored["scoring"]["hot"] is True
    published = bus_events_for(local_stack, local_stack.lead_scored_tap_url, "trial-call-0001")
    assert len(published) == 1
    detail = published[0]["detail"]
    assert published[0]["detail-type"] == "Lead Scored"
    assert detail["scored_object"] == {"bucket": BUCKET, "key": scored_key, "version_id": None}
    assert detail["session_object"]["key"] == key
    assert len(json.dumps(detail)) < 64 * 1024
    assert len(bus_events_for(local_stack, local_stack.hot_rule_tap_url, "trial-call-0001")) == 1


def test_same_object_event_delivered_three_times_is_scored_and_published_once(
    local_stack: LocalStack, handlers: Handlers, lambda_context: FakeLambdaContext
) -> None:
    session_id = unique_session_id()
    key = put_session(local_stack, session_id)

    for _ in range(3):
        # A redelivery has a new message id and event id: idempotency keys on the session id.
        result = handlers.score_lead.lambda_handler(sqs_event([object_created_body(key)]), lambda_context)
        assert result == {"batchItemFailures": []}

    assert len(bus_events_for(local_stack, local_stack.lead_scored_tap_url, session_id)) == 1


def test_cold_lead_is_published_but_does_not_match_the_hot_rule(
    local_stack: LocalStack, handlers: Handlers, lambda_context: FakeLambdaContext
) -> None:
    session_id = unique_session_id()
    key = put_session(local_stack, session_id, signals={"team_size": 2}, tool_calls=[], contact=None)

    handlers.score_lead.lambda_handler(sqs_event([object_created_body(key)]), lambda_context)

    published = bus_events_for(local_stack, local_stack.lead_scored_tap_url, session_id)
    assert [event["detail"]["hot"] for event in published] == [False]
    assert bus_events_for(local_stack, local_stack.hot_rule_tap_url, session_id) == []


def test_malformed_object_is_quarantined_with_its_reason_and_the_rest_of_the_batch_goes_on(
    local_stack: LocalStack, handlers: Handlers, lambda_context: FakeLambdaContext
) -> None:
    bad_key = f"sessions/year=2026/month=11/day=20/{unique_session_id('bad')}.json.gz"
    local_stack.s3.put_object(Bucket=BUCKET, Key=bad_key, Body=b"this is not gzip")
    good_id = unique_session_id()
    good_key = put_session(local_stack, good_id)

    result = handlers.score_lead.lambda_handler(
        sqs_event([object_created_body(bad_key), object_created_body(good_key)]), lambda_context
    )

    assert result == {"batchItemFailures": []}
    quarantined = local_stack.s3.head_object(Bucket=BUCKET, Key=f"quarantine/{bad_key}")
    assert "not gzip" in quarantined["Metadata"]["quarantine-reason"]
    sidecar = json.loads(
        local_stack.s3.get_object(Bucket=BUCKET, Key=f"quarantine/{bad_key}.reason.json")["Body"].read()
    )
    assert sidecar["source"]["key"] == bad_key and "not gzip" in sidecar["reason"]
    assert len(bus_events_for(local_stack, local_stack.lead_scored_tap_url, good_id)) == 1


def test_schema_violation_is_quarantined_naming_the_field(
    local_stack: LocalStack, handlers: Handlers, lambda_context: FakeLambdaContext
) -> None:
    key = put_session(local_stack, unique_session_id(), duration_s=-5)

    result = handlers.score_lead.lambda_handler(sqs_event([object_created_body(key)]), lambda_context)

    assert result == {"batchItemFailures": []}
    sidecar = json.loads(local_stack.s3.get_object(Bucket=BUCKET, Key=f"quarantine/{key}.reason.json")["Body"].read())
    assert "duration_s" in sidecar["reason"]


def test_score_lead_reports_only_the_failed_item_of_a_batch(
    local_stack: LocalStack, handlers: Handlers, lambda_context: FakeLambdaContext
) -> None:
    good_id = unique_session_id()
    event = sqs_event(
        [
            object_created_body(put_session(local_stack, good_id)),
            # S3 answers NoSuchBucket: a transient-looking failure that SQS must redeliver.
            object_created_body("sessions/year=2026/month=11/day=20/x.json.gz", bucket="bucket-that-does-not-exist"),
        ]
    )

    result = handlers.score_lead.lambda_handler(event, lambda_context)

    assert result == {"batchItemFailures": [{"itemIdentifier": event["Records"][1]["messageId"]}]}
    assert len(bus_events_for(local_stack, local_stack.lead_scored_tap_url, good_id)) == 1


def test_message_that_is_not_an_s3_event_goes_to_the_dlq_with_the_reason(
    local_stack: LocalStack, handlers: Handlers, lambda_context: FakeLambdaContext
) -> None:
    event = sqs_event(['{"hello": "world"}'])

    result = handlers.score_lead.lambda_handler(event, lambda_context)

    assert result == {"batchItemFailures": []}
    [dead] = dead_letters_for(local_stack, "score_lead")
    assert dead["Body"] == '{"hello": "world"}'
    assert "not an S3 'Object Created'" in dead["MessageAttributes"]["FailureReason"]["StringValue"]


# ------------------------------------------------------------------------------------------------- consumers


def test_same_lead_scored_event_delivered_three_times_gives_one_lead_one_task_one_event_set_and_one_alert(
    local_stack: LocalStack, handlers: Handlers, lambda_context: FakeLambdaContext
) -> None:
    event = load_event("lead_scored_sqs_event.json")
    detail = json.loads(event["Records"][0]["body"])["detail"]
    amplitude_before = local_stack.amplitude.received_count

    for _ in range(3):
        for handler in (handlers.salesforce_sync, handlers.amplitude_events, handlers.hot_lead_alert):
            assert handler.lambda_handler(event, lambda_context) == {"batchItemFailures": []}

    leads = [lead for lead in local_stack.salesforce.records("Lead") if lead["Voice_Lead_Key__c"] == detail["lead_key"]]
    tasks = [
        task for task in local_stack.salesforce.records("Task") if task["Voice_Session_Id__c"] == "trial-call-0001"
    ]
    assert len(leads) == 1 and len(tasks) == 1
    assert (leads[0]["LastName"], leads[0]["Company"], leads[0]["Voice_Lead_Grade__c"]) == ("Lee", "Acme Legal", "A")
    assert leads[0]["LeadSource"] == "Voice Agent"
    assert tasks[0]["WhoId"] == leads[0]["Id"] and tasks[0]["Status"] == "Completed"
    sent = [e for e in local_stack.amplitude.events if e["insert_id"].startswith("trial-call-0001:")]
    assert sorted(e["event_type"] for e in sent) == sorted(
        ["Voice Call Ended", "Voice Lead Scored", "Sales Meeting Booked", "Knowledge Searched"]
    )
    assert local_stack.amplitude.received_count - amplitude_before == 4  # nothing was even re-sent
    [alert] = alerts_for(local_stack, "trial-call-0001")
    assert alert["Subject"] == "Hot lead: Acme Legal - grade A, score 77"
    assert alert["MessageAttributes"]["grade"] == {"Type": "String", "Value": "A"}
    assert alert["MessageAttributes"]["score"] == {"Type": "Number", "Value": "77"}
    assert "dana.lee@example.com" in alert["Message"]


def test_salesforce_outage_fails_only_that_item_and_the_redelivery_succeeds(
    local_stack: LocalStack, handlers: Handlers, lambda_context: FakeLambdaContext
) -> None:
    first, second = unique_session_id(), unique_session_id()
    event = sqs_event([lead_scored_body(first), lead_scored_body(second)])
    local_stack.salesforce.fail_next(1, 503, "SERVER_UNAVAILABLE")

    result = handlers.salesforce_sync.lambda_handler(event, lambda_context)

    assert result == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    tasks = {task["Voice_Session_Id__c"] for task in local_stack.salesforce.records("Task")}
    assert second in tasks and first not in tasks
    redelivery = sqs_event([event["Records"][0]["body"]])
    assert handlers.salesforce_sync.lambda_handler(redelivery, lambda_context) == {"batchItemFailures": []}
    assert first in {task["Voice_Session_Id__c"] for task in local_stack.salesforce.records("Task")}


def test_salesforce_validation_error_goes_to_the_dlq_with_the_reason_and_is_not_retried(
    local_stack: LocalStack, handlers: Handlers, lambda_context: FakeLambdaContext
) -> None:
    session_id = unique_session_id()
    local_stack.salesforce.fail_next(1, 400, "STRING_TOO_LONG", "Company: data value too large")

    result = handlers.salesforce_sync.lambda_handler(sqs_event([lead_scored_body(session_id)]), lambda_context)

    assert result == {"batchItemFailures": []}
    [dead] = dead_letters_for(local_stack, "salesforce_sync")
    assert "STRING_TOO_LONG" in dead["MessageAttributes"]["FailureReason"]["StringValue"]
    assert dead["MessageAttributes"]["SessionId"]["StringValue"] == session_id


def test_salesforce_expired_session_logs_in_again_once(
    local_stack: LocalStack, handlers: Handlers, lambda_context: FakeLambdaContext
) -> None:
    handlers.salesforce_sync.lambda_handler(sqs_event([lead_scored_body(unique_session_id())]), lambda_context)
    local_stack.salesforce.expire_sessions()
    session_id = unique_session_id()

    result = handlers.salesforce_sync.lambda_handler(sqs_event([lead_scored_body(session_id)]), lambda_context)

    assert result == {"batchItemFailures": []}
    assert session_id in {task["Voice_Session_Id__c"] for task in local_stack.salesforce.records("Task")}


def test_amplitude_throttling_is_retried_before_the_function_returns(
    local_stack: LocalStack, handlers: Handlers, lambda_context: FakeLambdaContext
) -> None:
    session_id = unique_session_id()
    local_stack.amplitude.fail_next(1, 429)

    result = handlers.amplitude_events.lambda_handler(sqs_event([lead_scored_body(session_id)]), lambda_context)

    assert result == {"batchItemFailures": []}
    assert len([e for e in local_stack.amplitude.events if e["insert_id"].startswith(f"{session_id}:")]) == 4


def test_amplitude_outage_fails_the_item_so_sqs_redelivers_it(
    local_stack: LocalStack, handlers: Handlers, lambda_context: FakeLambdaContext
) -> None:
    session_id = unique_session_id()
    event = sqs_event([lead_scored_body(session_id)])
    local_stack.amplitude.fail_next(50, 503)
    try:
        # Every record of the batch failed, so Powertools fails the invocation: the whole batch goes back.
        with pytest.raises(BatchProcessingError, match="All records failed"):
            handlers.amplitude_events.lambda_handler(event, lambda_context)
    finally:
        local_stack.amplitude.reset_faults()

    assert handlers.amplitude_events.lambda_handler(event, lambda_context) == {"batchItemFailures": []}
    assert len([e for e in local_stack.amplitude.events if e["insert_id"].startswith(f"{session_id}:")]) == 4


def test_cold_lead_gets_no_alert(
    local_stack: LocalStack, handlers: Handlers, lambda_context: FakeLambdaContext
) -> None:
    session_id = unique_session_id()

    result = handlers.hot_lead_alert.lambda_handler(
        sqs_event([lead_scored_body(session_id, hot=False)]), lambda_context
    )

    assert result == {"batchItemFailures": []}
    assert alerts_for(local_stack, session_id) == []


def test_consumer_sends_a_body_that_is_not_lead_scored_to_the_dlq(
    local_stack: LocalStack, handlers: Handlers, lambda_context: FakeLambdaContext
) -> None:
    result = handlers.hot_lead_alert.lambda_handler(sqs_event(["not json at all"]), lambda_context)

    assert result == {"batchItemFailures": []}
    [dead] = dead_letters_for(local_stack, "hot_lead_alert")
    assert "not a 'Lead Scored' event" in dead["MessageAttributes"]["FailureReason"]["StringValue"]
