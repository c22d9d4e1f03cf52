"""The compaction (functions/compact/logic.py) on a folder laid out like the bucket, read back through the same views
`voice-analytics query` uses (local/demo/queries.py): the presets' answers before and after, a second run, a late
arrival, unfinished and partly expired days, erasing sessions, an unreadable object, and the order in which the
views are rewritten around a rewrite."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pytest

from benchmarks.analytics_data import write_synthetic
from functions.compact.glue_types import hive_to_trino
from functions.compact.logic import (
    MANIFEST_NAME,
    CompactionOptions,
    Compactor,
    Manifest,
    current_manifests,
    day_prefix,
)
from functions.compact.store import DirectoryStore
from functions.compact.tables import CompactedView, compacted_views, day_ranges, view_sql
from local.demo.queries import athena_tables, athena_to_duckdb, run_queries
from tests.samples import example_record_data

FIRST_DAY = dt.date(2026, 11, 1)
DAYS = 4
SESSIONS = 24  # 6 a day
NOW = dt.datetime(2026, 11, 10, 12, 0, tzinfo=dt.UTC)  # every generated day is finished


def templates() -> list[str]:
    """Three calls, so that every preset has rows: the example (hot, a booking), a small team, and an unhappy caller
    without signals or contact who names a competitor and asks what the knowledge base cannot answer."""
    hot = example_record_data()
    small = {**example_record_data(), "session_id": "template-small"}
    small["signals"] = {**small["signals"], "team_size": 2, "monthly_volume": 10, "industry": "insurance"}
    quiet = {**example_record_data(), "session_id": "template-quiet", "contact": None}
    quiet["signals"] = {"team_size": None, "monthly_volume": None, "integrations": [], "urgency": None}
    quiet["signals"].update(industry=None, evidence=[])
    search = {**hot["tool_calls"][0], "success": False, "error": "no results", "result_summary": {"results": 0}}
    quiet["tool_calls"] = [{**search, "arguments": {"query": "azure tenant", "category": "integrations"}}]
    quiet["transcript"] = [
        {"index": 0, "role": "user", "text": "We use DocuSign today and honestly it is awful and too expensive."},
        {"index": 1, "role": "assistant", "text": "I'm not sure about that, let me look it up."},
        {"index": 2, "role": "user", "text": "Does it work with our Azure tenant? Bye."},
    ]
    return [json.dumps(record) for record in (hot, small, quiet)]


@pytest.fixture(scope="module")
def template_lines() -> list[str]:
    return templates()


@pytest.fixture
def bucket(tmp_path: Path, template_lines: list[str]) -> Path:
    root = tmp_path / "bucket"
    write_synthetic(root, template_lines, SESSIONS, FIRST_DAY, DAYS)
    return root


@pytest.fixture(scope="module")
def views() -> dict[str, CompactedView]:
    return compacted_views(athena_tables().values())


def compactor(root: Path, views: dict[str, CompactedView], **changes: Any) -> Compactor:
    options = CompactionOptions(objects_per_file=4, lookback_days=changes.pop("lookback_days", 7))
    return Compactor(DirectoryStore(root), views, options=options, now=changes.pop("now", lambda: NOW), **changes)


def answers(root: Path) -> list[dict[str, Any]]:
    """Every preset of the template, as the demo runs them (as of the newest day)."""
    return [result.as_dict() for result in run_queries(root, as_of="latest")]


def count(root: Path, table: str, day: dt.date) -> int:
    sql = f"SELECT count(*) FROM {table} WHERE year || '-' || month || '-' || day = '{day.isoformat()}'"
    [result] = run_queries(root, {"count": sql})
    return int(result.rows[0][0])


def files_under(root: Path) -> dict[str, bytes]:
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


def raw_only_copy(root: Path, target: Path) -> Path:
    """The same raw objects without anything compacted: what the answers must be."""
    shutil.copytree(root, target, ignore=shutil.ignore_patterns("compacted"))
    return target


def day_folder_files(root: Path, view: CompactedView, day: dt.date) -> set[str]:
    return {path.name for path in (root / day_prefix(view.compacted.prefix, day)).iterdir()}


# ---------------------------------------------------------------------------------------------------- the views


def test_every_preset_answers_the_same_before_and_after_compaction(
    bucket: Path, views: dict[str, CompactedView]
) -> None:
    before = answers(bucket)
    assert all(result["rows"] for result in before)  # every preset has something to compare

    report = compactor(bucket, views).run(all_days=True)

    assert {(result.view, result.action) for result in report.days} == {
        ("sessions", "compacted"),
        ("scored", "compacted"),
    }
    assert len(report.days) == 2 * DAYS and sum(result.rows for result in report.days) == 2 * SESSIONS
    for view in views.values():
        parquet = sorted((bucket / view.compacted.prefix).rglob("*.parquet"))
        assert len(parquet) == 2 * DAYS  # 6 objects a day, 4 to a file
    assert answers(bucket) == before
    # Each compacted day is read from Parquet alone: without the raw objects the answers stay the same.
    for view in views.values():
        shutil.rmtree(bucket / view.raw.prefix)
    assert answers(bucket) == before


def test_a_day_is_read_from_exactly_one_of_the_two_tables(views: dict[str, CompactedView]) -> None:
    """The view's predicate on its own: rows of the same day in both tables are counted once, from Parquet for a
    compacted day and from the raw table otherwise; consecutive days become one range."""
    view = views["scored"]
    assert day_ranges([dt.date(2026, 1, 3), dt.date(2026, 1, 1), dt.date(2026, 1, 2), dt.date(2026, 1, 5)]) == [
        (dt.date(2026, 1, 1), dt.date(2026, 1, 3)),
        (dt.date(2026, 1, 5), dt.date(2026, 1, 5)),
    ]
    connection = duckdb.connect()
    for table, source in ((view.raw.name, "raw"), (view.compacted.name, "parquet")):
        columns = ", ".join(
            f"'{source}' AS \"{name}\"" if name == "session_id" else f'NULL AS "{name}"' for name, _ in view.raw.columns
        )
        days = ", ".join(f"('2026', '01', '0{day}')" for day in range(1, 7))
        connection.execute(
            f'CREATE VIEW "{table}" AS SELECT {columns}, d.* FROM (VALUES {days}) AS d("year", "month", "day")'
        )
    compacted_days = [dt.date(2026, 1, day) for day in (1, 2, 3, 5)]
    sql = athena_to_duckdb(view_sql(view, compacted_days))
    rows = connection.execute(f'SELECT "day", session_id FROM ({sql}) ORDER BY 1').fetchall()
    assert rows == [
        ("01", "parquet"),
        ("02", "parquet"),
        ("03", "parquet"),
        ("04", "raw"),
        ("05", "parquet"),
        ("06", "raw"),
    ]
    assert (
        view_sql(view, [])
        == f'SELECT {", ".join(f"{chr(34)}{n}{chr(34)}" for n, _ in view.raw.all_columns)} FROM "scored_raw"'
    )


# ---------------------------------------------------------------------------------------------------- idempotence


def test_a_second_run_writes_nothing_and_answers_the_same(bucket: Path, views: dict[str, CompactedView]) -> None:
    compactor(bucket, views).run(all_days=True)
    first_files, first_answers = files_under(bucket / "compacted"), answers(bucket)

    report = compactor(bucket, views, now=lambda: NOW + dt.timedelta(days=1)).run(all_days=True)

    assert {result.action for result in report.days} == {"up to date"}
    assert files_under(bucket / "compacted") == first_files  # same files, same bytes, manifests included
    assert answers(bucket) == first_answers


def test_forcing_a_rewrite_of_the_same_objects_writes_the_same_parquet(
    bucket: Path, views: dict[str, CompactedView]
) -> None:
    compactor(bucket, views).run(all_days=True)
    parquet = {key: body for key, body in files_under(bucket).items() if key.endswith(".parquet")}

    report = compactor(bucket, views).run(all_days=True, force=True)

    assert {result.action for result in report.days} == {"compacted"}
    assert {key: body for key, body in files_under(bucket).items() if key.endswith(".parquet")} == parquet


# ---------------------------------------------------------------------------------------------------- late and partial


def test_a_late_arrival_is_folded_in_by_the_next_run(
    bucket: Path, views: dict[str, CompactedView], template_lines: list[str], tmp_path: Path
) -> None:
    compactor(bucket, views).run(all_days=True)
    late_day = FIRST_DAY + dt.timedelta(days=1)
    old_parts = {name: day_folder_files(bucket, view, late_day) for name, view in views.items()}
    [(_, late_id)] = write_synthetic(bucket, template_lines[:1], 1, late_day, 1, prefix="late")

    # Until the next run its day is read from Parquet: the late session is not counted yet.
    assert count(bucket, "scored", late_day) == SESSIONS // DAYS

    report = compactor(bucket, views).run(all_days=True)

    actions = {(result.view, result.day, result.action) for result in report.days}
    assert actions == {
        (view, FIRST_DAY + dt.timedelta(days=offset), "compacted" if offset == 1 else "up to date")
        for view in ("sessions", "scored")
        for offset in range(DAYS)
    }
    assert count(bucket, "scored", late_day) == count(bucket, "sessions", late_day) == SESSIONS // DAYS + 1
    assert answers(bucket) == answers(raw_only_copy(bucket, tmp_path / "raw"))
    for name, view in views.items():
        manifest = current_manifests(DirectoryStore(bucket), view)[late_day]
        assert manifest.objects == manifest.rows == SESSIONS // DAYS + 1
        assert any(
            key.endswith(f"/{late_id}.json.gz")
            for key in json.loads((bucket / day_prefix(view.compacted.prefix, late_day) / "_sources.json").read_text())[
                "objects"
            ]
        )
        # The earlier generation's files are gone: only this manifest's files and the two JSON files remain.
        now_present = day_folder_files(bucket, view, late_day)
        assert now_present == {Path(file.key).name for file in manifest.files} | {MANIFEST_NAME, "_sources.json"}
        assert not (old_parts[name] - {MANIFEST_NAME, "_sources.json"}) & now_present


def test_unfinished_days_wait_for_the_next_run_unless_asked_for(
    tmp_path: Path, views: dict[str, CompactedView], template_lines: list[str]
) -> None:
    root = tmp_path / "bucket"
    today = NOW.date()
    write_synthetic(root, template_lines, 3, today, 1)
    settled_soon = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(0, 30), tzinfo=dt.UTC)

    # During the day the daily run does not even look at it (it looks at the days before today); 30 minutes after
    # midnight it does, and waits (a call that started before midnight may still be stored: the settle time is 1 h).
    assert compactor(root, views).run().days == []
    report = compactor(root, views, now=lambda: settled_soon).run()
    assert {(result.day, result.action) for result in report.days} == {(today, "not finished")}
    assert not (root / "compacted").exists()

    report = compactor(root, views).run(day=today)

    assert {result.action for result in report.days} == {"compacted"}
    settled = settled_soon + dt.timedelta(hours=1)
    assert {result.action for result in compactor(root, views, now=lambda: settled).run().days} == {"up to date"}


def test_a_run_short_of_time_defers_days_to_the_next_run_and_writes_nothing_of_them(
    bucket: Path, views: dict[str, CompactedView]
) -> None:
    clock = iter([600.0, 600.0, 60.0])  # enough for the first day of `sessions`, then less than the reserve (120 s)

    report = compactor(bucket, views).run(all_days=True, remaining_seconds=lambda: next(clock, 60.0))

    actions = [(result.view, result.day, result.action) for result in report.days]
    assert actions[:2] == [
        ("sessions", FIRST_DAY, "compacted"),
        ("sessions", FIRST_DAY + dt.timedelta(days=1), "compacted"),
    ]
    assert {action for _, _, action in actions[2:]} == {"deferred"} and len(actions) == 2 * DAYS
    assert report.compacted_days == {"sessions": [FIRST_DAY, FIRST_DAY + dt.timedelta(days=1)], "scored": []}
    assert not (bucket / "compacted" / "scored").exists()

    report = compactor(bucket, views).run(all_days=True)
    assert sorted(result.action for result in report.days) == ["compacted"] * (2 * DAYS - 2) + ["up to date"] * 2


def test_the_daily_run_looks_back_lookback_days_only(bucket: Path, views: dict[str, CompactedView]) -> None:
    last_day = FIRST_DAY + dt.timedelta(days=DAYS - 1)
    two_days_later = dt.datetime.combine(last_day + dt.timedelta(days=2), dt.time(2), tzinfo=dt.UTC)

    report = compactor(bucket, views, now=lambda: two_days_later, lookback_days=2).run()

    assert {(result.day, result.action) for result in report.days} == {(last_day, "compacted")}
    assert report.compacted_days == {"sessions": [last_day], "scored": [last_day]}


def test_a_day_whose_raw_objects_are_partly_gone_is_kept_not_shrunk(
    bucket: Path, views: dict[str, CompactedView], template_lines: list[str]
) -> None:
    """A lifecycle rule (or a hand) deleted a raw object of a compacted day, and another arrived: rewriting the day
    from what remains would lose a session's row, so the day is kept until a forced rewrite says otherwise."""
    compactor(bucket, views).run(all_days=True)
    sessions = views["sessions"]
    gone = sorted((bucket / day_prefix(sessions.raw.prefix, FIRST_DAY)).glob("*.json.gz"))[0]
    gone.unlink()
    write_synthetic(bucket, template_lines[:1], 1, FIRST_DAY, 1, prefix="late")
    parquet = {key: body for key, body in files_under(bucket / "compacted").items() if key.endswith(".parquet")}

    report = compactor(bucket, views).run(all_days=True)

    kept = [result for result in report.days if result.view == "sessions" and result.day == FIRST_DAY]
    assert [result.action for result in kept] == ["kept"]
    assert "1 raw objects it was made from are gone" in kept[0].reason and "--force" in kept[0].reason
    parquet_now = {key: body for key, body in files_under(bucket / "compacted").items() if key.endswith(".parquet")}
    assert {key: body for key, body in parquet_now.items() if key.startswith("sessions/")} == {
        key: body for key, body in parquet.items() if key.startswith("sessions/")
    }
    assert count(bucket, "sessions", FIRST_DAY) == SESSIONS // DAYS  # the gone one still counted, the late one not yet

    compactor(bucket, views).run(day=FIRST_DAY, force=True)
    assert count(bucket, "sessions", FIRST_DAY) == SESSIONS // DAYS  # one gone, one arrived


def test_removing_sessions_rewrites_their_day_without_their_rows(
    bucket: Path, views: dict[str, CompactedView], tmp_path: Path
) -> None:
    compactor(bucket, views).run(all_days=True)
    day = FIRST_DAY + dt.timedelta(days=2)
    scored = views["scored"]
    erased = sorted(
        path.name.removesuffix(".json.gz") for path in (bucket / day_prefix(scored.raw.prefix, day)).iterdir()
    )[:2]

    removed = {name: compactor(bucket, views).remove_sessions(view, day, erased) for name, view in views.items()}

    assert removed == {"sessions": 2, "scored": 2}
    assert count(bucket, "scored", day) == count(bucket, "sessions", day) == SESSIONS // DAYS - 2
    ids = [row[0] for row in run_queries(bucket, {"ids": "SELECT session_id FROM scored"})[0].rows]
    assert not set(erased) & set(ids) and len(ids) == SESSIONS - 2
    # The raw objects are erased too (the caller's job): the next run finds the day up to date, not changed.
    for view in views.values():
        for session_id in erased:
            (bucket / day_prefix(view.raw.prefix, day) / f"{session_id}.json.gz").unlink()
    assert {result.action for result in compactor(bucket, views).run(all_days=True).days} == {"up to date"}
    assert answers(bucket) == answers(raw_only_copy(bucket, tmp_path / "raw"))


def test_removing_sessions_whose_raw_objects_remain_is_undone_by_the_next_run(
    bucket: Path, views: dict[str, CompactedView]
) -> None:
    compactor(bucket, views).run(all_days=True)
    scored = views["scored"]
    [erased] = sorted(
        path.name.removesuffix(".json.gz") for path in (bucket / day_prefix(scored.raw.prefix, FIRST_DAY)).iterdir()
    )[:1]
    assert compactor(bucket, views).remove_sessions(scored, FIRST_DAY, [erased]) == 1
    assert count(bucket, "scored", FIRST_DAY) == SESSIONS // DAYS - 1

    compactor(bucket, views).run(all_days=True)

    assert count(bucket, "scored", FIRST_DAY) == SESSIONS // DAYS  # its raw object was still there


def test_an_unreadable_raw_object_is_left_out_and_named_in_the_manifest(
    bucket: Path, views: dict[str, CompactedView]
) -> None:
    scored = views["scored"]
    broken = bucket / day_prefix(scored.raw.prefix, FIRST_DAY) / "broken.json.gz"
    broken.write_bytes(b"not gzip at all")

    report = compactor(bucket, views).run(day=FIRST_DAY)

    [result] = [result for result in report.days if result.view == "scored"]
    assert (result.action, result.objects, result.rows, result.skipped_objects) == ("compacted", 7, 6, 1)
    manifest = Manifest.model_validate_json(
        (bucket / day_prefix(scored.compacted.prefix, FIRST_DAY) / MANIFEST_NAME).read_bytes()
    )
    assert list(manifest.skipped) == [broken.relative_to(bucket).as_posix()]
    assert "not gzip" in manifest.skipped[broken.relative_to(bucket).as_posix()]


# ---------------------------------------------------------------------------------------------------- in AWS: Glue


def test_a_view_is_pointed_away_from_a_day_before_that_day_is_rewritten(
    bucket: Path, views: dict[str, CompactedView], template_lines: list[str]
) -> None:
    """What the function does to Glue (the publisher here records it): a day being rewritten is read from its raw
    objects meanwhile, and every compacted day is in the view at the end."""
    published: list[tuple[str, list[dt.date]]] = []

    def publish(view: CompactedView, days: Any) -> None:
        published.append((view.name, list(days)))

    all_days = [FIRST_DAY + dt.timedelta(days=offset) for offset in range(DAYS)]
    compactor(bucket, views, publish=publish).run(all_days=True)
    assert published == [("sessions", all_days), ("scored", all_days)]

    published.clear()
    late_day = FIRST_DAY + dt.timedelta(days=1)
    write_synthetic(bucket, template_lines[:1], 1, late_day, 1, prefix="late")
    compactor(bucket, views, publish=publish).run(all_days=True)

    others = [day for day in all_days if day != late_day]
    assert published == [("sessions", others), ("sessions", all_days), ("scored", others), ("scored", all_days)]


def test_glue_types_are_written_as_trino_spells_them() -> None:
    assert hive_to_trino("string") == "varchar"
    assert hive_to_trino("int") == "integer"
    assert hive_to_trino("array<struct<name:string,result_summary:map<string,string>>>") == (
        "array(row(name varchar, result_summary map(varchar, varchar)))"
    )
    assert hive_to_trino("struct<start:double,end:double>") == 'row(start double, "end" double)'
    assert hive_to_trino("decimal(10,2)") == "decimal(10,2)" and hive_to_trino("timestamp") == "timestamp(3)"
