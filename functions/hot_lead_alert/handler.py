"""hot_lead_alert: SQS ("Lead Scored", hot only) -> one SNS message a sales rep can act on."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.common.aws import sns_client
from functions.common.events import LeadScoredDetail, parse_lead_scored_body
from functions.common.failures import PermanentFailure, dead_letter
from functions.common.logs import function_logger, masked_failures
from functions.common.settings import hot_lead_alert_settings
from functions.hot_lead_alert.logic import compose_alert, publish_alert

CONSUMER = "hot_lead_alert"

settings = hot_lead_alert_settings()
logger = function_logger(settings.log_level)
tracer = Tracer()
metrics = Metrics()
metrics.set_default_dimensions(stage=settings.stage)
processor = BatchProcessor(event_type=EventType.SQS)
idempotency_config = IdempotencyConfig(expires_after_seconds=settings.idempotency_expiry_seconds)
persistence = DynamoDBPersistenceLayer(table_name=settings.idempotency_table)


@idempotent_function(  # type: ignore[untyped-decorator]  # Powertools' decorator is untyped
    data_keyword_argument="session_id",
    persistence_store=persistence,
    config=idempotency_config,
    key_prefix=CONSUMER,
)
def alert_once(*, session_id: str, detail: LeadScoredDetail) -> dict[str, Any]:
    """Publish the alert once per session, keyed on the session id."""
    message_id = publish_alert(sns_client(), settings.hot_lead_topic_arn, compose_alert(detail))
    metrics.add_metric(name="HotLeadAlertsSent", unit=MetricUnit.Count, value=1)
    logger.info("Hot-lead alert published", extra={"session_id": session_id, "sns_message_id": message_id})
    return {"session_id": session_id, "sns_message_id": message_id}


@tracer.capture_method
def record_handler(record: SQSRecord) -> None:
    """One SQS message; the parameter must be called `record` (BatchProcessor passes it by keyword)."""
    try:
        detail = parse_lead_scored_body(record.body)
    except PermanentFailure as failure:
        dead_letter(record, failure, CONSUMER, settings.dead_letter_queue_url, logger, metrics)
        return
    if not detail.hot:
        # The rule filters on detail.hot already; this guards against a rule edited by hand.
        logger.info("Lead is not hot; no alert", extra={"session_id": detail.session_id})
        return
    alert_once(session_id=detail.session_id, detail=detail)


@masked_failures  # outermost: what escapes is reported by the runtime, outside any logger
@logger.inject_lambda_context(log_event=False)  # the event holds personal data: never log it whole
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    idempotency_config.register_lambda_context(context)
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
