"""compact: once a day (EventBridge Scheduler), each finished day's raw objects become a few Parquet files, and the
views `sessions` and `scored` are rewritten in Glue to read those days from them (functions/compact/logic.py).

The event is the schedule's `{}` (the last CompactionLookbackDays finished days); by hand, `{"day": "2026-11-21"}`
(that day, finished or not), `{"all": true}` (every finished day: a backfill) and `"force": true` (rewrite even what
is up to date). The table definitions come from Glue (the template's), never from this code.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import boto3
from aws_lambda_powertools import Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config
from pydantic import BaseModel, ConfigDict, ValidationError

from functions.common.aws import DEFAULT_CONFIG
from functions.common.lambda_kit import TRACED_LIBRARIES
from functions.common.logs import function_logger, masked_failures
from functions.common.settings import compact_settings
from functions.compact.logic import CompactionOptions, Compactor
from functions.compact.store import S3Store
from functions.compact.tables import CompactedView, GlueTable, compacted_views, glue_table, view_table_input

settings = compact_settings()
logger = function_logger(settings.log_level)
tracer = Tracer(patch_modules=TRACED_LIBRARIES)


class CompactRequest(BaseModel):
    """The invocation's event."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    day: dt.date | None = None
    all: bool = False
    force: bool = False


class CompactionFailedError(RuntimeError):
    """Some day could not be compacted (the others were); the message lists them. Fails the invocation, so the
    Errors alarm fires; the views keep reading those days' raw objects."""


@cache
def glue_client() -> Any:
    return boto3.client("glue", config=DEFAULT_CONFIG)


@cache
def s3_store() -> S3Store:
    # As many pooled connections as concurrent GETs (botocore's default pool is 10).
    config = DEFAULT_CONFIG.merge(Config(max_pool_connections=settings.compaction_read_threads))
    client = boto3.client("s3", config=config)
    return S3Store(client, settings.sessions_bucket, threads=settings.compaction_read_threads)


def load_views() -> dict[str, CompactedView]:
    """The database's views that name a raw and a compacted table, from Glue."""
    tables: list[GlueTable] = []
    for page in glue_client().get_paginator("get_tables").paginate(DatabaseName=settings.glue_database):
        tables.extend(glue_table(table) for table in page["TableList"])
    return compacted_views(tables)


def publish_view(view: CompactedView, days: Sequence[dt.date]) -> None:
    """Rewrite the view in Glue so that it reads `days` from Parquet and every other day from the raw objects."""
    glue_client().update_table(
        DatabaseName=settings.glue_database, TableInput=view_table_input(view, days, settings.glue_database)
    )
    logger.info("View rewritten", extra={"view": view.name, "compacted_days": len(days)})


@masked_failures
@logger.inject_lambda_context(log_event=False)  # as every handler: the request is logged below, parsed
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        request = CompactRequest.model_validate(event or {})
    except ValidationError as error:
        raise ValueError(
            f"compaction request {event!r} is not valid ({error.errors()[0]['msg']}); expected {{}}, "
            '{"day": "YYYY-MM-DD"} or {"all": true}, optionally with "force": true; nothing was compacted'
        ) from None
    logger.info("Compaction requested", extra={"request": request.model_dump(mode="json")})
    compactor = Compactor(
        s3_store(),
        load_views(),
        options=CompactionOptions(
            objects_per_file=settings.compaction_objects_per_file,
            lookback_days=settings.compaction_lookback_days,
            settle_hours=settings.compaction_settle_hours,
            max_decompressed_bytes=settings.max_decompressed_bytes,
        ),
        workdir=Path(settings.compaction_work_dir),
        publish=publish_view,
        log=logger,
    )
    report = compactor.run(
        day=request.day,
        all_days=request.all,
        force=request.force,
        remaining_seconds=lambda: context.get_remaining_time_in_millis() / 1000,
    )
    summary = report.as_dict()
    logger.info("Compaction done", extra={"actions": summary["actions"]})
    if report.failed:
        failed = "; ".join(f"{result.view} {result.day}: {result.reason}" for result in report.failed)
        raise CompactionFailedError(f"{len(report.failed)} days were not compacted: {failed}")
    return summary
