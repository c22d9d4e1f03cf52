"""salesforce_sync: SQS ("Lead Scored") -> upsert the Lead and the call's Task in Salesforce."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from functions.common.cold_start import init_done
from functions.common.events import LeadScoredDetail, parse_lead_scored_body
from functions.common.failures import PermanentFailure, dead_letter
from functions.common.lambda_kit import TRACED_LIBRARIES, lambda_kit
from functions.common.salesforce import SalesforceCredentials, SalesforceGateway
from functions.common.secrets import parse_secret, secrets_provider
from functions.common.settings import salesforce_sync_settings
from functions.salesforce_sync.logic import sync_session

CONSUMER = "salesforce_sync"
SECRET_MAX_AGE_SECONDS = 300

settings = salesforce_sync_settings()
kit = lambda_kit(
    CONSUMER,
    settings,
    traced_libraries=(*TRACED_LIBRARIES, "requests"),  # simple-salesforce calls Salesforce through requests
)
logger, tracer, metrics = kit.logger, kit.tracer, kit.metrics


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


@kit.once_per_session
def sync_once(*, session_id: str, detail: LeadScoredDetail) -> dict[str, Any]:
    """Sync a session once, keyed on the session id (never on the delivery's message id)."""
    outcome = sync_session(detail, gateway(), settings)
    logger.info("Salesforce sync done", extra={"session_id": session_id, **outcome.as_dict()})
    return outcome.as_dict()


@tracer.capture_method
def record_handler(record: SQSRecord) -> None:
    """One SQS message; the parameter must be called `record` (BatchProcessor passes it by keyword)."""
    try:
        detail = parse_lead_scored_body(record.body)
        sync_once(session_id=detail.session_id, detail=detail)
    except PermanentFailure as failure:
        dead_letter(record, failure, CONSUMER, settings.dead_letter_queue_url, logger, metrics)


lambda_handler = kit.sqs_handler(record_handler)

init_done()  # the last statement of init: see functions/common/cold_start.py
