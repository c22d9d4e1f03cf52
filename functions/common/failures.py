"""Failures that retrying cannot fix, and how they reach the dead-letter queue with their reason.

SQS redrive only moves a message after maxReceiveCount receives and carries no reason. A permanent
failure (a Salesforce validation error, a message that is not the event we expect) would otherwise be
retried five times and land in the DLQ unexplained. Instead the handler sends the original body to the
function's DLQ itself, with the reason as message attributes, and reports the item as processed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from functions.common.aws import sqs_client
from functions.common.redaction import mask_text
from functions.common.sanitise import single_line, truncate

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageAttributeValueTypeDef


class PermanentFailure(Exception):
    """Processing this message can never succeed as it is; it goes to the DLQ with `reason`."""

    def __init__(self, reason: str, session_id: str | None = None) -> None:
        self.reason = reason
        self.session_id = session_id
        super().__init__(reason)


class RetryableFailure(Exception):
    """A transient failure: the batch item fails and SQS delivers the message again."""


class DeadLetterQueueMissingError(RuntimeError):
    """No DLQ is configured, so a permanent failure falls back to an ordinary failure (redrive after retries)."""


def send_to_dead_letter_queue(
    sqs: SQSClient, queue_url: str | None, record: SQSRecord, failure: PermanentFailure, consumer: str
) -> str:
    """Send the original message body with the failure reason to the DLQ; returns the new message id."""
    if not queue_url:
        raise DeadLetterQueueMissingError(
            f"{consumer}: permanent failure but DEAD_LETTER_QUEUE_URL is not set; the message will be retried "
            f"and redriven to the DLQ after maxReceiveCount: {failure.reason}"
        )
    attributes: dict[str, MessageAttributeValueTypeDef] = {
        # Masked as log lines are: a reason may quote a far end's answer (a Salesforce validation message naming the
        # email it refused) or what the caller said.
        "FailureReason": {
            "DataType": "String",
            "StringValue": truncate(single_line(mask_text(failure.reason)), 1000) or "-",
        },
        "FailedBy": {"DataType": "String", "StringValue": consumer},
        "OriginalMessageId": {"DataType": "String", "StringValue": record.message_id},
    }
    if failure.session_id:
        attributes["SessionId"] = {"DataType": "String", "StringValue": failure.session_id}
    response = sqs.send_message(QueueUrl=queue_url, MessageBody=record.body, MessageAttributes=attributes)
    return response["MessageId"]


def dead_letter(
    message: SQSRecord,
    failure: PermanentFailure,
    consumer: str,
    queue_url: str | None,
    logger: Logger,
    metrics: Metrics,
) -> None:
    """Move a permanently failing message to the DLQ with its reason, log it and count it (`PermanentFailures`)."""
    dlq_message_id = send_to_dead_letter_queue(sqs_client(), queue_url, message, failure, consumer)
    metrics.add_metric(name="PermanentFailures", unit=MetricUnit.Count, value=1)
    logger.error(
        "Permanent failure: message sent to the DLQ with its reason; it will not be retried",
        extra={
            "session_id": failure.session_id,
            "reason": failure.reason,
            "message_id": message.message_id,
            "dlq_message_id": dlq_message_id,
        },
    )
