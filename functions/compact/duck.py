"""How DuckDB reads each kind of Glue table: the ONE place, shared by the compaction (raw objects -> Parquet) and the
local query layer (local/demo/queries.py), so a record parses to the same row whichever of them reads it.

- JSON tables (gzip NDJSON): `read_json` with exactly the Glue columns and types (keys the table does not declare
  are not read, as in Athena); the SerDe's `ignore.malformed.json` becomes `ignore_errors` (a malformed line is a
  row of NULLs, as the OpenX SerDe makes it).
- Parquet tables: `read_parquet` of the given files, columns by name.
Partition columns (`year`, `month`, `day`) come from the `key=value` folders, as strings (`'03'`, as in Glue).
"""

from __future__ import annotations

from collections.abc import Sequence

from functions.compact.glue_types import hive_to_duckdb
from functions.compact.tables import GlueTable


def literal(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def _struct(pairs: Sequence[tuple[str, str]]) -> str:
    return "{" + ", ".join(f"{literal(name)}: {literal(hive_to_duckdb(hive))}" for name, hive in pairs) + "}"


def column_list(table: GlueTable, *, partitions: bool) -> str:
    columns = table.all_columns if partitions else table.columns
    return ", ".join(f'"{name}"' for name, _ in columns)


def read_json_call(sources: Sequence[str], table: GlueTable, *, partitions: bool) -> str:
    """`read_json(...)` over the files (or globs) in `sources` as `table` declares them."""
    options = [
        "[" + ", ".join(literal(source) for source in sources) + "]",
        "format = 'newline_delimited'",
        f"columns = {_struct(table.columns)}",
    ]
    if partitions and table.partition_keys:
        options += ["hive_partitioning = true", f"hive_types = {_struct(table.partition_keys)}"]
    if table.ignore_malformed_json:
        options.append("ignore_errors = true")
    return f"read_json({', '.join(options)})"


def read_parquet_call(files: Sequence[str], table: GlueTable) -> str:
    """`read_parquet(...)` over `files` (written by the compaction), with `table`'s partition columns."""
    options = ["[" + ", ".join(literal(path) for path in files) + "]"]
    if table.partition_keys:
        options += ["hive_partitioning = true", f"hive_types = {_struct(table.partition_keys)}"]
    return f"read_parquet({', '.join(options)})"


def parquet_select(files: Sequence[str], table: GlueTable) -> str:
    """A SELECT of `table`'s columns (cast to its declared types, so a union with the raw table lines up exactly) and
    partitions over compacted `files`."""
    columns = ", ".join(f'CAST("{name}" AS {hive_to_duckdb(hive)}) AS "{name}"' for name, hive in table.all_columns)
    return f"SELECT {columns} FROM {read_parquet_call(files, table)}"  # noqa: S608 - names of our own tables


def json_select(sources: Sequence[str], table: GlueTable) -> str:
    """A SELECT of `table`'s columns and partitions over raw gzip NDJSON `sources` (files or globs)."""
    return f"SELECT {column_list(table, partitions=True)} FROM {read_json_call(sources, table, partitions=True)}"  # noqa: S608


def empty_select(table: GlueTable) -> str:
    """A query with `table`'s columns and types and no row: a table with no objects still binds."""
    typed = ", ".join(f'CAST(NULL AS {hive_to_duckdb(hive)}) AS "{name}"' for name, hive in table.all_columns)
    return f"SELECT {typed} WHERE false"
