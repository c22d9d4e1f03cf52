"""local.demo.queries: Glue types as DuckDB types, the one Athena -> DuckDB translation, presets read from the
template."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest

from local.demo.queries import (
    QueryError,
    athena_tables,
    athena_to_duckdb,
    connect,
    find_preset,
    hive_to_duckdb,
    presets,
)


@pytest.mark.parametrize(
    ("hive", "duck"),
    [
        ("string", "VARCHAR"),
        ("int", "INTEGER"),
        ("bigint", "BIGINT"),
        ("double", "DOUBLE"),
        ("boolean", "BOOLEAN"),
        ("decimal(10,2)", "DECIMAL(10, 2)"),
        ("varchar(64)", "VARCHAR"),
        ("array<string>", "VARCHAR[]"),
        ("map<string,string>", "MAP(VARCHAR, VARCHAR)"),
        ("struct<name:string,version:string>", 'STRUCT("name" VARCHAR, "version" VARCHAR)'),
        (
            "array<struct<name:string,result_summary:map<string,string>>>",
            'STRUCT("name" VARCHAR, "result_summary" MAP(VARCHAR, VARCHAR))[]',
        ),
        ("struct< a : int , b : array< bigint > >", 'STRUCT("a" INTEGER, "b" BIGINT[])'),
    ],
)
def test_hive_types_become_duckdb_types(hive: str, duck: str) -> None:
    assert hive_to_duckdb(hive) == duck


@pytest.mark.parametrize("bad", ["struct<a:int", "array<>", "uniontype<int>", "int>", "map<string>", "a-b"])
def test_unreadable_hive_types_are_refused(bad: str) -> None:
    with pytest.raises(QueryError, match="unreadable Hive type"):
        hive_to_duckdb(bad)


def test_every_glue_column_type_of_the_template_is_a_valid_duckdb_type() -> None:
    tables = athena_tables()
    assert {name: table.kind for name, table in tables.items()} == {
        "sessions_raw": "json",
        "scored_raw": "json",
        "sessions_compacted": "parquet",
        "sessions": "view",
        "scored_compacted": "parquet",
        "scored": "view",
    }
    connection = duckdb.connect()
    for table in tables.values():
        for name, hive_type in table.columns + table.partition_keys:
            connection.execute(f"SELECT CAST(NULL AS {hive_to_duckdb(hive_type)}) AS {name}")


def test_translation_rewrites_only_what_duckdb_rejects() -> None:
    athena = (
        "SELECT date_format(current_date, '%Y') AS y, approx_percentile(x, 0.5) AS p, "
        "reduce(usage.llm, CAST(0 AS bigint), (total, u) -> total + u.input_tokens, total -> total) AS tokens "
        "FROM t CROSS JOIN UNNEST(tool_calls) AS c(call) WHERE IF(cardinality(a) > 0, true, false)"
    )
    assert athena_to_duckdb(athena) == (
        "SELECT strftime(current_date, '%Y') AS y, approx_quantile(x, 0.5) AS p, "
        "list_reduce(usage.llm, lambda total, u: total + u.input_tokens, CAST(0 AS bigint)) AS tokens "
        "FROM t CROSS JOIN UNNEST(tool_calls) AS c(call) WHERE IF(cardinality(a) > 0, true, false)"
    )
    duckdb_sql = "SELECT reduce([1, 2, 3], lambda a, b: a + b, 10), count_if(x), col->'$.a' FROM t"
    assert athena_to_duckdb(duckdb_sql) == duckdb_sql


def test_reduce_output_function_nesting_and_as_of_run_on_duckdb() -> None:
    connection = duckdb.connect()
    output_function = "SELECT reduce(ARRAY[1, 2, 3], 0, (s, x) -> s + x, s -> s * 10) AS v"
    assert connection.execute(athena_to_duckdb(output_function)).fetchall() == [(60,)]
    nested = "SELECT reduce([[1, 2], [3]], 0, (s, xs) -> s + reduce(xs, 0, (a, b) -> a + b, a -> a), s -> s) AS v"
    assert connection.execute(athena_to_duckdb(nested)).fetchall() == [(6,)]
    as_of = athena_to_duckdb("SELECT date_format(current_date, '%Y-%m-%d')", as_of=date(2031, 2, 3))
    assert as_of == "SELECT strftime(DATE '2031-02-03', '%Y-%m-%d')"
    assert connection.execute(as_of).fetchall() == [("2031-02-03",)]


def test_presets_come_from_the_template_and_are_found_by_name_slug_or_id() -> None:
    available = presets()
    assert list(available) == [
        "hot leads by day",
        "signal coverage",
        "tool success rate",
        "usage and cost per call",
        "topics by week",
        "sentiment by industry",
        "sentiment by outcome",
        "top unanswered questions",
        "competitor mentions",
    ]
    assert find_preset("Tool-Success-Rate", available).name == "tool success rate"
    assert find_preset("UsageAndCostQuery", available).name == "usage and cost per call"
    assert find_preset("  SIGNAL COVERAGE ", available).logical_id == "SignalCoverageQuery"
    with pytest.raises(QueryError, match="no preset named 'nope'; the template defines: 'hot leads by day'"):
        find_preset("nope", available)


def test_every_preset_binds_on_empty_views(tmp_path: Path) -> None:
    connection = connect(tmp_path)
    for preset in presets().values():
        assert connection.execute(athena_to_duckdb(preset.sql)).fetchall() == []
