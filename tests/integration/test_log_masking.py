"""No email address or phone number reaches a log line: the real handlers, fed records full of both, against moto
and the Salesforce emulator, with every log line captured (the handlers' own JSON lines through their own
formatter, and every other logger of the process through a root handler that prints extras and tracebacks too).

Each scenario also checks that the personal data really was in play (it reached S3, SNS, the DLQ or the log line
in masked form), so a test cannot pass just because nothing was logged.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import logging
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import pytest
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from functions.common.record import partition_key
from functions.score_lead.storage import gzip_ndjson
from tests.integration.conftest import BUCKET, FakeLambdaContext, Handlers, LocalStack
from tests.log_format import EverythingFormatter
from tests.samples import example_record_data, load_event, sqs_event

pytestmark = pytest.mark.integration

EMAIL = "dana.private@example.com"
PHONE = "+1 415 555 0123"
# The phone number in any spelling: spaces, dashes, dots, none.
PHONE_ANY_FORM = re.compile(r"415\D{0,3}555\D{0,3}0123")
# Library loggers whose records the handlers' process may write; botocore stays at its default (WARNING).
LIBRARY_LOGGERS = ("aws_lambda_powertools", "amplitude", "simple_salesforce", "urllib3")


@contextmanager
def captured_logs(logger: Logger) -> Iterator[io.StringIO]:
    """Every line `logger` (a handler's Powertools Logger, at DEBUG) and the rest of the process write."""
    stream = io.StringIO()
    own = logging.StreamHandler(stream)
    own.setFormatter(logger.registered_formatter)
    everything = logging.StreamHandler(stream)
    everything.setFormatter(EverythingFormatter("%(levelname)s %(name)s %(message)s"))
    # No SuppressFilter here (on Lambda, Powertools puts one on the runtime's root handler so that its records are
    # written once): the handlers' records reach this handler too, extras and all, which is the stricter test.
    root = logging.getLogger()
    saved = (logger.log_level, {name: logging.getLogger(name).level for name in LIBRARY_LOGGERS})
    logger.addHandler(own)
    logger.setLevel("DEBUG")
    root.addHandler(everything)
    for name in LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        logger.removeHandler(own)
        logger.setLevel(saved[0])
        root.removeHandler(everything)
        for name, level in saved[1].items():
            logging.getLogger(name).setLevel(level)


def assert_no_personal_data(output: str) -> None:
    assert output.strip(), "nothing was logged: the scenario did not exercise the loggers"
    assert EMAIL not in output, [line for line in output.splitlines() if EMAIL in line]
    assert "dana.private" not in output
    assert not PHONE_ANY_FORM.search(output), PHONE_ANY_FORM.search(output)


def sip_session_id() -> str:
    """What a SIP room name becomes as a session id: the caller's number inside it (see agent/collector.py).

    The tail stands for the job id and, like LiveKit's ("AJ_..."), starts with letters: eight bare random hex
    digits are all decimal digits one time in 43 and are then rightly masked as a phone number.
    """
    return f"call-_-14155550123_AJ{uuid.uuid4().hex[:8]}"


def lead_scored_body(session_id: str, *, hot: bool = True, own_caller: bool = False) -> str:
    """A "Lead Scored" event whose contact, quotes and session id carry the email and the phone number; with
    `own_caller`, under a lead key of its own (salesforce_sync sends one Lead record per caller and batch)."""
    event = json.loads(load_event("lead_scored_sqs_event.json")["Records"][0]["body"])
    event["id"] = str(uuid.uuid4())
    detail = event["detail"]
    detail.update(session_id=session_id, hot=hot)
    if own_caller:
        detail["lead_key"] = hashlib.sha256(session_id.encode()).hexdigest()
    detail["contact"]["email"] = EMAIL
    detail["signals"]["evidence"][0]["quote"] = f"We're a team of 12, call me on {PHONE}"
    detail["tool_calls"][0]["query"] = f"can you email {EMAIL}"
    return json.dumps(event)


def session_with_personal_data(session_id: str, **changes: Any) -> dict[str, Any]:
    data = example_record_data()
    data.update(session_id=session_id, transcript_mode="full", **changes)
    data["contact"]["email"] = EMAIL
    data["signals"]["evidence"][0]["text"] = f"We're a team of 12, call me on {PHONE}"
    data["transcript"] = [
        {"index": 0, "role": "user", "text": f"I'm Dana, {EMAIL}, my number is {PHONE}"},
        {"index": 1, "role": "assistant", "text": "Thanks Dana, I have booked the call."},
    ]
    return data


def put_session(stack: LocalStack, data: dict[str, Any]) -> str:
    key = partition_key("sessions", datetime.fromisoformat(data["started_at"]), data["session_id"])
    stack.s3.put_object(Bucket=BUCKET, Key=key, Body=gzip_ndjson(data))
    return key


def object_created_body(key: str) -> str:
    event = json.loads(load_event("score_lead_sqs_event.json")["Records"][0]["body"])
    event["id"] = str(uuid.uuid4())
    event["detail"]["bucket"]["name"] = BUCKET
    event["detail"]["object"]["key"] = key
    return json.dumps(event)


def drain(stack: LocalStack, queue_url: str) -> list[dict[str, Any]]:
    return stack.drain(queue_url)


# ------------------------------------------------------------------------------------------------ score_lead


def test_score_lead_logs_neither_email_nor_phone(
    local_stack: LocalStack, handlers: Handlers, lambda_context: FakeLambdaContext
) -> None:
    scored_id, invalid_id, missing_id = sip_session_id(), sip_session_id(), sip_session_id()
    scored_key = put_session(local_stack, session_with_personal_data(scored_id))
    # A record the contract rejects, with the personal data in the very value the reason quotes.
    invalid_key = put_session(local_stack, session_with_personal_data(invalid_id, schema_version=f"{EMAIL} {PHONE}"))
    missing_key = scored_key.replace(scored_id, missing_id)
    event = sqs_event([object_created_body(key) for key in (scored_key, invalid_key, missing_key)])

    with captured_logs(handlers.score_lead.logger) as logs:
        result = handlers.score_lead.lambda_handler(event, lambda_context)

    assert result == {"batchItemFailures": []}
    output = logs.getvalue()
    assert_no_personal_data(output)
    # The scored record (S3 is not a log) keeps what the caller said; the logs name the sessions, masked.
    scored = local_stack.s3.get_object(Bucket=BUCKET, Key=scored_key.replace("sessions/", "scored/", 1))
    assert EMAIL in gzip.decompress(scored["Body"].read()).decode()
    assert "Lead scored" in output and "Invalid session object quarantined" in output
    assert "Session object is gone" in output
    assert scored_id.rsplit("_", 1)[1] in output  # the session is still identifiable by the rest of its id
    assert "call-_-[phone]_" in output
    sidecar = json.loads(
        local_stack.s3.get_object(Bucket=BUCKET, Key=f"quarantine/{invalid_key}.reason.json")["Body"].read()
    )
    assert EMAIL in sidecar["reason"]  # the reason itself was full of personal data
    drain(local_stack, local_stack.lead_scored_tap_url)
    drain(local_stack, local_stack.hot_rule_tap_url)


# ------------------------------------------------------------------------------------------------ consumers


def test_salesforce_sync_logs_neither_email_nor_phone(
    local_stack: LocalStack, handlers: Handlers, lambda_context: FakeLambdaContext
) -> None:
    rejected, retried, synced = sip_session_id(), sip_session_id(), sip_session_id()
    event = sqs_event([lead_scored_body(session_id, own_caller=True) for session_id in (rejected, retried, synced)])
    # Salesforce quotes the offending value in its error messages, as the real API does.
    salesforce = local_stack.salesforce
    salesforce.reject_records(
        "Lead", "Voice_Last_Session_Id__c", rejected, "INVALID_EMAIL_ADDRESS", f"Email: invalid email address: {EMAIL}"
    )
    salesforce.reject_records(
        "Lead", "Voice_Last_Session_Id__c", retried, "UNABLE_TO_LOCK_ROW", f"busy; caller {PHONE} will be retried"
    )

    try:
        with captured_logs(handlers.salesforce_sync.logger) as logs:
            result = handlers.salesforce_sync.lambda_handler(event, lambda_context)
    finally:
        salesforce.reset_faults()

    assert result == {"batchItemFailures": [{"itemIdentifier": event["Records"][1]["messageId"]}]}
    output = logs.getvalue()
    assert_no_personal_data(output)
    assert "Permanent failure" in output and "INVALID_EMAIL_ADDRESS" in output and "[email]" in output
    assert "Salesforce sync done" in output
    [dead] = [
        message
        for message in local_stack.drain(local_stack.dlq_url)
        if message["MessageAttributes"]["FailedBy"]["StringValue"] == "salesforce_sync"
    ]
    # The reason is masked as a log line is (the message body, the event itself, is kept whole for the redrive).
    reason = dead["MessageAttributes"]["FailureReason"]["StringValue"]
    assert EMAIL not in reason and "INVALID_EMAIL_ADDRESS" in reason and "[email]" in reason
    assert EMAIL in dead["Body"]
    [lead] = [lead for lead in local_stack.salesforce.records("Task") if lead["Voice_Session_Id__c"] == synced]
    assert EMAIL in lead["Description"]


def test_hot_lead_alert_logs_neither_email_nor_phone(
    local_stack: LocalStack, handlers: Handlers, lambda_context: FakeLambdaContext
) -> None:
    hot, cold = sip_session_id(), sip_session_id()
    not_an_event = json.dumps({"detail": {"contact": {"email": EMAIL, "name": f"Dana {PHONE}"}}})
    event = sqs_event([lead_scored_body(hot), lead_scored_body(cold, hot=False), not_an_event])

    with captured_logs(handlers.hot_lead_alert.logger) as logs:
        result = handlers.hot_lead_alert.lambda_handler(event, lambda_context)

    assert result == {"batchItemFailures": []}
    output = logs.getvalue()
    assert_no_personal_data(output)
    assert "Hot-lead alert published" in output and "Lead is not hot" in output and "Permanent failure" in output
    alerts = [json.loads(message["Body"]) for message in local_stack.drain(local_stack.alerts_tap_url)]
    [alert] = [note for note in alerts if hot in note["Message"]]
    assert EMAIL in alert["Message"] and PHONE in alert["Message"]  # the email a rep reads is not masked
    dead = [
        message
        for message in local_stack.drain(local_stack.dlq_url)
        if message["MessageAttributes"]["FailedBy"]["StringValue"] == "hot_lead_alert"
    ]
    assert [message["Body"] for message in dead] == [not_an_event]


def test_idempotency_items_are_keyed_by_consumer_prefix(
    local_stack: LocalStack, handlers: Handlers, lambda_context: FakeLambdaContext
) -> None:
    """The roles' dynamodb:LeadingKeys conditions (template.yaml) rely on this key format."""
    import boto3

    session_id = sip_session_id()
    body = lead_scored_body(session_id)
    for module in (handlers.salesforce_sync, handlers.amplitude_events, handlers.hot_lead_alert):
        assert module.lambda_handler(sqs_event([body]), lambda_context) == {"batchItemFailures": []}
    handlers.score_lead.lambda_handler(
        sqs_event([object_created_body(put_session(local_stack, session_with_personal_data(session_id)))]),
        lambda_context,
    )
    items = boto3.client("dynamodb").scan(TableName="voice-analytics-idempotency-local")["Items"]
    prefixes = {item["id"]["S"].split("#", 1)[0] for item in items}
    consumers = {module.CONSUMER for module in vars(handlers).values()}
    assert consumers == {"score_lead", "salesforce_sync", "amplitude_events", "hot_lead_alert"}
    assert prefixes == consumers
    assert all(re.fullmatch(r"[a-z_]+#[0-9a-f]{32}", item["id"]["S"]) for item in items)
    for queue in (local_stack.lead_scored_tap_url, local_stack.hot_rule_tap_url, local_stack.alerts_tap_url):
        drain(local_stack, queue)


def test_an_entirely_failed_batch_fails_the_invocation_without_personal_data(
    local_stack: LocalStack, handlers: Handlers, lambda_context: FakeLambdaContext
) -> None:
    """When every record fails, the exception escapes the handler and Lambda's runtime writes its text to the log
    (errorMessage): it still fails the invocation, with the records' errors masked."""
    local_stack.salesforce.fail_next(1, 503, "SERVER_UNAVAILABLE", f"busy; caller {EMAIL} {PHONE}")
    try:
        with pytest.raises(BatchProcessingError, match="All records failed") as raised:
            handlers.salesforce_sync.lambda_handler(sqs_event([lead_scored_body(sip_session_id())]), lambda_context)
    finally:
        local_stack.salesforce.reset_faults()

    error_message = str(raised.value)
    assert "SERVER_UNAVAILABLE" in error_message and "[email]" in error_message
    assert_no_personal_data(error_message)
    assert raised.value.__cause__ is None and raised.value.__suppress_context__
