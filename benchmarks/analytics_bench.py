"""The analysts' presets on DuckDB over many generated sessions, raw (one gzip object per session) and compacted
(Parquet), side by side in one run: the same folder, queried, compacted with the compact function's own code
(functions/compact/logic.py on a folder store), queried again. The answers must be the same; the times are what
the compaction buys the local query layer (Athena's gain is in S3 requests and is modelled by `voice-analytics cost`).

Sessions are made by benchmarks/analytics_data.py from the bundled conversation scripts, spread over `days` days.
The generated folder is kept under build/bench/ and reused while its description (count, days, scripts) matches.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FIRST_DAY = dt.date(2026, 11, 1)


def _folder_bytes(folder: Path, pattern: str) -> tuple[int, int]:
    files = [path for path in folder.rglob(pattern) if path.is_file()]
    return len(files), sum(path.stat().st_size for path in files)


def _dataset(sessions: int, days: int, work: Path) -> Path:
    """The generated bucket-like folder (raw objects only), reused when it matches."""
    from benchmarks.analytics_data import simulated_session_lines, write_synthetic

    scripts = sorted((ROOT / "conversations").glob("*.json"))
    digest = hashlib.sha256(b"".join(path.read_bytes() for path in scripts)).hexdigest()[:12]
    description = {"sessions": sessions, "days": days, "first_day": FIRST_DAY.isoformat(), "scripts": digest}
    root = work / f"analytics-{sessions}"
    marker = root / "dataset.json"
    if marker.exists() and json.loads(marker.read_text(encoding="utf-8")) == description:
        shutil.rmtree(root / "compacted", ignore_errors=True)  # an earlier run's compaction
        return root
    shutil.rmtree(root, ignore_errors=True)
    scratch = work / "analytics-scratch"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    lines = simulated_session_lines(scripts, scratch)
    write_synthetic(root, lines, sessions, FIRST_DAY, days)
    marker.write_text(json.dumps(description), encoding="utf-8")
    shutil.rmtree(scratch, ignore_errors=True)
    return root


def _timed_presets(
    root: Path, as_of: dt.date, progress: Callable[[str, float], None] | None = None
) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """Each preset's wall time (ms) on a fresh connection's views, and the answers."""
    from local.demo.queries import connect, preset_queries, run_sql

    connection = connect(root)
    try:
        times: dict[str, float] = {}
        answers = []
        for name, sql in preset_queries(as_of=as_of).items():
            started = time.perf_counter()
            result = run_sql(connection, name, sql)
            times[name] = round((time.perf_counter() - started) * 1000, 1)
            answers.append(result.as_dict())
            if progress is not None:
                progress(name, times[name])
        return times, answers
    finally:
        connection.close()


def run(
    sessions: int = 100_000, days: int = 7, work: Path | None = None, log: Callable[[str], None] = print
) -> dict[str, Any]:
    """Generate (or reuse), compact, time every preset on the compacted views, then on the raw objects alone (the
    compacted folder moved aside for that, then back)."""
    from functions.compact.logic import CompactionOptions, Compactor
    from functions.compact.store import DirectoryStore
    from functions.compact.tables import compacted_views
    from local.demo.queries import athena_tables

    work = work or ROOT / "build" / "bench"
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    root = _dataset(sessions, days, work)
    generate_s = time.perf_counter() - started
    log(f"analytics: {sessions:,} sessions ready in {generate_s:.0f} s")
    as_of = FIRST_DAY + dt.timedelta(days=days - 1)

    views = compacted_views(athena_tables().values())
    finished = dt.datetime.combine(as_of + dt.timedelta(days=2), dt.time(0), tzinfo=dt.UTC)
    started = time.perf_counter()
    report = Compactor(DirectoryStore(root), views, options=CompactionOptions(), now=lambda: finished).run(
        all_days=True
    )
    compact_s = time.perf_counter() - started
    log(f"analytics: compacted in {compact_s:.0f} s")
    compacted_ms, compacted_answers = _timed_presets(
        root, as_of, lambda name, ms: log(f"analytics: compacted {name}: {ms:,.0f} ms")
    )
    parquet_files, parquet_bytes = _folder_bytes(root / "compacted", "*.parquet")
    aside = root.with_name(root.name + "-compacted-aside")
    shutil.rmtree(aside, ignore_errors=True)
    (root / "compacted").rename(aside)
    try:
        raw_ms, raw_answers = _timed_presets(root, as_of, lambda name, ms: log(f"analytics: raw {name}: {ms:,.0f} ms"))
    finally:
        aside.rename(root / "compacted")

    raw_objects, raw_bytes = _folder_bytes(root / "scored", "*.json.gz")
    session_objects, session_bytes = _folder_bytes(root / "sessions", "*.json.gz")
    presets = {
        name: {
            "raw_ms": raw_ms[name],
            "compacted_ms": compacted_ms[name],
            "speedup": _ratio(raw_ms, compacted_ms, name),
        }
        for name in raw_ms
    }
    return {
        "sessions": sessions,
        "days": days,
        "generated_s": round(generate_s, 1),
        "raw": {"objects": raw_objects + session_objects, "bytes": raw_bytes + session_bytes},
        "compacted": {"files": parquet_files, "bytes": parquet_bytes},
        # Parquet bytes per gzip byte here: the generated sessions repeat a few dozen calls, which Parquet's
        # dictionaries compress far better than real calls; the cost model keeps its own, higher, assumption.
        "parquet_share_of_gzip_repeated_calls": round(parquet_bytes / (raw_bytes + session_bytes), 3),
        "compaction_s": round(compact_s, 1),
        "compaction_ms_per_object": round(compact_s * 1000 / max(1, raw_objects + session_objects), 3),
        "compaction_actions": report.as_dict()["actions"],
        "presets": presets,
        "all_presets_raw_ms": round(sum(raw_ms.values()), 1),
        "all_presets_compacted_ms": round(sum(compacted_ms.values()), 1),
        "speedup": round(sum(raw_ms.values()) / max(sum(compacted_ms.values()), 0.1), 1),
        "same_answers": raw_answers == compacted_answers,
        "duckdb_threads": 1,  # connect() runs DuckDB on one thread (deterministic float sums), raw and compacted alike
    }


def _ratio(raw: dict[str, float], compacted: dict[str, float], name: str) -> float:
    return round(raw[name] / max(compacted[name], 0.1), 1)


if __name__ == "__main__":
    import argparse
    import sys

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "bench" / "analytics.json")
    arguments = parser.parse_args()
    figures = run(arguments.sessions, log=lambda line: print(line, file=sys.stderr, flush=True))
    arguments.out.write_text(json.dumps(figures, indent=2), encoding="utf-8")
    print(json.dumps(figures, indent=2))
