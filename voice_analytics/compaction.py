"""`voice-analytics compact`: the compact function's logic (functions/compact/logic.py) run from the command line, on a
folder laid out like the bucket (`build/demo`, the default) or on a bucket (the local stack's moto, or AWS).

The tables come from template.yaml, as `voice-analytics query` reads them. Nothing is written to Glue: in AWS the
daily run rewrites the views with every compacted day it finds (a backfill done here is picked up by the next run;
until then those days are read from the raw objects, which stay). For a backfill in AWS, invoking the function with
`{"all": true}` does both at once.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any


class CompactCommandError(RuntimeError):
    """The command cannot run as asked; the message says what to give instead."""


def run_compact_command(
    *,
    day: dt.date | None = None,
    all_days: bool = False,
    lookback_days: int | None = None,
    force: bool = False,
    directory: Path | None = None,
    bucket: str | None = None,
    endpoint: str | None = None,
    objects_per_file: int | None = None,
    as_json: bool = False,
    default_directory: Path = Path("build/demo"),
) -> int:
    """Compact `day`, or the finished days of the last `lookback_days`, or (the default) every finished day, or with
    `all_days` every day, today's too (what arrives later the next run folds in); returns the exit code (1 when a
    day failed)."""
    from functions.common.settings import CompactSettings
    from functions.compact.logic import CompactionOptions, Compactor
    from functions.compact.store import DirectoryStore, ObjectStore, S3Store
    from functions.compact.tables import TableDefinitionError, compacted_views
    from voice_analytics.template import glue_tables, load_template

    if sum(bool(choice) for choice in (day, all_days, lookback_days)) > 1:
        raise CompactCommandError("give one of --day, --all and --lookback")
    if bucket and directory:
        raise CompactCommandError("give --bucket or --dir, not both")
    try:
        views = compacted_views(glue_tables(load_template()).values())
    except TableDefinitionError as error:
        raise CompactCommandError(f"template.yaml: {error}") from error
    store: ObjectStore
    if bucket:
        import boto3
        from botocore.config import Config

        settings = CompactSettings()
        config = Config(
            retries={"mode": "standard", "max_attempts": 3}, max_pool_connections=settings.compaction_read_threads
        )
        store = S3Store(
            boto3.client("s3", endpoint_url=endpoint, config=config), bucket, settings.compaction_read_threads
        )
        where = f"s3://{bucket}"
    else:
        root = directory or default_directory
        if not root.is_dir():
            raise CompactCommandError(f"no folder {root}: run `make demo` first, or give --dir DIR or --bucket NAME")
        store = DirectoryStore(root)
        where = str(root)
    defaults = CompactSettings()
    options = CompactionOptions(
        objects_per_file=objects_per_file or defaults.compaction_objects_per_file,
        lookback_days=lookback_days or defaults.compaction_lookback_days,
        settle_hours=defaults.compaction_settle_hours,
        max_decompressed_bytes=defaults.max_decompressed_bytes,
    )
    report = Compactor(store, views, options=options).run(
        day=day, all_days=lookback_days is None and day is None, force=force, unfinished=all_days
    )
    summary: dict[str, Any] = {"where": where, **report.as_dict()}
    if as_json:
        sys.stdout.write(json.dumps(summary, indent=2) + "\n")
    else:
        _print(summary)
    return 1 if report.failed else 0


def _print(summary: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Compaction of {summary['where']}")
    for column in ("view", "day", "action", "objects", "rows", "files", "note"):
        table.add_column(column, overflow="fold")
    for entry in summary["days"]:
        table.add_row(
            entry["view"],
            entry["day"],
            entry["action"],
            str(entry["objects"]),
            str(entry["rows"]),
            str(entry["files"]),
            entry.get("reason", "") or (f"{entry['skipped_objects']} unreadable" if entry["skipped_objects"] else ""),
        )
    console = Console()
    console.print(table)
    for view, days in summary["compacted_days"].items():
        console.print(f"{view}: {len(days)} compacted days; the other days are read from the raw objects")
