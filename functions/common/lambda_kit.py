"""What every SQS-triggered handler wears, built once per container: Powertools logger, tracer and metrics,
the batch processor, and idempotency keyed on the session id under the consumer's own key prefix."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.common.aws import idempotency_dynamodb_client
from functions.common.logs import function_logger, masked_failures

F = TypeVar("F", bound=Callable[..., Any])
LambdaHandler = Callable[[dict[str, Any], LambdaContext], PartialItemFailureResponse]


@dataclass(frozen=True)
class LambdaKit:
    consumer: str
    logger: Logger
    tracer: Tracer
    metrics: Metrics
    processor: BatchProcessor
    idempotency_config: IdempotencyConfig
    persistence: DynamoDBPersistenceLayer

    def once_per_session(self, function: F) -> F:
        """Run `function(*, session_id=..., ...)` once per session id for this consumer (never per delivery)."""
        decorated: F = idempotent_function(
            data_keyword_argument="session_id",
            persistence_store=self.persistence,
            config=self.idempotency_config,
            key_prefix=self.consumer,
        )(function)
        return decorated

    def sqs_handler(self, record_handler: Callable[[SQSRecord], None]) -> LambdaHandler:
        """The Lambda entry point: partial batch failures, one `record_handler` call per SQS record."""

        @masked_failures  # outermost: what escapes is reported by the runtime, outside any logger
        @self.logger.inject_lambda_context(log_event=False)  # the event holds personal data: never log it whole
        @self.tracer.capture_lambda_handler
        @self.metrics.log_metrics
        def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
            self.idempotency_config.register_lambda_context(context)
            return process_partial_response(
                event=event, record_handler=record_handler, processor=self.processor, context=context
            )

        return lambda_handler


# The functions send custom metrics only for failures (the happy path is counted by AWS's own free metrics and the
# logs, see docs/backend.md), so most invocations flush none, and Powertools warns on every empty flush.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)

# What Tracer() would patch by default (X-Ray's patch_all) and these functions use: botocore, for every function.
# patch_all also patches every other library it finds installed (requests and sqlite3 here), importing each at init
# (about 35 ms of cold start) in functions that never call it; salesforce_sync adds "requests", which it does call.
TRACED_LIBRARIES: tuple[str, ...] = ("botocore",)


class KitSettings(Protocol):
    """What the kit reads from a function's settings (every model of functions/common/settings.py has it)."""

    @property
    def log_level(self) -> str: ...
    @property
    def stage(self) -> str: ...
    @property
    def idempotency_table(self) -> str: ...
    @property
    def idempotency_expiry_seconds(self) -> int: ...


def lambda_kit(
    consumer: str, settings: KitSettings, *, traced_libraries: tuple[str, ...] = TRACED_LIBRARIES
) -> LambdaKit:
    metrics = Metrics()
    metrics.set_default_dimensions(stage=settings.stage)
    return LambdaKit(
        consumer=consumer,
        logger=function_logger(settings.log_level),
        tracer=Tracer(patch_modules=traced_libraries),
        metrics=metrics,
        processor=BatchProcessor(event_type=EventType.SQS),
        idempotency_config=IdempotencyConfig(expires_after_seconds=settings.idempotency_expiry_seconds),
        persistence=DynamoDBPersistenceLayer(
            table_name=settings.idempotency_table, boto3_client=idempotency_dynamodb_client()
        ),
    )
