"""The Glue tables behind the analysts' views, read from their Glue definitions, and the views' SQL.

The same dicts come from two places: template.yaml's `AWS::Glue::Table` TableInputs (the local query layer, the
tests) and Glue's GetTables (the compaction function in AWS). Nothing about a table is restated in code.

Each analysts' view (`sessions`, `scored`) is a Glue VIRTUAL_VIEW whose parameters name its two tables:
`compaction.raw_table` (gzip JSON, one object per session, under `sessions/` or `scored/`) and
`compaction.compacted_table` (Parquet, a few files per day, under `compacted/<view>/`). The view is

    SELECT <columns> FROM <compacted> WHERE <day> BETWEEN ... (the compacted days)
    UNION ALL
    SELECT <columns> FROM <raw>       WHERE NOT (<day> BETWEEN ...)

so every day is read from exactly one of them: no row is counted twice and none is missed. The compacted days are
those with a manifest (functions/compact/logic.py), written into the view as literal ranges of days, so Athena
prunes the partitions of both sides by the predicate alone (partition projection, no dynamic filtering needed).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from functions.compact.glue_types import hive_to_trino

RAW_TABLE_PARAMETER = "compaction.raw_table"
COMPACTED_TABLE_PARAMETER = "compaction.compacted_table"
# The expression a view compares with its compacted days: "2026-11-21" (partition values are zero-padded strings).
DAY_EXPRESSION = '("year" || \'-\' || "month" || \'-\' || "day")'

TableKind = Literal["json", "parquet", "view"]


class TableDefinitionError(ValueError):
    """A Glue table definition the compaction cannot use; the message names the table and what is missing."""


@dataclass(frozen=True)
class GlueTable:
    """One Glue table or view, as much of it as the views and the compaction need."""

    name: str
    kind: TableKind
    prefix: str  # key prefix of its objects, no trailing slash ("scored", "compacted/scored"); "" for a view
    columns: tuple[tuple[str, str], ...]  # (name, Hive type), in the Glue order
    partition_keys: tuple[tuple[str, str], ...]
    ignore_malformed_json: bool
    parameters: Mapping[str, str]
    description: str = ""

    @property
    def all_columns(self) -> tuple[tuple[str, str], ...]:
        """The data columns, then the partition columns (what a query sees, in that order)."""
        return self.columns + self.partition_keys


@dataclass(frozen=True)
class CompactedView:
    """An analysts' view and the two tables it reads: raw objects and their compacted Parquet."""

    view: GlueTable
    raw: GlueTable
    compacted: GlueTable

    @property
    def name(self) -> str:
        return self.view.name


def location_prefix(location: Any) -> str:
    """`s3://bucket/scored/` (plain, or a template's Fn::Sub) -> "scored"."""
    text = location.get("Fn::Sub") if isinstance(location, dict) else location
    if isinstance(text, list):
        text = text[0]
    match = re.fullmatch(r"s3://[^/]+/(.*)", str(text))
    if not match or not match.group(1).strip("/"):
        raise TableDefinitionError(f"cannot read a key prefix from the Glue table location {location!r}")
    return match.group(1).strip("/")


def glue_table(table_input: Mapping[str, Any]) -> GlueTable:
    """A Glue TableInput (template) or Table (GetTables) as a GlueTable."""
    name = str(table_input["Name"])
    storage = table_input.get("StorageDescriptor") or {}
    parameters = {str(key): str(value) for key, value in (table_input.get("Parameters") or {}).items()}
    serde = storage.get("SerdeInfo") or {}
    serde_parameters = serde.get("Parameters") or {}
    kind: TableKind
    if table_input.get("TableType") == "VIRTUAL_VIEW":
        kind, prefix = "view", ""
    else:
        library = str(serde.get("SerializationLibrary", ""))
        kind = "parquet" if "parquet" in library.lower() else "json"
        prefix = location_prefix(storage.get("Location"))
    return GlueTable(
        name=name,
        kind=kind,
        prefix=prefix,
        columns=tuple((str(column["Name"]), str(column["Type"])) for column in storage.get("Columns") or []),
        partition_keys=tuple((str(key["Name"]), str(key["Type"])) for key in table_input.get("PartitionKeys") or []),
        ignore_malformed_json=str(serde_parameters.get("ignore.malformed.json", "false")).lower() == "true",
        parameters=parameters,
        description=str(table_input.get("Description") or ""),
    )


def compacted_views(tables: Iterable[GlueTable]) -> dict[str, CompactedView]:
    """Every view that names a raw and a compacted table, by view name; TableDefinitionError if what it names is
    missing or does not fit (another kind, other columns)."""
    by_name = {table.name: table for table in tables}
    found: dict[str, CompactedView] = {}
    for view in by_name.values():
        if view.kind != "view" or RAW_TABLE_PARAMETER not in view.parameters:
            continue
        raw = by_name.get(view.parameters[RAW_TABLE_PARAMETER])
        compacted = by_name.get(view.parameters.get(COMPACTED_TABLE_PARAMETER, ""))
        if raw is None or raw.kind != "json":
            raise TableDefinitionError(f"view {view.name!r}: its raw table is not a JSON table of the database")
        if compacted is None or compacted.kind != "parquet":
            raise TableDefinitionError(
                f"view {view.name!r}: its compacted table is not a Parquet table of the database"
            )
        if compacted.all_columns != raw.all_columns:
            raise TableDefinitionError(
                f"view {view.name!r}: {compacted.name!r} and {raw.name!r} must have the same columns and partitions"
            )
        found[view.name] = CompactedView(view=view, raw=raw, compacted=compacted)
    return found


# ------------------------------------------------------------------------------------------------------ the SQL


def day_ranges(days: Iterable[dt.date]) -> list[tuple[dt.date, dt.date]]:
    """Consecutive days as (first, last) ranges, in order: a year of compacted days is one range, not 365."""
    ranges: list[tuple[dt.date, dt.date]] = []
    for day in sorted(set(days)):
        if ranges and day == ranges[-1][1] + dt.timedelta(days=1):
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    return ranges


def _in_ranges(ranges: Sequence[tuple[dt.date, dt.date]]) -> str:
    parts = [f"{DAY_EXPRESSION} BETWEEN '{first.isoformat()}' AND '{last.isoformat()}'" for first, last in ranges]
    return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"


def view_sql(view: CompactedView, compacted_days: Iterable[dt.date]) -> str:
    """The view's SQL (Trino, which DuckDB runs as it is): compacted days from the Parquet table, every other day
    from the raw objects. With no compacted day it reads the raw table alone."""
    columns = ", ".join(f'"{name}"' for name, _ in view.raw.all_columns)
    ranges = day_ranges(compacted_days)
    # Column and table names come from the Glue definitions, the days are dates: nothing here is user input.
    raw = f'SELECT {columns} FROM "{view.raw.name}"'  # noqa: S608
    if not ranges:
        return raw
    predicate = _in_ranges(ranges)
    compacted = f'SELECT {columns} FROM "{view.compacted.name}" WHERE {predicate}'  # noqa: S608
    return f"{compacted}\nUNION ALL\n{raw} WHERE NOT {predicate}"


def presto_view_payload(view: CompactedView, compacted_days: Iterable[dt.date], database: str) -> dict[str, Any]:
    """What Athena stores in a Glue view's ViewOriginalText (base64 JSON; Trino's column types)."""
    return {
        "originalSql": view_sql(view, compacted_days),
        "catalog": "awsdatacatalog",
        "schema": database,
        "columns": [{"name": name, "type": hive_to_trino(hive_type)} for name, hive_type in view.raw.all_columns],
    }


def view_table_input(view: CompactedView, compacted_days: Iterable[dt.date], database: str) -> dict[str, Any]:
    """The view's Glue TableInput (for UpdateTable), as Athena writes a view: VIRTUAL_VIEW, `presto_view`, the
    payload base64-encoded between `/* Presto View: ` and ` */`, Hive-typed storage columns. Its parameters keep
    naming the two tables."""
    payload = json.dumps(presto_view_payload(view, compacted_days, database), separators=(",", ":"))
    return {
        "Name": view.name,
        "Description": view.view.description,
        "TableType": "VIRTUAL_VIEW",
        "Parameters": dict(view.view.parameters),
        "ViewOriginalText": "/* Presto View: " + base64.b64encode(payload.encode()).decode() + " */",
        "ViewExpandedText": "/* Presto View */",
        "StorageDescriptor": {
            "Columns": [{"Name": name, "Type": hive_type} for name, hive_type in view.raw.all_columns],
        },
    }


def decode_presto_view(view_original_text: str) -> dict[str, Any]:
    """The JSON payload of a Glue view's ViewOriginalText."""
    match = re.fullmatch(r"/\* Presto View: (.*) \*/", view_original_text.strip(), flags=re.DOTALL)
    if not match:
        raise TableDefinitionError("not a Presto view: ViewOriginalText is not '/* Presto View: <base64> */'")
    decoded: dict[str, Any] = json.loads(base64.b64decode(match.group(1)))
    return decoded
