"""Many sessions fast, for the analytics benchmark and the compaction tests: a folder laid out like the bucket, with
one gzip NDJSON object per session under sessions/ and one under scored/ (what the agent and score_lead write).

A few *templates* are made by the real code: session records (the agent's, from conversation scripts, or any
record), and their scored documents by score_lead's own scoring, insights and scored-document code. Each generated
session is a template with its session id and start/end times replaced in the JSON text (no parsing, no scoring per
session): 100,000 sessions take about a minute here, mostly gzip. The records are then as the presets see real ones
(every preset has rows), only repeated.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def scored_line(session_line: str) -> str:
    """score_lead's scored document for one session record (its NDJSON line), as score_lead writes it."""
    from functions.common.events import S3Location
    from functions.common.record import parse_record, partition_key
    from functions.common.settings import ScoreLeadSettings
    from functions.score_lead.logic import score_session

    settings = ScoreLeadSettings()
    record = parse_record(json.loads(session_line), source="synthetic")
    session_key = partition_key(settings.sessions_prefix.rstrip("/"), record.started_at, record.session_id)
    scored = score_session(record, S3Location(bucket="synthetic", key=session_key), settings)
    return json.dumps(scored.document, separators=(",", ":"), ensure_ascii=False)


def simulated_session_lines(scripts: Sequence[Path], scratch: Path) -> list[str]:
    """Session records of conversation scripts, made by the real agent in text mode (`voice-analytics simulate`)."""
    from typer.testing import CliRunner

    from voice_analytics.cli import app

    result = CliRunner().invoke(
        app, ["simulate", *map(str, scripts), "--out", str(scratch / "out")], env={"ANALYTICS_SPOOL_DIR": str(scratch)}
    )
    if result.exit_code != 0:
        raise RuntimeError(f"simulate failed: {result.output}")
    return [
        gzip.decompress(path.read_bytes()).decode().strip() for path in sorted((scratch / "out").rglob("*.json.gz"))
    ]


def _times(data: dict[str, Any]) -> tuple[str, str]:
    return str(data["started_at"]), str(data["ended_at"])


def write_synthetic(
    root: Path,
    session_lines: Sequence[str],
    count: int,
    first_day: dt.date,
    days: int,
    *,
    prefix: str = "synthetic",
    start_index: int = 0,
) -> list[tuple[dt.date, str]]:
    """Write `count` sessions (session and scored objects) spread evenly over `days` days from `first_day`, session
    i from template i % len(templates), at 09:00 UTC plus i seconds of its day. Returns (day, session id) of each."""
    # (table, JSON text, its session id, start and end as written in it) of each template, session and scored.
    templates = []
    for line in session_lines:
        scored = scored_line(line)
        templates.append(
            [
                (table, text, str(json.loads(text)["session_id"]), *_times(json.loads(text)))
                for table, text in (("sessions", line), ("scored", scored))
            ]
        )
    written: list[tuple[dt.date, str]] = []
    for index in range(start_index, start_index + count):
        day = first_day + dt.timedelta(days=index % days)
        start = dt.datetime.combine(day, dt.time(9), tzinfo=dt.UTC) + dt.timedelta(seconds=index // days)
        session_id = f"{prefix}-{index:07d}"
        folder = f"year={day:%Y}/month={day:%m}/day={day:%d}"
        for table, text, template_id, started, ended in templates[index % len(templates)]:
            duration = dt.datetime.fromisoformat(ended) - dt.datetime.fromisoformat(started)
            body = (
                text.replace(f'"{template_id}"', f'"{session_id}"')
                .replace(f'"{started}"', f'"{start.strftime("%Y-%m-%dT%H:%M:%SZ")}"')
                .replace(f'"{ended}"', f'"{(start + duration).strftime("%Y-%m-%dT%H:%M:%SZ")}"')
            )
            target = root / table / folder / f"{session_id}.json.gz"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(gzip.compress((body + "\n").encode(), compresslevel=6, mtime=0))
        written.append((day, session_id))
    return written
