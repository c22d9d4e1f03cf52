"""score_lead: SQS (S3 "Object Created" via EventBridge) -> validate, score, write scored/, put "Lead Scored"."""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.parser import ValidationError, parse
from aws_lambda_powertools.utilities.parser.models import S3EventNotificationEventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.common.aws import events_client, s3_client
from functions.common.cold_start import init_done
from functions.common.events import S3Location
from functions.common.failures import PermanentFailure, dead_letter
from functions.common.lambda_kit import lambda_kit
from functions.common.record import SessionRecord
from functions.common.settings import score_lead_settings
from functions.score_lead.logic import load_session, resolve_copy, score_and_publish
from functions.score_lead.reader import RejectedObjectError
from functions.score_lead.storage import ObjectMissingError, quarantine_object

CONSUMER = "score_lead"

settings = score_lead_settings()
kit = lambda_kit(CONSUMER, settings)
logger, tracer, metrics = kit.logger, kit.tracer, kit.metrics


@kit.once_per_session
def score_once(
    *, session_id: str, record: SessionRecord, source: S3Location, deadline: float | None = None
) -> dict[str, Any]:
    """Score and publish a session once, keyed on the session id (never on the delivery's message id)."""
    detail = score_and_publish(record, source, settings, s3_client(), events_client(), deadline)
    return {"session_id": session_id, "score": detail.score, "grade": detail.grade, "hot": detail.hot}


@tracer.capture_method
def record_handler(record: SQSRecord, lambda_context: LambdaContext | None = None) -> None:
    """One SQS message; the parameter must be called `record` (BatchProcessor passes it by keyword, and the
    invocation's context as `lambda_context`, whose remaining time bounds a Bedrock insights call)."""
    try:
        notification = parse(event=record.json_body, model=S3EventNotificationEventBridgeModel)
    except (ValidationError, ValueError) as error:
        failure = PermanentFailure(f"message body is not an S3 'Object Created' EventBridge event: {error}")
        dead_letter(record, failure, CONSUMER, settings.dead_letter_queue_url, logger, metrics)
        return
    source = S3Location(
        bucket=notification.detail.bucket.name,
        key=notification.detail.object.key,
        version_id=notification.detail.object.version_id,
    )
    if not source.key.startswith(settings.sessions_prefix):
        logger.warning("Ignoring an object outside the sessions prefix", extra={"object": source.uri})
        return
    try:
        loaded = load_session(s3_client(), source, settings)
    except ObjectMissingError as missing:
        metrics.add_metric(name="ObjectsMissing", unit=MetricUnit.Count, value=1)
        logger.warning("Session object is gone; nothing to score", extra={"object": source.uri, "error": str(missing)})
        return
    except RejectedObjectError as rejected:
        target = quarantine_object(s3_client(), source, rejected.reason, settings.quarantine_prefix)
        metrics.add_metric(name="RecordsQuarantined", unit=MetricUnit.Count, value=1)
        logger.warning(
            "Invalid session object quarantined; it will not be retried",
            extra={"object": source.uri, "quarantined_to": target.uri, "reason": rejected.reason},
        )
        return
    # A collision copy (`<session_id>.dup-<hash>.json.gz`): nothing to do for a duplicate export, or a derived id.
    session = resolve_copy(s3_client(), loaded, settings).record
    if session is None:
        return
    logger.append_keys(session_id=session.session_id)
    try:
        deadline = None
        if lambda_context is not None:
            deadline = time.monotonic() + lambda_context.get_remaining_time_in_millis() / 1000
        score_once(session_id=session.session_id, record=session, source=loaded.location, deadline=deadline)
    finally:
        logger.remove_keys(["session_id"])


lambda_handler = kit.sqs_handler(record_handler)

init_done()  # the last statement of init: see functions/common/cold_start.py
