"""The real handlers, fed the events/ payloads, against moto (server mode) and the Salesforce/Amplitude emulators.

Each test invokes one handler directly and ends with its ledger (tests/integration/ledger.py), told which functions
saw each session: everything they did is accounted for, nothing else happened, and the far ends saw exactly the
calls the scenario explains.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib
import json
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from functions.common.record import partition_key
from functions.score_lead.storage import gzip_ndjson
from tests.integration.conftest import BUCKET, FakeLambdaContext, Handlers, LocalStack
from tests.integration.ledger import Ledger, every_scenario_closes_a_ledger
from tests.integration.test_faults import far_side_errors
from tests.samples import example_record_data, load_event, sqs_event

pytestmark = pytest.mark.integration

SAMPLE_SESSION = "trial-call-0001"  # the session of events/*.json
# How many times amplitude_events sends each event against an outage: the first and two retries (amplitude-analytics
# gives an event up once its retry count reaches flush_max_retries, which is amplitude_max_retries, 3).
OUTAGE_SENDS = 3


@pytest.fixture
def ledger(local_stack: LocalStack) -> Iterator[Ledger]:
    """The test's ledger, opened before it runs; the test closes it."""
    opened: list[Ledger] = []
    with every_scenario_closes_a_ledger(opened):
        opened.append(local_stack.ledger())
        yield opened[0]


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


def lead_scored_body(session_id: str, *, hot: bool = True, own_caller: bool = False) -> str:
    """The example "Lead Scored" event for `session_id`; with `own_caller`, from a caller of its own (a lead key
    derived from the session id) instead of the example's."""
    event = json.loads(load_event("lead_scored_sqs_event.json")["Records"][0]["body"])
    event["id"] = str(uuid.uuid4())
    detail = event["detail"]
    detail["session_id"] = session_id
    detail["hot"] = hot
    if own_caller:
        detail["lead_key"] = hashlib.sha256(session_id.encode()).hexdigest()
    return json.dumps(event)


def bus_events_for(stack: LocalStack, queue_url: str, session_id: str) -> list[dict[str, Any]]:
    events = [json.loads(message["Body"]) for message in stack.drain(queue_url)]
    return [event for event in events if event["detail"]["session_id"] == session_id]


# ----------------------------------------------------------------------------------------------- score_lead

SCORE_LEAD_ONLY: tuple[str, ...] = ()  # no consumer ran: score_lead's outcome only


def test_score_lead_scores_the_sample_event_writes_scored_record_and_puts_lead_scored(
    local_stack: LocalStack, handlers: Handlers, lambda_context: FakeLambdaContext, ledger: Ledger
) -> None:
    event = load_event("score_lead_sqs_event.json")
    key = json.loads(event["Records"][0]["body"])["detail"]["object"]["key"]
    local_stack.s3.put_object(Bucket=BUCKET, Key=key, Body=gzip_ndjson(example_record_data()))

    result = handlers.score_lead.lambda_handler(event, lambda_context)

    assert result == {"batchItemFailures": []}
    scored_key = f"scored/year=2026/month=11/day=20/{SAMPLE_SESSION}.json.gz"
    scored = json.loads(gzip.decompress(local_stack.s3.get_object(Bucket=BUCKET, Key=scored_key)["Body"].read()))
    assert scored["session_id"] == SAMPLE_SESSION
    assert scored["scoring"]["grade"] == "A" and scored["scoring"]["hot"] is True
    published = bus_events_for(local_stack, local_stack.lead_scored_tap_url, SAMPLE_SESSION)
    assert len(published) == 1
    detail = published[0]["detail"]
    assert published[0]["detail-type"] == "Lead Scored"
    assert detail["scored_object"] == {"bucket": BUCKET, "key": scored_key, "version_id": None}
    assert detail["session_object"]["key"] == key
    assert len(json.dumps(detail)) < 64 * 1024
    assert len(bus_events_for(local_stack, local_stack.hot_rule_tap_url, SAMPLE_SESSION)) == 1
    ledger.effects(SAMPLE_SESSION, consumers=SCORE_LEAD_ONLY)
    ledger.close()


def test_same_object_event_delivered_three_times_is_scored_and_published_once(
    local_stack: LocalStack, handlers: Handlers, lambda_context: FakeLambdaContext, ledger: Ledger
) -> None:
    session_id = unique_session_id()
    key = put_session(local_stack, session_id)

    for _ in range(3):
        # A redelivery has a new message id and event id: idempotency keys on the session id.
        result = handlers.score_lead.lambda_handler(sqs_event([object_created_body(key)]), lambda_context)
        assert result == {"batchItemFailures": []}

    assert len(bus_events_for(local_stack, local_stack.lead_scored_tap_url, session_id)) == 1
    ledger.effects(session_id, consumers=SCORE_LEAD_ONLY)  # one scored version
    ledger.close()


def test_cold_lead_is_published_but_does_not_match_the_hot_rule(
    local_stack: LocalStack, handlers: Handlers, lambda_context: FakeLambdaContext, ledger: Ledger
) -> None:
    session_id = unique_session_id()
    key = put_session(local_stack, session_id, signals={"team_size": 2}, tool_calls=[], contact=None)

    handlers.score_lead.lambda_handler(sqs_event([object_created_body(key)]), lambda_context)

    published = bus_events_for(local_stack, local_stack.lead_scored_tap_url, session_id)
    assert [event["detail"]["hot"] for event in published] == [False]
    assert bus_events_for(local_stack, local_stack.hot_rule_tap_url, session_id) == []
    ledger.effects(session_id, hot=False, consumers=SCORE_LEAD_ONLY)
    ledger.close()


def test_malformed_object_is_quarantined_with_its_reason_and_the_rest_of_the_batch_goes_on(
    local_stack: LocalStack, handlers: Handlers, lambda_context: FakeLambdaContext, ledger: Ledger
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
    assert len(bus_events_for(local_stack, local_stack.lead_scored_tap_url, good_id)) == 1
    ledger.quarantined(bad_key, "not gzip")  # the sidecar names the source key and the reason
    ledger.effects(good_id, consumers=SCORE_LEAD_ONLY)
    ledger.close()


def test_schema_violation_is_quarantined_naming_the_field(
    local_stack: LocalStack, handlers: Handlers, lambda_context: FakeLambdaContext, ledger: Ledger
) -> None:
    key = put_session(local_stack, unique_session_id(), duration_s=-5)

    result = handlers.score_lead.lambda_handler(sqs_event([object_created_body(key)]), lambda_context)

    assert result == {"batchItemFailures": []}
    ledger.quarantined(key, "duration_s")
    ledger.close()


def test_score_lead_reports_only_the_failed_item_of_a_batch(
    local_stack: LocalStack, handlers: Handlers, lambda_context: FakeLambdaContext, ledger: Ledger
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
    ledger.effects(good_id, consumers=SCORE_LEAD_ONLY)  # the failed item left nothing anywhere: SQS retries it
    ledger.close()


def test_message_that_is_not_an_s3_event_goes_to_the_dlq_with_the_reason(
    local_stack: LocalStack, handlers: Handlers, lambda_context: FakeLambdaContext, ledger: Ledger
) -> None:
    event = sqs_event(['{"hello": "world"}'])

    result = handlers.score_lead.lambda_handler(event, lambda_context)

    assert result == {"batchItemFailures": []}
    ledger.dead_lettered("score_lead", "not an S3 'Object Created'", body='{"hello": "world"}')
    [dead] = ledger.close().dead_letters
    assert dead["MessageAttributes"]["OriginalMessageId"]["StringValue"] == event["Records"][0]["messageId"]


# ------------------------------------------------------------------------------------------------- consumers


def test_same_lead_scored_event_delivered_three_times_gives_one_lead_one_task_one_event_set_and_one_alert(
    local_stack: LocalStack, handlers: Handlers, lambda_context: FakeLambdaContext, ledger: Ledger
) -> None:
    event = load_event("lead_scored_sqs_event.json")
    detail = json.loads(event["Records"][0]["body"])["detail"]

    for _ in range(3):
        for handler in (handlers.salesforce_sync, handlers.amplitude_events, handlers.hot_lead_alert):
            assert handler.lambda_handler(event, lambda_context) == {"batchItemFailures": []}

    # One Lead upsert, one Task upsert, one Amplitude upload, one alert: the second and third deliveries reached
    # no far end.
    ledger.effects(SAMPLE_SESSION, scored=False)
    tally = ledger.close()
    assert (len(tally.salesforce_data_calls), tally.amplitude_uploads, tally.sns_publishes) == (2, [200], 1)
    leads = [lead for lead in local_stack.salesforce.records("Lead") if lead["Voice_Lead_Key__c"] == detail["lead_key"]]
    tasks = [task for task in local_stack.salesforce.records("Task") if task["Voice_Session_Id__c"] == SAMPLE_SESSION]
    assert (leads[0]["LastName"], leads[0]["Company"], leads[0]["Voice_Lead_Grade__c"]) == ("Lee", "Acme Legal", "A")
    assert leads[0]["LeadSource"] == "Voice Agent"
    assert tasks[0]["WhoId"] == leads[0]["Id"] and tasks[0]["Status"] == "Completed"
    sent = [e for e in local_stack.amplitude.events if e["insert_id"].startswith(f"{SAMPLE_SESSION}:")]
    assert sorted(e["event_type"] for e in sent) == sorted(
        ["Voice Call Ended", "Voice Lead Scored", "Sales Meeting Booked", "Knowledge Searched"]
    )
    [alert] = local_stack.outbox.for_session(SAMPLE_SESSION)
    assert alert["Subject"] == "Hot lead: Acme Legal - grade A, score 77"
    assert alert["MessageAttributes"]["grade"] == {"Type": "String", "Value": "A"}
    assert alert["MessageAttributes"]["score"] == {"Type": "Number", "Value": "77"}
    assert "dana.lee@example.com" in alert["Message"]


def test_a_batch_is_synced_in_one_lead_call_and_one_task_call(
    local_stack: LocalStack, handlers: Handlers, lambda_context: FakeLambdaContext, ledger: Ledger
) -> None:
    sids = [unique_session_id() for _ in range(4)]

    result = handlers.salesforce_sync.lambda_handler(
        sqs_event([lead_scored_body(sid, own_caller=True) for sid in sids]), lambda_context
    )

    assert result == {"batchItemFailures": []}
    for sid in sids:
        ledger.effects(sid, scored=False, consumers=["salesforce_sync"])
    tally = ledger.close()
    assert [(call.sobject, len(call.external_ids), call.status) for call in tally.salesforce_collection_calls] == [
        ("Lead", 4, 200),
        ("Task", 4, 200),
    ]


def test_a_record_salesforce_rejects_goes_to_the_dlq_with_its_reason_and_the_others_are_synced(
    local_stack: LocalStack, handlers: Handlers, lambda_context: FakeLambdaContext, ledger: Ledger
) -> None:
    sids = [unique_session_id() for _ in range(3)]
    victim = sids[1]
    local_stack.salesforce.reject_records(
        "Lead", "Voice_Last_Session_Id__c", victim, message="Company: must not be a test company"
    )
    event = sqs_event([lead_scored_body(sid, own_caller=True) for sid in sids])

    result = handlers.salesforce_sync.lambda_handler(event, lambda_context)

    assert result == {"batchItemFailures": []}  # the rejected record is done: it is in the DLQ, not retried
    ledger.effects(sids[0], scored=False, consumers=["salesforce_sync"])
    ledger.effects(
        victim,
        scored=False,
        consumers=["salesforce_sync"],
        dead_letter={"salesforce_sync": "FIELD_CUSTOM_VALIDATION_EXCEPTION: Company: must not be a test company"},
    )
    ledger.effects(sids[2], scored=False, consumers=["salesforce_sync"])
    tally = ledger.close()
    assert tally.salesforce_rejections_served == 1
    assert [call.external_ids for call in tally.salesforce_collection_calls][1] == (sids[0], sids[2])  # Tasks
    [dead] = tally.dead_letters
    attributes = dead["MessageAttributes"]
    assert attributes["OriginalMessageId"]["StringValue"] == event["Records"][1]["messageId"]
    assert attributes["SessionId"]["StringValue"] == victim
    assert attributes["FailedBy"]["StringValue"] == "salesforce_sync"


def test_a_redelivery_makes_no_second_collection_call(
    local_stack: LocalStack, handlers: Handlers, lambda_context: FakeLambdaContext, ledger: Ledger
) -> None:
    """The bodies of a synced batch come again as new messages, with one new session among them: the collection calls
    carry the new session only."""
    synced = [unique_session_id() for _ in range(3)]
    handlers.salesforce_sync.lambda_handler(
        sqs_event([lead_scored_body(sid, own_caller=True) for sid in synced]), lambda_context
    )
    for sid in synced:
        ledger.effects(sid, scored=False, consumers=["salesforce_sync"])
    ledger.close()
    again = local_stack.ledger()
    new = unique_session_id()

    result = handlers.salesforce_sync.lambda_handler(
        sqs_event([lead_scored_body(sid, own_caller=True) for sid in [*synced, new, synced[0]]]), lambda_context
    )

    assert result == {"batchItemFailures": []}
    again.effects(new, scored=False, consumers=["salesforce_sync"])  # the others: no call, nothing new
    tally = again.close()
    assert [call.external_ids for call in tally.salesforce_collection_calls] == [
        (hashlib.sha256(new.encode()).hexdigest(),),
        (new,),
    ]


def test_a_crash_between_the_calls_and_the_idempotency_record_costs_a_repeat_call_and_no_duplicate(
    local_stack: LocalStack, handlers: Handlers, ledger: Ledger
) -> None:
    """Salesforce has the session but its idempotency record could not be completed (what a crash at that moment
    leaves): the record fails, and once its claim has expired the redelivery upserts the same external ids again,
    which changes nothing at the far end."""
    crashed, fine = unique_session_id(), unique_session_id()
    crashed_key = f"salesforce_sync#{hashlib.md5(json.dumps(crashed).encode()).hexdigest()}"
    event = sqs_event([lead_scored_body(crashed, own_caller=True), lead_scored_body(fine, own_caller=True)])
    dynamodb = importlib.import_module("functions.common.aws").idempotency_dynamodb_client()

    with far_side_errors(
        dynamodb, "UpdateItem", 400, "ValidationException", 1, lambda request: crashed_key in request.body.decode()
    ) as hits:
        # An invocation about to time out: its claims expire at once, so the redelivery may claim again.
        result = handlers.salesforce_sync.lambda_handler(event, FakeLambdaContext(remaining_ms=1))

    assert hits == [1]
    assert result == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    redelivery = sqs_event([event["Records"][0]["body"]])
    assert handlers.salesforce_sync.lambda_handler(redelivery, FakeLambdaContext()) == {"batchItemFailures": []}
    ledger.effects(crashed, scored=False, consumers=["salesforce_sync"], lead_calls=2, task_calls=2)
    ledger.effects(fine, scored=False, consumers=["salesforce_sync"])
    ledger.close()  # one Lead and one Task for `crashed`, carried by two calls of each kind


def test_a_salesforce_outage_fails_the_batch_and_its_redelivery_succeeds(
    local_stack: LocalStack, handlers: Handlers, lambda_context: FakeLambdaContext, ledger: Ledger
) -> None:
    first, second = unique_session_id(), unique_session_id()
    event = sqs_event([lead_scored_body(first, own_caller=True), lead_scored_body(second, own_caller=True)])
    local_stack.salesforce.fail_next(1, 503, "SERVER_UNAVAILABLE")

    # The one Lead call carried both records: both failed, so Powertools fails the invocation (the batch comes back).
    with pytest.raises(BatchProcessingError, match="All records failed"):
        handlers.salesforce_sync.lambda_handler(event, lambda_context)

    assert handlers.salesforce_sync.lambda_handler(event, lambda_context) == {"batchItemFailures": []}
    ledger.effects(first, scored=False, consumers=["salesforce_sync"], lead_calls=2)  # refused once, then done
    ledger.effects(second, scored=False, consumers=["salesforce_sync"], lead_calls=2)
    assert ledger.close().salesforce_faults_served == 1


def test_a_locked_row_fails_only_its_item_and_the_redelivery_succeeds(
    local_stack: LocalStack, handlers: Handlers, lambda_context: FakeLambdaContext, ledger: Ledger
) -> None:
    locked, other = unique_session_id(), unique_session_id()
    event = sqs_event([lead_scored_body(locked, own_caller=True), lead_scored_body(other, own_caller=True)])
    local_stack.salesforce.reject_records("Lead", "Voice_Last_Session_Id__c", locked, "UNABLE_TO_LOCK_ROW", "locked")

    result = handlers.salesforce_sync.lambda_handler(event, lambda_context)

    assert result == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    local_stack.salesforce.reset_faults()
    assert handlers.salesforce_sync.lambda_handler(sqs_event([event["Records"][0]["body"]]), lambda_context) == {
        "batchItemFailures": []
    }
    ledger.effects(locked, scored=False, consumers=["salesforce_sync"], lead_calls=2)
    ledger.effects(other, scored=False, consumers=["salesforce_sync"])
    assert ledger.close().salesforce_rejections_served == 1


def test_salesforce_refusing_a_whole_call_sends_its_records_to_the_dlq_with_the_reason(
    local_stack: LocalStack, handlers: Handlers, lambda_context: FakeLambdaContext, ledger: Ledger
) -> None:
    session_id = unique_session_id()
    local_stack.salesforce.fail_next(1, 400, "STRING_TOO_LONG", "Company: data value too large")

    result = handlers.salesforce_sync.lambda_handler(sqs_event([lead_scored_body(session_id)]), lambda_context)

    assert result == {"batchItemFailures": []}
    ledger.effects(
        session_id, scored=False, consumers=["salesforce_sync"], dead_letter={"salesforce_sync": "STRING_TOO_LONG"}
    )
    tally = ledger.close()
    assert [status for _, _, status in tally.salesforce_data_calls] == [400]
    [dead] = tally.dead_letters
    assert dead["MessageAttributes"]["FailedBy"]["StringValue"] == "salesforce_sync"


def test_salesforce_expired_session_logs_in_again_once(
    local_stack: LocalStack, handlers: Handlers, lambda_context: FakeLambdaContext, ledger: Ledger
) -> None:
    warm = unique_session_id()
    handlers.salesforce_sync.lambda_handler(sqs_event([lead_scored_body(warm)]), lambda_context)
    ledger.effects(warm, scored=False, consumers=["salesforce_sync"])
    ledger.close()
    local_stack.salesforce.expire_sessions()
    after_expiry = local_stack.ledger()
    session_id = unique_session_id()

    result = handlers.salesforce_sync.lambda_handler(sqs_event([lead_scored_body(session_id)]), lambda_context)

    assert result == {"batchItemFailures": []}
    after_expiry.effects(session_id, scored=False, consumers=["salesforce_sync"], lead_calls=2)
    tally = after_expiry.close()
    assert tally.salesforce_logins == 1
    assert [status for _, _, status in tally.salesforce_data_calls] == [401, 200, 200]


def test_amplitude_throttling_is_retried_before_the_function_returns(
    local_stack: LocalStack, handlers: Handlers, lambda_context: FakeLambdaContext, ledger: Ledger
) -> None:
    session_id = unique_session_id()
    local_stack.amplitude.fail_next(1, 429)

    result = handlers.amplitude_events.lambda_handler(sqs_event([lead_scored_body(session_id)]), lambda_context)

    assert result == {"batchItemFailures": []}
    ledger.effects(session_id, scored=False, consumers=["amplitude_events"], amplitude_sends=2)
    assert ledger.close().amplitude_faults_served == 1


def test_amplitude_outage_fails_the_item_so_sqs_redelivers_it(
    local_stack: LocalStack, handlers: Handlers, lambda_context: FakeLambdaContext, ledger: Ledger
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
    # The client's own retries all met the outage; the redelivery's upload went through.
    ledger.effects(session_id, scored=False, consumers=["amplitude_events"], amplitude_sends=OUTAGE_SENDS + 1)
    tally = ledger.close()
    assert set(tally.amplitude_uploads[:-1]) == {503} and tally.amplitude_uploads[-1] == 200
    assert tally.amplitude_faults_served == len(tally.amplitude_uploads) - 1


def test_cold_lead_gets_no_alert(
    local_stack: LocalStack, handlers: Handlers, lambda_context: FakeLambdaContext, ledger: Ledger
) -> None:
    session_id = unique_session_id()

    result = handlers.hot_lead_alert.lambda_handler(
        sqs_event([lead_scored_body(session_id, hot=False)]), lambda_context
    )

    assert result == {"batchItemFailures": []}
    ledger.effects(session_id, hot=False, scored=False, consumers=["hot_lead_alert"])
    assert ledger.close().sns_publishes == 0


def test_consumer_sends_a_body_that_is_not_lead_scored_to_the_dlq(
    local_stack: LocalStack, handlers: Handlers, lambda_context: FakeLambdaContext, ledger: Ledger
) -> None:
    result = handlers.hot_lead_alert.lambda_handler(sqs_event(["not json at all"]), lambda_context)

    assert result == {"batchItemFailures": []}
    ledger.dead_lettered("hot_lead_alert", "not a 'Lead Scored' event", body="not json at all")
    ledger.close()
