"""amplitude_events: SQS ("Lead Scored") -> Amplitude events, flushed and checked before returning."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from functions.amplitude_events.logic import send_session_events
from functions.common.amplitude import AmplitudeCredentials, AmplitudeSender
from functions.common.cold_start import init_done
from functions.common.events import LeadScoredDetail, parse_lead_scored_body
from functions.common.failures import PermanentFailure, dead_letter
from functions.common.lambda_kit import lambda_kit
from functions.common.secrets import parse_secret, secrets_provider
from functions.common.settings import amplitude_events_settings

CONSUMER = "amplitude_events"
SECRET_MAX_AGE_SECONDS = 300

settings = amplitude_events_settings()
kit = lambda_kit(CONSUMER, settings)
logger, tracer, metrics = kit.logger, kit.tracer, kit.metrics


@cache
def sender() -> AmplitudeSender:
    """One SDK client per container (its worker threads are reused across invocations)."""
    secret = secrets_provider().get(settings.amplitude_secret_name, transform="json", max_age=SECRET_MAX_AGE_SECONDS)
    credentials = parse_secret(AmplitudeCredentials, secret, settings.amplitude_secret_name)
    return AmplitudeSender(credentials, settings.amplitude_max_retries)


@kit.once_per_session
def send_once(*, session_id: str, detail: LeadScoredDetail) -> dict[str, Any]:
    """Send a session's events once, keyed on the session id; insert_ids protect the rare double send."""
    count = send_session_events(detail, sender(), settings.amplitude_flush_timeout_seconds)
    logger.info("Amplitude events accepted", extra={"session_id": session_id, "events": count})
    return {"session_id": session_id, "events": count}


@tracer.capture_method
def record_handler(record: SQSRecord) -> None:
    """One SQS message; the parameter must be called `record` (BatchProcessor passes it by keyword)."""
    try:
        detail = parse_lead_scored_body(record.body)
        send_once(session_id=detail.session_id, detail=detail)
    except PermanentFailure as failure:
        dead_letter(record, failure, CONSUMER, settings.dead_letter_queue_url, logger, metrics)


lambda_handler = kit.sqs_handler(record_handler)

init_done()  # the last statement of init: see functions/common/cold_start.py
