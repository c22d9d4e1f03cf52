"""SQL over the session records with DuckDB: the tables and columns of the Athena tables in template.yaml.

`connect(root)` opens an in-memory DuckDB with two views over a folder laid out like the bucket
(`<root>/sessions/year=YYYY/month=MM/day=DD/*.json.gz` and the same under `scored/`): `sessions` and `scored`,
with the partition columns `year`, `month`, `day` as strings, as in the Glue tables. `DEMO_QUERIES` are the
queries the demo prints; they are the template's named Athena queries in DuckDB's dialect (DuckDB has
`count_if`, `approx_quantile` and `unnest`; the current-year filter is left out because the sample calls
carry their own dates).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Partition columns are strings in the Glue tables ("03", not 3).
_HIVE_TYPES = "{'year': 'VARCHAR', 'month': 'VARCHAR', 'day': 'VARCHAR'}"

DEMO_QUERIES: dict[str, str] = {
    "hot leads by day": """
        SELECT year || '-' || month || '-' || day AS call_date,
               count(*) AS scored_calls,
               count_if(scoring.hot) AS hot_leads,
               round(avg(scoring.score), 1) AS average_score,
               count_if(scoring.grade = 'A') AS grade_a
        FROM scored
        GROUP BY 1
        ORDER BY 1 DESC
    """,
    "signal coverage": """
        SELECT count(*) AS calls,
               round(avg(CASE WHEN signals.team_size IS NOT NULL THEN 1.0 ELSE 0.0 END), 3) AS team_size,
               round(avg(CASE WHEN signals.monthly_volume IS NOT NULL THEN 1.0 ELSE 0.0 END), 3) AS monthly_volume,
               round(avg(CASE WHEN len(signals.integrations) > 0 THEN 1.0 ELSE 0.0 END), 3) AS integrations,
               round(avg(CASE WHEN signals.urgency IS NOT NULL THEN 1.0 ELSE 0.0 END), 3) AS urgency,
               round(avg(CASE WHEN signals.industry IS NOT NULL THEN 1.0 ELSE 0.0 END), 3) AS industry
        FROM sessions
    """,
    "tool success rate": """
        SELECT call.name AS tool,
               count(*) AS calls,
               round(avg(CASE WHEN call.success THEN 1.0 ELSE 0.0 END), 3) AS success_rate,
               round(approx_quantile(call.duration_ms, 0.5), 1) AS p50_ms,
               round(approx_quantile(call.duration_ms, 0.95), 1) AS p95_ms
        FROM sessions
        CROSS JOIN unnest(tool_calls) AS t(call)
        GROUP BY call.name
        ORDER BY calls DESC
    """,
}


@dataclass(frozen=True)
class QueryResult:
    name: str
    sql: str
    columns: list[str]
    rows: list[tuple[Any, ...]]

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "sql": " ".join(self.sql.split()),
            "columns": self.columns,
            "rows": [list(row) for row in self.rows],
        }


def connect(root: Path) -> Any:
    """An in-memory DuckDB with `sessions` and `scored` views over `root` (folders that exist only)."""
    import duckdb

    connection = duckdb.connect()
    for table in ("sessions", "scored"):
        folder = root / table
        if not any(folder.rglob("*.json.gz")):
            continue
        pattern = (folder / "**" / "*.json.gz").as_posix().replace("'", "''")
        connection.execute(
            f"CREATE VIEW {table} AS SELECT * FROM read_json_auto('{pattern}', hive_partitioning = true, "  # noqa: S608 - our own path
            f"hive_types = {_HIVE_TYPES}, union_by_name = true, format = 'newline_delimited')"
        )
    return connection


def run_queries(root: Path, queries: dict[str, str] | None = None) -> list[QueryResult]:
    connection = connect(root)
    results = []
    try:
        for name, sql in (queries or DEMO_QUERIES).items():
            cursor = connection.execute(sql)
            columns = [column[0] for column in cursor.description]
            results.append(QueryResult(name=name, sql=sql, columns=columns, rows=cursor.fetchall()))
    finally:
        connection.close()
    return results
