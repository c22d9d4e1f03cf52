"""SQL over the session records with DuckDB, with the Athena tables, views and named queries of template.yaml.

Everything about the tables comes from the template, nothing is restated here:
- `athena_tables()` reads the `AWS::Glue::Table` resources (voice_analytics/template.py `glue_tables`, read as the
  compact function reads them from Glue): the raw JSON tables (`sessions_raw`, `scored_raw`: S3 prefix, columns with
  their Hive types, partition keys, the SerDe's `ignore.malformed.json`), the compacted Parquet tables
  (`sessions_compacted`, `scored_compacted`) and the analysts' views (`sessions`, `scored`) that read each day from
  exactly one of the two.
- `connect(root)` opens an in-memory DuckDB over a folder laid out like the bucket
  (`<root>/sessions/year=YYYY/month=MM/day=DD/*.json.gz`, the same under `scored/`, and `<root>/compacted/...` once
  `voice-analytics compact` ran): one DuckDB view per raw table (exactly the Glue columns, in the Glue order, with
  the Glue types, then `year`, `month`, `day` as strings), one per compacted table (the files its days' manifests
  list), and the analysts' views with the SQL the compact function writes to Glue (functions/compact/tables.py),
  for the days compacted in that folder. How each table is read: functions/compact/duck.py. A table with no
  objects is an empty view, so queries still bind.
- `presets()` reads the `AWS::Athena::NamedQuery` resources (name, description, QueryString).
- `athena_to_duckdb()` is the ONE place where Athena (Trino/Presto) SQL is adapted to DuckDB; see its docstring
  for the rules. Every preset is run on DuckDB by tests/integration/test_query.py.

`download_bucket()` copies the tables' prefixes of a bucket (moto's, or a real one) into such a folder;
`run_queries()` runs named SQL and raises `QueryError` naming the query that failed; `print_results()` prints rich
tables (the `voice-analytics query` command and the demo's console use it).
"""

from __future__ import annotations

import datetime as dt
import decimal
import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from functions.compact.duck import empty_select, json_select, parquet_select
from functions.compact.glue_types import HiveTypeError
from functions.compact.glue_types import hive_to_duckdb as _hive_to_duckdb
from functions.compact.logic import current_manifests
from functions.compact.store import DirectoryStore
from functions.compact.tables import GlueTable, TableDefinitionError, compacted_views, view_sql
from voice_analytics.template import glue_tables, load_template

# Rows a console table shows per query before "... N more rows".
CONSOLE_ROWS = 10


class QueryError(RuntimeError):
    """A query could not run; the message names the query (preset name, or the SQL itself) and says why."""


# A Glue table or view of the template (functions/compact/tables.py), under the name this module always used.
AthenaTable = GlueTable


@dataclass(frozen=True)
class Preset:
    logical_id: str
    name: str
    description: str
    sql: str  # the QueryString as written in the template (Athena SQL)

    @property
    def slug(self) -> str:
        return re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-")


@dataclass(frozen=True)
class QueryResult:
    name: str
    sql: str
    columns: list[str]
    rows: list[tuple[Any, ...]]

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "sql": self.sql.strip(),
            "columns": self.columns,
            "rows": [[json_value(value) for value in row] for row in self.rows],
        }


def json_value(value: Any) -> Any:
    """A DuckDB value as JSON can hold it (DECIMAL as a number, dates as ISO strings, nested values kept)."""
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(key): json_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(item) for item in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


# ------------------------------------------------------------------------------------------------- the template


@functools.cache
def _repository_template() -> dict[str, Any]:
    return load_template()


def _resources(template: Mapping[str, Any] | None, resource_type: str) -> Iterable[tuple[str, dict[str, Any]]]:
    loaded = template if template is not None else _repository_template()
    for logical_id, resource in (loaded.get("Resources") or {}).items():
        if isinstance(resource, dict) and resource.get("Type") == resource_type:
            yield logical_id, resource.get("Properties") or {}


def athena_tables(template: Mapping[str, Any] | None = None) -> dict[str, AthenaTable]:
    """The template's Glue tables and views by name, in template order."""
    try:
        return glue_tables(template if template is not None else _repository_template())
    except TableDefinitionError as error:
        raise QueryError(str(error)) from error


def presets(template: Mapping[str, Any] | None = None) -> dict[str, Preset]:
    """The template's Athena named queries by name, in template order."""
    found = {}
    for logical_id, properties in _resources(template, "AWS::Athena::NamedQuery"):
        found[properties["Name"]] = Preset(
            logical_id=logical_id,
            name=properties["Name"],
            description=str(properties.get("Description") or ""),
            sql=properties["QueryString"],
        )
    return found


def find_preset(name: str, available: Mapping[str, Preset]) -> Preset:
    """A preset by its name, its slug ("hot-leads-by-day") or its logical id, case-insensitively."""
    wanted = name.strip().lower()
    for preset in available.values():
        if wanted in (preset.name.lower(), preset.slug, preset.logical_id.lower()):
            return preset
    names = ", ".join(repr(preset.name) for preset in available.values())
    raise QueryError(f"no preset named {name!r}; the template defines: {names}")


def hive_to_duckdb(hive_type: str) -> str:
    """A Glue/Hive column type as a DuckDB type (functions/compact/glue_types.py); QueryError if unreadable."""
    try:
        return _hive_to_duckdb(hive_type)
    except HiveTypeError as error:
        raise QueryError(str(error)) from error


# ------------------------------------------------------------------------------------------------ translation


def athena_to_duckdb(sql: str, *, as_of: dt.date | None = None) -> str:
    """Athena (Trino/Presto) SQL as DuckDB runs it. The ONE translation; it only rewrites what DuckDB rejects, so
    SQL already in DuckDB's dialect passes through unchanged. The rules:

    1. `date_format(x, fmt)` -> `strftime(x, fmt)`: same arguments; the specifiers the presets use (%Y, %m, %d,
       %H) mean the same in both (MySQL-style ones such as %i for minutes do not, and are left to the author).
    2. `approx_percentile(x, p)` -> `approx_quantile(x, p)`.
    3. Presto's four-argument `reduce(array, initial, (s, x) -> step, s -> output)` -> DuckDB's
       `list_reduce(array, lambda s, x: step, initial)`, with the output function applied by substituting its
       parameter (`s -> s`, the usual identity, adds nothing). DuckDB's own `reduce` takes 2 or 3 arguments.
    4. `as_of` (optional): `current_date` becomes that date, to evaluate the presets' "current year" partition
       filter for another day (the demo uses the day of its latest call, since the sample calls carry their own
       dates).
    Already DuckDB: `count_if`, `IF(c, a, b)`, `cardinality(array)`, `CROSS JOIN UNNEST(x) AS t(c)`, `||`,
    `CAST(... AS bigint)`, struct field access, `--` comments.
    """
    sql = re.sub(r"\bdate_format\s*\(", "strftime(", sql, flags=re.IGNORECASE)
    sql = re.sub(r"\bapprox_percentile\s*\(", "approx_quantile(", sql, flags=re.IGNORECASE)
    sql = _translate_reduce(sql)
    if as_of is not None:
        sql = re.sub(r"\bcurrent_date\b(\s*\(\s*\))?", f"DATE '{as_of.isoformat()}'", sql, flags=re.IGNORECASE)
    return sql


def _split_arguments(text: str, start: int) -> tuple[list[str], int]:
    """The top-level comma-separated arguments of the call whose "(" is at `start`, and the index after ")"."""
    depth = 0
    arguments: list[str] = []
    current = start + 1
    quote: str | None = None
    index = start
    while index < len(text):
        char = text[index]
        if quote:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
            if depth == 0:
                arguments.append(text[current:index].strip())
                return arguments, index + 1
        elif char == "," and depth == 1:
            arguments.append(text[current:index].strip())
            current = index + 1
        index += 1
    raise QueryError("unbalanced parentheses in a reduce(...) call")


_LAMBDA = re.compile(r"^\(?\s*([A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*)\s*\)?\s*->\s*(.*)$", re.DOTALL)


def _translate_reduce(sql: str) -> str:
    output: list[str] = []
    position = 0
    for match in re.finditer(r"\breduce\s*\(", sql, flags=re.IGNORECASE):
        if match.start() < position:
            continue  # inside a reduce(...) already translated
        arguments, end = _split_arguments(sql, match.end() - 1)
        step = _LAMBDA.match(arguments[2]) if len(arguments) == 4 else None
        finish = _LAMBDA.match(arguments[3]) if len(arguments) == 4 else None
        if step is None or finish is None:
            continue  # DuckDB's own reduce(list, lambda ...[, initial])
        array, initial = _translate_reduce(arguments[0]), _translate_reduce(arguments[1])
        call = f"list_reduce({array}, lambda {step.group(1)}: {_translate_reduce(step.group(2))}, {initial})"
        parameter, body = finish.group(1).strip(), finish.group(2).strip()
        if body != parameter:
            call = "(" + re.sub(rf"\b{re.escape(parameter)}\b", lambda _, reduced=call: reduced, body) + ")"
        output.append(sql[position : match.start()] + call)
        position = end
    output.append(sql[position:])
    return "".join(output)


# ------------------------------------------------------------------------------------------------------ DuckDB


def connect(root: Path, tables: Mapping[str, AthenaTable] | None = None) -> Any:
    """An in-memory DuckDB with the Athena tables and views over the bucket-like folder `root` (UTC clock)."""
    import duckdb

    tables = tables if tables is not None else athena_tables()
    try:
        views = compacted_views(tables.values())
    except TableDefinitionError as error:
        raise QueryError(str(error)) from error
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")  # Athena's current_date is UTC
    # One thread: DuckDB adds floating-point values in the order rows reach it, and with several threads that order
    # (so the last digit of an average rounded to 3 places) changed from one run of a preset to the next. On one
    # thread files are read in path order, which is also the order the compaction writes rows in, so a preset gives
    # the same answer before and after compaction, to the last digit.
    connection.execute("SET threads = 1")
    store = DirectoryStore(root)
    compacted_files: dict[str, list[str]] = {}
    compacted_days: dict[str, list[dt.date]] = {}
    for view in views.values():
        manifests = current_manifests(store, view)
        compacted_days[view.name] = list(manifests)
        compacted_files[view.compacted.name] = [
            (root / file.key).as_posix() for manifest in manifests.values() for file in manifest.files
        ]
    for table in tables.values():
        if table.kind == "json":
            connection.execute(f'CREATE VIEW "{table.name}" AS {_raw_select(root, table)}')
        elif table.kind == "parquet":
            files = compacted_files.get(table.name, [])
            select = parquet_select(files, table) if files else empty_select(table)
            connection.execute(f'CREATE VIEW "{table.name}" AS {select}')
    for view in views.values():
        sql = athena_to_duckdb(view_sql(view, compacted_days[view.name]))
        connection.execute(f'CREATE VIEW "{view.name}" AS {sql}')
    return connection


def _raw_select(root: Path, table: AthenaTable) -> str:
    folder = root / table.prefix
    if not folder.is_dir() or not any(folder.rglob("*.json.gz")):
        return empty_select(table)
    return json_select([(folder / "**" / "*.json.gz").as_posix()], table)


def _label(name: str) -> str:
    return name if len(name) <= 80 else name[:77] + "..."


def run_sql(connection: Any, name: str, sql: str) -> QueryResult:
    """Run one query; a DuckDB error becomes a QueryError that names it."""
    import duckdb

    try:
        cursor = connection.execute(sql)
        columns = [column[0] for column in cursor.description or []]
        rows = cursor.fetchall() if cursor.description else []
    except duckdb.Error as error:
        raise QueryError(f"query {_label(name)!r} failed: {error}") from error
    return QueryResult(name=name, sql=sql, columns=columns, rows=rows)


def preset_queries(names: Sequence[str] | None = None, *, as_of: dt.date | None = None) -> dict[str, str]:
    """The named presets (all when `names` is None or holds "all") in DuckDB's dialect, by preset name."""
    available = presets()
    chosen = (
        list(available.values())
        if names is None or any(name.lower() == "all" for name in names)
        else [find_preset(name, available) for name in names]
    )
    return {preset.name: athena_to_duckdb(preset.sql, as_of=as_of) for preset in chosen}


def latest_partition_date(connection: Any, table: str = "sessions") -> dt.date | None:
    """The newest year/month/day partition holding rows of `table` (None when empty)."""
    row = connection.execute(
        f"SELECT max(year || '-' || month || '-' || day) FROM \"{table}\""  # noqa: S608 - a table name of ours
    ).fetchone()
    return dt.date.fromisoformat(row[0]) if row and row[0] else None


def run_queries(
    root: Path, queries: Mapping[str, str] | None = None, *, as_of: dt.date | str | None = None
) -> list[QueryResult]:
    """Run `queries` ({name: DuckDB SQL}; default: every preset) over `root`. `as_of="latest"` evaluates the
    presets as of the newest sessions partition (what the demo does)."""
    connection = connect(root)
    try:
        if queries is None:
            day = latest_partition_date(connection) if as_of == "latest" else as_of
            queries = preset_queries(as_of=day if isinstance(day, dt.date) else None)
        return [run_sql(connection, name, sql) for name, sql in queries.items()]
    finally:
        connection.close()


def has_records(root: Path, tables: Mapping[str, AthenaTable] | None = None) -> bool:
    """Whether `root` holds any raw record or compacted file of the tables."""
    for table in (tables if tables is not None else athena_tables()).values():
        pattern = {"json": "*.json.gz", "parquet": "*.parquet"}.get(table.kind)
        if pattern and any((root / table.prefix).rglob(pattern)):
            return True
    return False


def download_bucket(
    bucket: str, target: Path, *, endpoint_url: str | None = None, tables: Mapping[str, AthenaTable] | None = None
) -> int:
    """Copy every object of the tables' prefixes of `bucket` into `target` (same keys): the raw records and the
    compacted days (files and manifests); returns how many."""
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "s3", endpoint_url=endpoint_url, config=Config(retries={"mode": "standard", "max_attempts": 3})
    )
    count = 0
    for table in (tables if tables is not None else athena_tables()).values():
        if table.kind == "view":
            continue
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=table.prefix + "/"):
            for item in page.get("Contents", []):
                key = item["Key"]
                destination = target / key
                wanted = key.endswith(".json.gz") if table.kind == "json" else key.endswith((".parquet", ".json"))
                if not wanted or not destination.resolve().is_relative_to(target.resolve()):
                    continue
                destination.parent.mkdir(parents=True, exist_ok=True)
                client.download_file(bucket, key, str(destination))
                count += 1
    return count


# ----------------------------------------------------------------------------------------------------- console


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, float):
        return f"{value:.6g}"  # approx_quantile's 0.6372499904036522 as 0.63725; the JSON keeps every digit
    return str(value)


def print_results(
    console: Any, results: Iterable[QueryResult | Mapping[str, Any]], max_rows: int | None = None
) -> None:
    """One rich table per result (QueryResult or its as_dict()), at most `max_rows` rows each."""
    from rich.table import Table
    from rich.text import Text

    for result in results:
        data = result.as_dict() if isinstance(result, QueryResult) else result
        console.print(Text(f"DuckDB: {data['name']}", style="bold"))  # above, not as a title squeezed to the width
        table = Table()
        for column in data["columns"]:
            table.add_column(str(column), overflow="fold")  # wrap long values rather than cut them
        rows = data["rows"]
        shown = rows if max_rows is None else rows[:max_rows]
        for row in shown:
            table.add_row(*(_cell(value) for value in row))
        if len(rows) > len(shown):
            table.caption = f"... {len(rows) - len(shown)} more rows (all in the report / with --json)"
        console.print(table)


# ----------------------------------------------------------------------------------------------------- command


def run_query_command(
    sql: str | None,
    preset_names: Sequence[str],
    *,
    list_presets: bool = False,
    directory: Path | None = None,
    bucket: str | None = None,
    endpoint: str | None = None,
    as_of: dt.date | None = None,
    as_json: bool = False,
    default_directory: Path = Path("build/demo"),
) -> int:
    """`voice-analytics query`: list presets, or run the presets and/or the SQL; returns the exit code."""
    import json
    import sys
    import tempfile

    from rich.console import Console

    available = presets()
    if list_presets:
        listing = [
            {"name": p.name, "slug": p.slug, "logical_id": p.logical_id, "description": p.description}
            for p in available.values()
        ]
        if as_json:
            sys.stdout.write(json.dumps(listing, indent=2) + "\n")
            return 0
        from rich.table import Table

        table = Table(title="Named queries in template.yaml (voice-analytics query --preset NAME)")
        for column in ("name", "slug", "logical id", "description"):
            table.add_column(column)
        for entry in listing:
            table.add_row(entry["name"], entry["slug"], entry["logical_id"], entry["description"])
        Console().print(table)
        return 0
    if not sql and not preset_names:
        raise QueryError("give SQL, --preset NAME or --list-presets")
    if bucket and directory:
        raise QueryError("give --bucket or --dir, not both")
    queries = preset_queries(preset_names, as_of=as_of) if preset_names else {}
    if sql:
        queries[sql] = athena_to_duckdb(sql, as_of=as_of)

    with tempfile.TemporaryDirectory(prefix="voice-analytics-query-") as scratch:
        if bucket:
            root = Path(scratch)
            count = download_bucket(bucket, root, endpoint_url=endpoint)
            sys.stderr.write(f"downloaded {count} objects from s3://{bucket}\n")
        else:
            root = directory or default_directory
            if not root.is_dir():
                raise QueryError(f"no folder {root}: run `make demo` first, or give --dir DIR or --bucket NAME")
            if not has_records(root):
                sys.stderr.write(f"warning: no *.json.gz records under {root}; the views are empty\n")
        results = run_queries(root, queries)
    if as_json:
        sys.stdout.write(json.dumps([result.as_dict() for result in results], indent=2) + "\n")
    else:
        print_results(Console(), results)
    return 0
