"""`voice-analytics query`: DuckDB over a bucket-like folder (or a bucket) with the Athena tables and presets.

The folder is made the way production makes it: `sessions/` by the real agent and exporter (`voice-analytics
simulate --out`), `scored/` by score_lead's own scoring and scored-document code at score_lead's key. The scripts
are re-dated to today, so the presets' "current year" partition filter keeps its Athena meaning (no --as-of).
"""

from __future__ import annotations

import gzip
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer
from typer.testing import CliRunner

from local.demo.queries import QueryError, athena_tables, presets, run_queries
from local.ports import free_port
from voice_analytics.cli import app
from voice_analytics.template import load_template

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
# Qualified with a booking, a knowledge search, a short unqualified call, an unhappy caller naming a competitor and
# one whose questions went unanswered: every preset has rows.
SCRIPTS = (
    "demo-call-0001.json",
    "demo-call-0002.json",
    "demo-call-0003.json",
    "demo-call-0051.json",
    "demo-call-0053.json",
)


def _write_scored(root: Path) -> int:
    """score_lead's scored documents for every session object under root/sessions, at score_lead's keys."""
    from functions.common.events import S3Location
    from functions.common.settings import ScoreLeadSettings
    from functions.score_lead.logic import score_session
    from functions.score_lead.reader import read_record
    from functions.score_lead.storage import gzip_ndjson

    settings = ScoreLeadSettings()
    written = 0
    for path in sorted((root / "sessions").rglob("*.json.gz")):
        key = path.relative_to(root).as_posix()
        record = read_record(path.read_bytes(), key, settings.max_decompressed_bytes)
        scored = score_session(record, S3Location(bucket="mirror", key=key), settings)
        target = root / scored.location.key
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(gzip_ndjson(scored.document))
        written += 1
    return written


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Path:
    scripts = tmp_path_factory.mktemp("scripts")
    today = datetime.now(UTC).date().isoformat()
    for index, name in enumerate(SCRIPTS):
        script = json.loads((REPO / "conversations" / name).read_text())
        script["started_at"] = f"{today}T00:00:{index:02d}Z"
        (scripts / name).write_text(json.dumps(script))
    root = tmp_path_factory.mktemp("bucket")
    spool = tmp_path_factory.mktemp("spool")
    result = CliRunner().invoke(
        app, ["simulate", str(scripts), "--out", str(root)], env={"ANALYTICS_SPOOL_DIR": str(spool)}
    )
    assert result.exit_code == 0, result.output
    assert _write_scored(root) == len(SCRIPTS)
    return root


def _query(*args: str) -> Any:
    result = CliRunner().invoke(app, ["query", *args])
    assert result.exit_code == 0, f"{result.stdout}\n{result.stderr}"
    return json.loads(result.stdout)


def _compact(*args: str) -> Any:
    result = CliRunner().invoke(app, ["compact", *args])
    assert result.exit_code == 0, f"{result.stdout}\n{result.stderr}"
    return json.loads(result.stdout)


def test_every_preset_answers_the_same_after_compact_all(mirror: Path, tmp_path: Path) -> None:
    """demo-like records -> every preset -> `compact --all` -> every preset again: the same answers, from Parquet."""
    demo = tmp_path / "demo"
    shutil.copytree(mirror, demo)
    before = _query("--preset", "all", "--dir", str(demo), "--json")

    report = _compact("--all", "--dir", str(demo), "--json")

    parquet = sorted(path.relative_to(demo).as_posix() for path in (demo / "compacted").rglob("*.parquet"))
    today = datetime.now(UTC).date()
    folder = f"year={today:%Y}/month={today:%m}/day={today:%d}"
    assert [name.rsplit("/", 1)[0] for name in parquet] == [
        f"compacted/scored/{folder}",
        f"compacted/sessions/{folder}",
    ]
    assert report["compacted_days"] == {"sessions": [today.isoformat()], "scored": [today.isoformat()]}
    assert sorted((entry["view"], entry["rows"]) for entry in report["days"]) == [
        ("scored", len(SCRIPTS)),
        ("sessions", len(SCRIPTS)),
    ]
    after = _query("--preset", "all", "--dir", str(demo), "--json")
    assert after == before
    assert all(result["rows"] for result in after)


def test_every_preset_of_the_template_runs_on_duckdb_and_returns_rows(mirror: Path) -> None:
    results = _query("--preset", "all", "--dir", str(mirror), "--json")

    assert [result["name"] for result in results] == list(presets())
    by_name = {result["name"]: result for result in results}
    for name, result in by_name.items():
        assert result["rows"], f"preset {name!r} returned no rows"
    hot = by_name["hot leads by day"]
    assert hot["columns"][:2] == ["call_date", "scored_calls"]
    assert hot["rows"] == [[datetime.now(UTC).date().isoformat(), len(SCRIPTS), *hot["rows"][0][2:]]]
    assert by_name["signal coverage"]["rows"][0][1] == len(SCRIPTS)
    assert {row[0] for row in by_name["tool success rate"]["rows"]} >= {"book_sales_meeting"}
    usage = by_name["usage and cost per call"]
    assert len(usage["rows"]) == len(SCRIPTS)
    assert all(row[usage["columns"].index("input_tokens")] > 0 for row in usage["rows"])
    # The insights presets, as the two insights calls' scripts have it (tests/fixtures/conversations/expected.json).
    topics = by_name["topics by week"]
    assert {row[1] for row in topics["rows"]} >= {"pricing", "integrations", "security_compliance"}
    assert sum(row[2] for row in topics["rows"] if row[1] == "pricing") == 2  # 0002 asks the price, 0051 objects
    questions = {row[0]: row[1] for row in by_name["top unanswered questions"]["rows"]}
    assert questions == {"hipaa business associate agreement": 1, "azure tenant": 1}
    competitors = by_name["competitor mentions"]
    assert [row[:2] for row in competitors["rows"]] == [["docusign", 1]]
    assert competitors["rows"][0][competitors["columns"].index("average_sentiment")] < 0
    industries = {row[0]: row for row in by_name["sentiment by industry"]["rows"]}
    columns = by_name["sentiment by industry"]["columns"]
    assert industries["insurance"][columns.index("negative_calls")] == 1
    assert industries["legal"][columns.index("positive_calls")] == 1
    outcomes = by_name["sentiment by outcome"]
    by_outcome = {row[0]: row[outcomes["columns"].index("calls")] for row in outcomes["rows"]}
    assert by_outcome == {"meeting_booked": 1, "follow_up": 1, "none": 3}


def test_presets_are_found_by_slug_and_logical_id_and_listed(mirror: Path) -> None:
    first = _query("--preset", "hot-leads-by-day", "--dir", str(mirror), "--json")
    second = _query("-p", "SignalCoverageQuery", "--dir", str(mirror), "--json")
    assert [first[0]["name"], second[0]["name"]] == ["hot leads by day", "signal coverage"]

    listed = _query("--list-presets", "--json")
    template = load_template()
    named = [
        resource["Properties"]["Name"]
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Athena::NamedQuery"
    ]
    assert [entry["name"] for entry in listed] == named


def test_views_have_the_athena_tables_columns_then_the_partitions(mirror: Path) -> None:
    template = load_template()
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::Glue::Table":
            continue
        table = resource["Properties"]["TableInput"]
        expected = [column["Name"] for column in table["StorageDescriptor"]["Columns"]]
        # Views list the partition columns with the others (as Athena writes a view); tables have PartitionKeys.
        expected += [key["Name"] for key in table.get("PartitionKeys", [])]
        described = _query(f'DESCRIBE "{table["Name"]}"', "--dir", str(mirror), "--json")[0]
        assert [row[0] for row in described["rows"]] == expected
        partitions = [row[1] for row in described["rows"][-3:]]
        assert partitions == ["VARCHAR", "VARCHAR", "VARCHAR"]  # strings, as in Glue ("03", not 3)


def test_custom_sql_works_and_as_of_moves_the_current_year(mirror: Path) -> None:
    rows = _query(
        "SELECT s.session_id, s.month, c.scoring.grade, c.lead_key IS NOT NULL AS keyed "
        "FROM sessions s JOIN scored c USING (session_id) ORDER BY 1",
        "--dir",
        str(mirror),
        "--json",
    )[0]["rows"]
    month = f"{datetime.now(UTC).month:02d}"
    assert [(row[0], row[1], row[3]) for row in rows] == [(name[:-5], month, True) for name in SCRIPTS]
    assert all(row[2] in {"A", "B", "C", "D"} for row in rows)

    # Athena SQL as written in the console works too (translated), and --as-of stands in for current_date.
    last_year = f"{datetime.now(UTC).year - 1}-06-30"
    athena = "SELECT count(*) AS n FROM sessions WHERE year = date_format(current_date, '%Y')"
    assert _query(athena, "--dir", str(mirror), "--json")[0]["rows"] == [[len(SCRIPTS)]]
    assert _query(athena, "--dir", str(mirror), "--as-of", last_year, "--json")[0]["rows"] == [[0]]
    assert _query("--preset", "hot leads by day", "--dir", str(mirror), "--as-of", last_year, "--json")[0]["rows"] == []


def test_a_table_output_is_printed_by_default(mirror: Path) -> None:
    result = CliRunner().invoke(
        app, ["query", "SELECT count(*) AS scored_sessions FROM scored", "--dir", str(mirror)], env={"COLUMNS": "120"}
    )
    assert result.exit_code == 0, result.stderr
    assert "DuckDB: SELECT count(*) AS scored_sessions FROM scored" in result.stdout
    assert "scored_sessions" in result.stdout and f"│ {len(SCRIPTS)} " in result.stdout


def test_bad_sql_fails_with_a_clear_error_naming_the_query(mirror: Path) -> None:
    result = CliRunner().invoke(app, ["query", "SELECT no_such_column FROM sessions", "--dir", str(mirror)])
    assert result.exit_code == 1
    assert "query 'SELECT no_such_column FROM sessions' failed" in result.stderr
    assert "no_such_column" in result.stderr and "Traceback" not in result.stderr

    with pytest.raises(QueryError, match=r"query 'broken preset' failed: .*Table with name nowhere does not exist"):
        run_queries(mirror, {"fine": "SELECT 1", "broken preset": "SELECT * FROM nowhere"})

    unknown = CliRunner().invoke(app, ["query", "--preset", "no such preset", "--dir", str(mirror)])
    assert unknown.exit_code == 1
    assert "no preset named 'no such preset'" in unknown.stderr and "'hot leads by day'" in unknown.stderr

    missing = CliRunner().invoke(app, ["query", "SELECT 1", "--dir", str(mirror / "absent")])
    assert missing.exit_code == 1 and "run `make demo` first" in missing.stderr


def test_an_empty_folder_gives_empty_views_that_still_bind(tmp_path: Path) -> None:
    results = _query("--preset", "all", "--dir", str(tmp_path), "--json")
    assert [result["rows"] for result in results] == [[]] * len(presets())


def test_reads_the_same_records_from_a_bucket(mirror: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        s3 = boto3.client("s3", endpoint_url=endpoint)
        s3.create_bucket(Bucket="sessions-bucket")
        for path in sorted(mirror.rglob("*.json.gz")):
            s3.upload_file(str(path), "sessions-bucket", path.relative_to(mirror).as_posix())
        s3.put_object(Bucket="sessions-bucket", Key="quarantine/x.json.gz", Body=gzip.compress(b"{}"))

        from_bucket = _query("--preset", "all", "--bucket", "sessions-bucket", "--endpoint", endpoint, "--json")
        # The same compaction code on the bucket (moto's S3), then the same presets read through the views.
        report = _compact("--all", "--bucket", "sessions-bucket", "--endpoint", endpoint, "--json")
        compacted_keys = [
            item["Key"]
            for item in s3.list_objects_v2(Bucket="sessions-bucket", Prefix="compacted/")["Contents"]
            if item["Key"].endswith(".parquet")
        ]
        after = _query("--preset", "all", "--bucket", "sessions-bucket", "--endpoint", endpoint, "--json")
    finally:
        server.stop()
    from_folder = _query("--preset", "all", "--dir", str(mirror), "--json")
    assert from_bucket == from_folder
    assert report["actions"] == {"compacted": 2}  # today's day of sessions and of scored
    assert len(compacted_keys) == 2
    assert after == from_bucket
    tables = athena_tables().values()
    assert {table.prefix for table in tables if table.kind != "view"} == {
        "sessions",
        "scored",
        "compacted/sessions",
        "compacted/scored",
    }


def test_the_demo_folder_layout_is_what_the_query_command_reads(tmp_path: Path, mirror: Path) -> None:
    """`demo` writes <report dir>/sessions and /scored; `query --dir <report dir>` reads exactly that."""
    demo_dir = tmp_path / "demo"
    shutil.copytree(mirror, demo_dir)
    (demo_dir / "report.json").write_text("{}")
    (demo_dir / "state").mkdir()
    assert _query("SELECT count(*) FROM scored", "--dir", str(demo_dir), "--json")[0]["rows"] == [[len(SCRIPTS)]]
