"""hot_lead_alert: SQS ("Lead Scored", hot or cancel risk only) -> one SNS message someone can act on."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from functions.common.aws import sns_client
from functions.common.cold_start import init_done
from functions.common.events import LeadScoredDetail, parse_lead_scored_body
from functions.common.failures import PermanentFailure, dead_letter
from functions.common.lambda_kit import lambda_kit
from functions.common.settings import hot_lead_alert_settings
from functions.hot_lead_alert.logic import alert_types, compose_alert, publish_alert

CONSUMER = "hot_lead_alert"

settings = hot_lead_alert_settings()
kit = lambda_kit(CONSUMER, settings)
logger, tracer, metrics = kit.logger, kit.tracer, kit.metrics


@kit.once_per_session
def alert_once(*, session_id: str, detail: LeadScoredDetail) -> dict[str, Any]:
    """Publish the alert once per session, keyed on the session id."""
    alert = compose_alert(detail)
    message_id = publish_alert(sns_client(), settings.hot_lead_topic_arn, alert)
    logger.info(
        "Hot-lead alert published",
        extra={"session_id": session_id, "sns_message_id": message_id, "alert_types": list(alert.types)},
    )
    return {"session_id": session_id, "sns_message_id": message_id}


@tracer.capture_method
def record_handler(record: SQSRecord) -> None:
    """One SQS message; the parameter must be called `record` (BatchProcessor passes it by keyword)."""
    try:
        detail = parse_lead_scored_body(record.body)
    except PermanentFailure as failure:
        dead_letter(record, failure, CONSUMER, settings.dead_letter_queue_url, logger, metrics)
        return
    if not alert_types(detail):
        # The rule filters on detail.hot and the cancel intent already; this guards against a rule edited by hand.
        logger.info("Lead is not hot and shows no cancel intent; no alert", extra={"session_id": detail.session_id})
        return
    alert_once(session_id=detail.session_id, detail=detail)


lambda_handler = kit.sqs_handler(record_handler)

init_done()  # the last statement of init: see functions/common/cold_start.py
