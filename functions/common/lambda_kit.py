"""What every SQS-triggered handler wears, built once per container: Powertools logger, tracer and metrics,
the batch processor, and idempotency keyed on the session id under the consumer's own key prefix (per record, or
claimed for a whole batch that one far-end call serves)."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
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
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import STATUS_CONSTANTS
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.common.aws import idempotency_dynamodb_client
from functions.common.logs import function_logger, masked_failures

F = TypeVar("F", bound=Callable[..., Any])
LambdaHandler = Callable[[dict[str, Any], LambdaContext], PartialItemFailureResponse]
# A handler of a whole batch: every SQS record in, the failed ones out (by message id, with their exception).
BatchHandler = Callable[[list[SQSRecord]], Mapping[str, Exception]]


class ClaimState(Enum):
    CLAIMED = "claimed"  # this invocation holds the session now: call the far end, then complete or release it
    DONE = "done"  # a delivery before this one completed the session: nothing to do
    BUSY = "busy"  # another invocation holds it (or crashed holding it, until its in-progress expiry): retry later


@dataclass(frozen=True)
class Claim:
    state: ClaimState
    result: dict[str, Any] | None = None  # DONE: what the completed delivery recorded


class SessionClaims:
    """Powertools idempotency records for a function that serves a whole batch with one far-end call.

    `idempotent_function` (`LambdaKit.once_per_session`) wraps one call per key: it writes the INPROGRESS record,
    calls, then writes COMPLETED, or deletes the record when the call raised. One collection call for many sessions
    needs those steps apart: claim every session of the batch, make the call, then complete or release each. So
    this drives Powertools' persistence layer through the public steps its own handler uses (`save_inprogress`,
    `get_record`, `save_success`, `delete_record`), with the same key: `<consumer>#` + the MD5 of the JSON of the
    session id, so records written by either way answer the other. What `idempotent_function` would raise on an
    INPROGRESS record (another invocation holds it) is `ClaimState.BUSY` here; the caller fails that item.
    """

    def __init__(self, consumer: str, persistence: DynamoDBPersistenceLayer, config: IdempotencyConfig) -> None:
        self.config = config
        self.persistence = persistence
        persistence.configure(config=config, key_prefix=consumer)

    @staticmethod
    def _data(session_id: str) -> dict[str, Any]:
        return {"session_id": session_id}  # the key is this payload's `session_id` (event_key_jmespath)

    def claim(self, session_id: str) -> Claim:
        """Write the session's INPROGRESS record, or say why not (DONE with its result, or BUSY)."""
        context = self.config.lambda_context
        remaining_ms = context.get_remaining_time_in_millis() if context is not None else None
        try:
            self.persistence.save_inprogress(data=self._data(session_id), remaining_time_in_millis=remaining_ms)
        except IdempotencyItemAlreadyExistsError as exists:
            record = exists.old_data_record
            if record is None:
                try:
                    record = self.persistence.get_record(data=self._data(session_id))
                except IdempotencyItemNotFoundError:
                    return Claim(ClaimState.BUSY)  # deleted since the write failed: the next delivery claims it
            if record is not None and record.status == STATUS_CONSTANTS["COMPLETED"]:
                return Claim(ClaimState.DONE, record.response_json_as_dict())
            return Claim(ClaimState.BUSY)
        return Claim(ClaimState.CLAIMED)

    def complete(self, session_id: str, result: dict[str, Any]) -> None:
        """The far end has the session's effect: later deliveries are answered from `result`."""
        self.persistence.save_success(data=self._data(session_id), result=result)

    def release(self, session_id: str, error: Exception) -> None:
        """The call failed for this session: the next delivery claims it again."""
        self.persistence.delete_record(data=self._data(session_id), exception=error)


@dataclass(frozen=True)
class LambdaKit:
    consumer: str
    logger: Logger
    tracer: Tracer
    metrics: Metrics
    processor: BatchProcessor
    idempotency_config: IdempotencyConfig
    persistence: DynamoDBPersistenceLayer
    idempotency_table: str

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

    def session_claims(self) -> SessionClaims:
        """Claims on this consumer's idempotency records, for `sqs_batch_handler` (see SessionClaims)."""
        config = IdempotencyConfig(
            event_key_jmespath="session_id",
            raise_on_no_idempotency_key=True,
            expires_after_seconds=self.idempotency_config.expires_after_seconds,
        )
        # A persistence layer of its own: Powertools configures one once, and the kit's serves once_per_session.
        persistence = DynamoDBPersistenceLayer(
            table_name=self.idempotency_table, boto3_client=idempotency_dynamodb_client()
        )
        return SessionClaims(self.consumer, persistence, config)

    def sqs_batch_handler(self, batch_handler: BatchHandler, claims: SessionClaims) -> LambdaHandler:
        """The Lambda entry point for a function that handles the batch as a whole: `batch_handler` gets every
        record and returns the failed ones by message id; Powertools' BatchProcessor turns that into the partial
        batch response (and fails the invocation when every record failed), as for `sqs_handler`. `claims` learn
        the invocation's remaining time (an INPROGRESS record expires with it)."""

        @masked_failures
        @self.logger.inject_lambda_context(log_event=False)
        @self.tracer.capture_lambda_handler
        @self.metrics.log_metrics
        def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
            claims.config.register_lambda_context(context)
            failures = batch_handler([SQSRecord(raw) for raw in event.get("Records", [])])

            def record_handler(record: SQSRecord) -> None:
                failure = failures.get(record.message_id)
                if failure is not None:
                    raise failure

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
        idempotency_table=settings.idempotency_table,
    )
