"""salesforce_sync: SQS ("Lead Scored") -> the batch's Leads and Tasks upserted in Salesforce, in collection calls.

In two phases around the far-end calls, so that one call serves the batch and idempotency stays per session:
claim each session (a delivery of a session already synced makes no call at all), sync the claimed ones together,
then record each session's completion, or release its claim when its record failed. A crash between the calls and
the completion leaves the claims in progress until the invocation's timeout; the redelivery then upserts the same
external ids again, which changes nothing at the far end."""

from __future__ import annotations

from functools import cache

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from functions.common.cold_start import init_done
from functions.common.events import LeadScoredDetail, parse_lead_scored_body
from functions.common.failures import PermanentFailure, RetryableFailure, dead_letter
from functions.common.lambda_kit import TRACED_LIBRARIES, ClaimState, lambda_kit
from functions.common.salesforce import SalesforceCredentials, SalesforceGateway
from functions.common.secrets import parse_secret, secrets_provider
from functions.common.settings import salesforce_sync_settings
from functions.salesforce_sync.logic import SessionResult, SyncOutcome, sync_batch

CONSUMER = "salesforce_sync"
SECRET_MAX_AGE_SECONDS = 300

settings = salesforce_sync_settings()
kit = lambda_kit(
    CONSUMER,
    settings,
    traced_libraries=(*TRACED_LIBRARIES, "requests"),  # simple-salesforce calls Salesforce through requests
)
logger, tracer, metrics = kit.logger, kit.tracer, kit.metrics
claims = kit.session_claims()


def credentials() -> SalesforceCredentials:
    secret = secrets_provider().get(settings.salesforce_secret_name, transform="json", max_age=SECRET_MAX_AGE_SECONDS)
    return parse_secret(SalesforceCredentials, secret, settings.salesforce_secret_name)


@cache
def gateway() -> SalesforceGateway:
    """One logged-in client per container; credentials come from Secrets Manager (cached five minutes)."""
    return SalesforceGateway(
        credentials,
        api_version=settings.salesforce_api_version,
        timeout_seconds=settings.salesforce_timeout_seconds,
        ca_bundle=settings.salesforce_ca_bundle,
    )


@tracer.capture_method
def sync_records(records: list[SQSRecord]) -> dict[str, Exception]:
    """The batch's failed records by message id (SQS delivers them again); every other record is done: synced,
    synced before, skipped (nothing for sales), or sent to the DLQ with its reason."""
    failures: dict[str, Exception] = {}
    claimed: dict[str, LeadScoredDetail] = {}
    # Each session's first message: a session twice in one batch is synced once, for its first message (which comes
    # back if it fails); the others are done.
    messages: dict[str, SQSRecord] = {}
    for record in records:
        try:
            detail = parse_lead_scored_body(record.body)
        except PermanentFailure as failure:
            send_to_dead_letter_queue(record, failure, failures)
            continue
        if detail.session_id in messages:
            continue
        messages[detail.session_id] = record
        try:
            claim = claims.claim(detail.session_id)
        except Exception as error:  # the idempotency store failed: this record comes back
            failures[record.message_id] = error
            continue
        if claim.state is ClaimState.CLAIMED:
            claimed[detail.session_id] = detail
        elif claim.state is ClaimState.BUSY:
            failures[record.message_id] = RetryableFailure(
                f"session {detail.session_id} is being synced by another invocation; will retry"
            )
        else:
            logger.info("Salesforce sync already done", extra={"session_id": detail.session_id, **(claim.result or {})})
    calls_before = gateway().collection_calls
    try:
        results = sync_batch(list(claimed.values()), gateway(), settings)
    except Exception as error:  # e.g. the secret cannot be read: release every claim, the whole batch comes back
        for session_id in claimed:
            claims.release(session_id, error)
        raise
    logger.info(
        "Salesforce batch synced",
        extra={
            "records": len(records),
            "sessions": len(claimed),
            "salesforce_calls": gateway().collection_calls - calls_before,
        },
    )
    for session_id, result in results.items():
        first = messages[session_id]
        try:
            record_result(session_id, result, first, failures)
        except Exception as error:  # e.g. the idempotency store failed: this record comes back (see the docstring)
            logger.warning(
                "Could not record the Salesforce result; the record will be retried",
                extra={"session_id": session_id, "error": f"{type(error).__name__}: {error}"},
            )
            failures[first.message_id] = error
    return failures


def record_result(
    session_id: str,
    result: SessionResult,
    record: SQSRecord,
    failures: dict[str, Exception],
) -> None:
    """Complete the session's claim (synced or skipped), or release it and report the failure: to the DLQ with its
    reason, or back to SQS."""
    if isinstance(result, SyncOutcome):
        claims.complete(session_id, result.as_dict())
        logger.info("Salesforce sync done", extra={"session_id": session_id, **result.as_dict()})
        return
    claims.release(session_id, result)
    if isinstance(result, PermanentFailure):
        send_to_dead_letter_queue(record, result, failures)
    else:
        failures[record.message_id] = result


def send_to_dead_letter_queue(record: SQSRecord, failure: PermanentFailure, failures: dict[str, Exception]) -> None:
    """The record goes to the DLQ with its reason; if even that fails, the record fails (SQS delivers it again)."""
    try:
        dead_letter(record, failure, CONSUMER, settings.dead_letter_queue_url, logger, metrics)
    except Exception as error:  # reported as the record's failure: it is neither done nor lost
        failures[record.message_id] = error


lambda_handler = kit.sqs_batch_handler(sync_records, claims)

init_done()  # the last statement of init: see functions/common/cold_start.py
