"""Compaction: each finished day's raw objects (one gzip JSON object per session) rewritten as a few Parquet files.

Layout, per view (`sessions`, `scored`) and day, under the compacted table's prefix:

    compacted/scored/year=2026/month=11/day=21/part-<generation>-00000.parquet   (zstd, at most N rows each)
    compacted/scored/year=2026/month=11/day=21/_sources.json                     (raw key -> ETag it was read at)
    compacted/scored/year=2026/month=11/day=21/_manifest.json                    (written last: the commit)

Athena (and Hive) skip files whose names start with `_`, so the two JSON files never reach the Parquet table.

How the views avoid double counting: a day is *compacted* when it has a manifest written for the raw table's
current columns; the view reads compacted days from Parquet and every other day from the raw objects (see
functions/compact/tables.py). The raw objects stay where they are.

Idempotent: the generation is a digest of the raw keys and ETags and of the table's columns. A run recomputes it
from a listing; a day whose manifest carries that generation (and whose folder holds exactly its files) is left
alone, so running twice writes nothing the second time, and a forced rewrite of the same input writes the same
bytes. A late arrival (or a rewritten, or deleted, raw object) changes the generation: the next run rewrites that
day from all its raw objects. Until then the late object is not visible: its day is read from Parquet.

Order of writes, so a reader never sees a day twice or not at all:
- in AWS, the view is first rewritten without the days about to be rewritten (served from raw meanwhile), then
  parts are uploaded under new names, the sources and then the manifest written, the old parts deleted, and the
  view rewritten with every compacted day;
- locally (no Glue), the views read the files a manifest lists, so the manifest write is the switch.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from functions.common.gzip_capped import RejectedObjectError, decompress_capped
from functions.compact.duck import column_list, literal, read_json_call
from functions.compact.store import ObjectStore
from functions.compact.tables import CompactedView, GlueTable

MANIFEST_NAME = "_manifest.json"
SOURCES_NAME = "_sources.json"
FORMAT_VERSION = 1
_DAY_IN_KEY = re.compile(r"/year=(\d{4})/month=(\d{2})/day=(\d{2})/")

Action = Literal["compacted", "up to date", "cleaned", "kept", "not finished", "deferred", "failed"]
Decision = Literal["compact", "clean", "up to date", "kept"]


class CompactionError(RuntimeError):
    """A day could not be compacted; the message names the view, the day and why. Nothing of it was committed."""


# ------------------------------------------------------------------------------------------------------- models


class ManifestFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str
    rows: int = Field(ge=0)
    bytes: int = Field(ge=0)


class Manifest(BaseModel):
    """What a compacted day holds. Its presence (for the current schema) is what makes the day compacted."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int = FORMAT_VERSION
    table: str
    day: dt.date
    schema_hash: str
    generation: str
    objects: int = Field(ge=0)
    rows: int = Field(ge=0)
    files: list[ManifestFile]
    # Raw objects that could not be read (not gzip, over the size cap): counted in `objects`, no row in the files.
    skipped: dict[str, str] = Field(default_factory=dict)
    writer: str
    compacted_at: dt.datetime


class Sources(BaseModel):
    """The raw objects a generation was made from: key -> ETag."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    generation: str
    objects: dict[str, str]


@dataclass(frozen=True)
class CompactionOptions:
    """Tuning, from the function's settings (or the command's options)."""

    objects_per_file: int = 50_000
    lookback_days: int = 7
    # A day is finished this long after it ends (UTC): a call that starts at 23:59 is stored when it ends.
    settle_hours: float = 1.0
    max_decompressed_bytes: int = 5 * 1024 * 1024
    # Stop starting new days when less time than this is left (Lambda's timeout); the next run goes on.
    reserve_seconds: float = 120.0


@dataclass
class DayResult:
    view: str
    day: dt.date
    action: Action
    objects: int = 0
    rows: int = 0
    files: int = 0
    skipped_objects: int = 0
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "view": self.view,
            "day": self.day.isoformat(),
            "action": self.action,
            "objects": self.objects,
            "rows": self.rows,
            "files": self.files,
            "skipped_objects": self.skipped_objects,
            **({"reason": self.reason} if self.reason else {}),
        }


@dataclass
class RunReport:
    days: list[DayResult] = field(default_factory=list)
    compacted_days: dict[str, list[dt.date]] = field(default_factory=dict)

    @property
    def failed(self) -> list[DayResult]:
        return [result for result in self.days if result.action == "failed"]

    def as_dict(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for result in self.days:
            counts[result.action] = counts.get(result.action, 0) + 1
        return {
            "days": [result.as_dict() for result in self.days],
            "actions": counts,
            "compacted_days": {name: [day.isoformat() for day in days] for name, days in self.compacted_days.items()},
        }


class ViewPublisher(Protocol):
    """Writes a view so that it reads `days` from Parquet (Glue in AWS); locally there is none."""

    def __call__(self, view: CompactedView, days: Sequence[dt.date]) -> None: ...


class Log(Protocol):
    def info(self, msg: str, *args: Any, **kwargs: Any) -> Any: ...
    def warning(self, msg: str, *args: Any, **kwargs: Any) -> Any: ...


# ------------------------------------------------------------------------------------------------------ helpers


def day_prefix(prefix: str, day: dt.date) -> str:
    return f"{prefix}/year={day:%Y}/month={day:%m}/day={day:%d}/"


def key_day(key: str) -> dt.date | None:
    """The partition day of a key laid out as <prefix>/year=YYYY/month=MM/day=DD/..., else None."""
    match = _DAY_IN_KEY.search(key)
    if not match:
        return None
    try:
        return dt.date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None


def schema_hash(table: GlueTable) -> str:
    """A digest of what a compacted file must hold: the raw table's columns, partitions and malformed-line rule."""
    text = json.dumps([table.columns, table.partition_keys, table.ignore_malformed_json])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def generation(sources: Mapping[str, str], schema: str) -> str:
    """A digest of the raw objects (key and ETag) a day's files are made from, and of the schema."""
    digest = hashlib.sha256(f"v{FORMAT_VERSION} {schema}\n".encode())
    for key in sorted(sources):
        digest.update(f"{key} {sources[key]}\n".encode())
    return digest.hexdigest()[:16]


def is_finished(day: dt.date, now: dt.datetime, settle_hours: float) -> bool:
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=dt.UTC)
    return end + dt.timedelta(hours=settle_hours) <= now


def _raw_objects(listing: Mapping[str, str]) -> dict[str, str]:
    return {key: etag for key, etag in listing.items() if key.endswith(".json.gz")}


def _duckdb_connection(scratch: Path) -> Any:
    import duckdb

    connection = duckdb.connect()
    # No home folder in Lambda; DuckDB looks for one for its extension directory. Spills go to the scratch folder.
    connection.execute(f"SET home_directory = {literal(str(scratch))}")
    connection.execute(f"SET temp_directory = {literal(str(scratch / 'spill'))}")
    return connection


def _writer() -> str:
    import duckdb

    return f"duckdb {duckdb.__version__}"


@dataclass
class _Parts:
    files: list[ManifestFile]
    skipped: dict[str, str]


@dataclass
class _DayState:
    """What the compacted folder of one day holds now."""

    manifest: Manifest | None
    files: dict[str, str]  # every key in the day's folder -> ETag


def day_states(store: ObjectStore, view: CompactedView) -> dict[dt.date, _DayState]:
    """Every day with anything under the compacted prefix, with its manifest (if any) and files."""
    listing = store.list_keys(view.compacted.prefix + "/")
    states: dict[dt.date, _DayState] = {}
    for key, etag in listing.items():
        day = key_day(key)
        if day is not None:
            states.setdefault(day, _DayState(None, {})).files[key] = etag
    manifest_keys = sorted(key for key in listing if key.endswith("/" + MANIFEST_NAME))
    for key, body in zip(manifest_keys, store.get_many(manifest_keys), strict=True):
        manifest = Manifest.model_validate_json(body)
        day = key_day(key)
        if day is not None and manifest.day == day:
            states[day].manifest = manifest
    return states


def current_manifests(store: ObjectStore, view: CompactedView) -> dict[dt.date, Manifest]:
    """The compacted days of `view` (a manifest written for the raw table's current columns), with their manifests:
    what the view reads from Parquet."""
    schema = schema_hash(view.raw)
    return {
        day: state.manifest
        for day, state in sorted(day_states(store, view).items())
        if state.manifest is not None and state.manifest.schema_hash == schema
    }


# ------------------------------------------------------------------------------------------------------ compactor


class Compactor:
    """Compacts the days of each view's raw table into its compacted table, in one store."""

    def __init__(
        self,
        store: ObjectStore,
        views: Mapping[str, CompactedView],
        *,
        options: CompactionOptions | None = None,
        workdir: Path | None = None,
        publish: ViewPublisher | None = None,
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        log: Log | None = None,
    ) -> None:
        self.store = store
        self.views = dict(views)
        self.options = options or CompactionOptions()
        self.workdir = workdir
        self.publish = publish
        self.now = now
        self.log = log

    # -- reading the state ---------------------------------------------------------------------------------------

    def day_states(self, view: CompactedView) -> dict[dt.date, _DayState]:
        return day_states(self.store, view)

    def current_manifests(self, view: CompactedView) -> dict[dt.date, Manifest]:
        return current_manifests(self.store, view)

    def _raw_by_day(self, view: CompactedView, days: Sequence[dt.date] | None) -> dict[dt.date, dict[str, str]]:
        """Raw objects by day: of `days` (one listing each), or of every day (one listing of the prefix)."""
        found: dict[dt.date, dict[str, str]] = {}
        if days is None:
            for key, etag in _raw_objects(self.store.list_keys(view.raw.prefix + "/")).items():
                day = key_day(key)
                if day is not None:
                    found.setdefault(day, {})[key] = etag
            return found
        for day in days:
            objects = _raw_objects(self.store.list_keys(day_prefix(view.raw.prefix, day)))
            if objects:
                found[day] = objects
        return found

    # -- a run ---------------------------------------------------------------------------------------------------

    def run(
        self,
        *,
        day: dt.date | None = None,
        all_days: bool = False,
        force: bool = False,
        unfinished: bool = False,
        remaining_seconds: Callable[[], float] | None = None,
    ) -> RunReport:
        """Compact, in each view: `day` (even if not finished), or every finished day (`all_days`), or by default
        the finished days of the last `lookback_days`; `unfinished` takes today's (and any unfinished) day too, whose
        later arrivals the next run folds in. Days already up to date are left alone unless `force`."""
        now = self.now()
        today = now.astimezone(dt.UTC).date()
        report = RunReport()
        for view in self.views.values():
            states = self.day_states(view)
            if day is not None:
                window: list[dt.date] | None = [day]
            elif all_days:
                window = None
            else:
                window = [today - dt.timedelta(days=back) for back in range(self.options.lookback_days, 0, -1)]
            raw = self._raw_by_day(view, window)
            candidates = set(raw) | ({d for d in states if window is None or d in window})
            planned: list[dt.date] = []
            for candidate in sorted(candidates):
                if unfinished or candidate == day or is_finished(candidate, now, self.options.settle_hours):
                    planned.append(candidate)
                else:
                    report.days.append(DayResult(view.name, candidate, "not finished"))
            schema = schema_hash(view.raw)
            compacted = {d for d, state in states.items() if state.manifest and state.manifest.schema_hash == schema}
            decisions = {d: self._decide(view, d, raw.get(d, {}), states.get(d), force) for d in planned}
            touched = {d for d, (decision, _) in decisions.items() if decision in ("compact", "clean")}
            if self.publish is not None and compacted & touched:
                self.publish(view, sorted(compacted - touched))  # served from raw while they are rewritten
            for candidate in planned:
                decision, reason = decisions[candidate]
                state = states.get(candidate)
                if decision == "up to date" or decision == "kept":
                    rows = state.manifest.rows if state and state.manifest else 0
                    report.days.append(DayResult(view.name, candidate, decision, rows=rows, reason=reason))
                    continue
                if remaining_seconds is not None and remaining_seconds() < self.options.reserve_seconds:
                    report.days.append(DayResult(view.name, candidate, "deferred", reason="time is up; next run"))
                    continue
                try:
                    if decision == "clean" and state is not None and state.manifest is not None:
                        folder = day_prefix(view.compacted.prefix, candidate)
                        self._delete_except(state, {file.key for file in state.manifest.files}, folder)
                        result = DayResult(
                            view.name, candidate, "cleaned", objects=state.manifest.objects, rows=state.manifest.rows
                        )
                    else:
                        result = self.compact_day(view, candidate, raw.get(candidate, {}), state)
                except (CompactionError, OSError) as error:
                    result = DayResult(view.name, candidate, "failed", reason=str(error))
                    if self.log is not None:
                        self.log.warning("Compaction failed", extra=result.as_dict())
                report.days.append(result)
            report.compacted_days[view.name] = list(self.current_manifests(view))
            if self.publish is not None:
                self.publish(view, report.compacted_days[view.name])
        return report

    def _decide(
        self, view: CompactedView, day: dt.date, sources: Mapping[str, str], state: _DayState | None, force: bool
    ) -> tuple[Decision, str]:
        """What a planned day needs: "compact", "clean" (delete files its manifest does not list), "up to date", or
        "kept" (a compacted day whose raw objects are partly gone: rewriting it from what remains would lose rows)."""
        manifest = state.manifest if state is not None else None
        if manifest is None:
            return ("compact", "") if sources else ("up to date", "no raw objects")
        if not sources:
            return "up to date", "its raw objects are gone (expired or erased); the compacted day is kept"
        schema = schema_hash(view.raw)
        if force or manifest.schema_hash != schema:
            return "compact", "forced" if force else "the table's columns changed"
        folder = day_prefix(view.compacted.prefix, day)
        listed = {file.key for file in manifest.files}
        present = set(state.files) if state is not None else set()
        if manifest.generation == generation(sources, schema):
            if not listed <= present:
                return "compact", "a file of the manifest is missing"
            extra = present - listed - {folder + MANIFEST_NAME, folder + SOURCES_NAME}
            return ("clean", "files of an earlier generation") if extra else ("up to date", "")
        if folder + SOURCES_NAME not in present:
            return "compact", "its sources file is missing"
        [body] = self.store.get_many([folder + SOURCES_NAME])
        covered = Sources.model_validate_json(body).objects
        missing = set(covered) - set(sources)
        if missing:
            return "kept", (
                f"{len(missing)} raw objects it was made from are gone (expired or deleted); rewriting it from the "
                f"others would lose their rows: `voice-analytics compact --day {day} --force` does it on purpose"
            )
        return "compact", "raw objects arrived or changed since it was compacted"

    # -- one day -------------------------------------------------------------------------------------------------

    def compact_day(
        self,
        view: CompactedView,
        day: dt.date,
        sources: Mapping[str, str],
        state: _DayState | None = None,
    ) -> DayResult:
        """Write `day` of `view` from its raw objects `sources` (key -> ETag), replacing what the folder held."""
        folder = day_prefix(view.compacted.prefix, day)
        state = state or _DayState(None, {})
        if not sources:
            raise CompactionError(f"view {view.name!r}, day {day}: no raw objects to compact")
        schema = schema_hash(view.raw)
        current = generation(sources, schema)
        new = self._write_parts(view, day, sorted(sources), current)
        written = Manifest(
            table=view.compacted.name,
            day=day,
            schema_hash=schema,
            generation=current,
            objects=len(sources),
            rows=sum(file.rows for file in new.files),
            files=new.files,
            skipped=new.skipped,
            writer=_writer(),
            compacted_at=self.now(),
        )
        self._commit(folder, written, dict(sources))
        self._delete_except(state, {file.key for file in new.files}, folder)
        if new.skipped and self.log is not None:
            self.log.warning(
                "Raw objects could not be read and are not in the compacted day",
                extra={"view": view.name, "day": day.isoformat(), "skipped": new.skipped},
            )
        return DayResult(
            view.name,
            day,
            "compacted",
            objects=len(sources),
            rows=written.rows,
            files=len(new.files),
            skipped_objects=len(new.skipped),
        )

    def _commit(self, folder: str, manifest: Manifest, sources: dict[str, str]) -> None:
        body = Sources(generation=manifest.generation, objects=dict(sorted(sources.items())))
        self.store.put_bytes(folder + SOURCES_NAME, body.model_dump_json().encode())
        self.store.put_bytes(folder + MANIFEST_NAME, manifest.model_dump_json(indent=1).encode())

    def _delete_except(self, state: _DayState, kept: set[str], folder: str) -> None:
        keep = kept | {folder + MANIFEST_NAME, folder + SOURCES_NAME}
        stale = sorted(key for key in state.files if key not in keep)
        if stale:
            self.store.delete(stale)

    def _write_parts(self, view: CompactedView, day: dt.date, keys: list[str], current: str) -> _Parts:
        """Read the raw objects in key order, `objects_per_file` at a time, and upload one Parquet file per chunk."""
        folder = day_prefix(view.compacted.prefix, day)
        files: list[ManifestFile] = []
        skipped: dict[str, str] = {}
        with tempfile.TemporaryDirectory(prefix="compact-", dir=self.workdir) as scratch_name:
            scratch = Path(scratch_name)
            connection = _duckdb_connection(scratch)
            try:
                for start in range(0, len(keys), self.options.objects_per_file):
                    chunk = keys[start : start + self.options.objects_per_file]
                    ndjson = scratch / "chunk.ndjson"
                    lines = 0
                    with ndjson.open("wb") as out:
                        for key, body in zip(chunk, self.store.get_many(chunk), strict=True):
                            try:
                                text = decompress_capped(body, self.options.max_decompressed_bytes)
                            except RejectedObjectError as rejected:
                                skipped[key] = rejected.reason
                                continue
                            out.write(text if text.endswith(b"\n") else text + b"\n")
                            lines += 1
                    if not lines:
                        continue
                    part = scratch / "part.parquet"
                    rows = self._to_parquet(connection, ndjson, part, view.raw, view, day)
                    if rows:
                        files.append(self._store_part(folder, current, len(files), part, rows))
            finally:
                connection.close()
        return _Parts(files=files, skipped=skipped)

    def _store_part(self, folder: str, current: str, index: int, part: Path, rows: int) -> ManifestFile:
        """Upload the day's `index`-th Parquet file of generation `current`; its manifest entry."""
        key = f"{folder}part-{current}-{index:05d}.parquet"
        self.store.put_file(key, part)
        return ManifestFile(key=key, rows=rows, bytes=part.stat().st_size)

    @staticmethod
    def _to_parquet(
        connection: Any, ndjson: Path, part: Path, table: GlueTable, view: CompactedView, day: dt.date
    ) -> int:
        import duckdb

        source = read_json_call([ndjson.as_posix()], table, partitions=False)
        select = f"SELECT {column_list(table, partitions=False)} FROM {source}"  # noqa: S608 - our own names
        try:
            row = connection.execute(
                f"COPY ({select}) TO {literal(part.as_posix())} (FORMAT parquet, COMPRESSION zstd)"
            ).fetchone()
        except duckdb.Error as error:
            raise CompactionError(
                f"view {view.name!r}, day {day}: DuckDB could not convert the records: {error}"
            ) from error
        return int(row[0]) if row else 0

    # -- erasing sessions ----------------------------------------------------------------------------------------

    def remove_sessions(self, view: CompactedView, day: dt.date, session_ids: Sequence[str]) -> int:
        """Rewrite `day` of `view` without the rows of `session_ids`; returns how many rows were removed.

        For erasure: the raw objects of those sessions must be deleted too (before or after). Their keys are taken
        out of the day's sources, so once they are gone the next run finds the day up to date; while they exist,
        the next run rewrites the day from them, rows included."""
        states = self.day_states(view)
        state = states.get(day)
        if state is None or state.manifest is None or not session_ids:
            return 0
        manifest = state.manifest
        folder = day_prefix(view.compacted.prefix, day)
        [sources_body] = self.store.get_many([folder + SOURCES_NAME])
        sources = Sources.model_validate_json(sources_body)
        if sources.generation != manifest.generation:
            raise CompactionError(
                f"view {view.name!r}, day {day}: the sources do not match the manifest (a compaction stopped halfway); "
                "run `voice-analytics compact --day` for that day first, then remove the sessions"
            )
        wanted = sorted(set(session_ids))
        gone_names = {f"{session_id}.json.gz" for session_id in wanted}
        kept_sources = {key: etag for key, etag in sources.objects.items() if key.rsplit("/", 1)[-1] not in gone_names}
        current = generation(kept_sources, manifest.schema_hash)
        if self.publish is not None:
            self.publish(view, [d for d in self.current_manifests(view) if d != day])
        files: list[ManifestFile] = []
        excluded = ", ".join(literal(session_id) for session_id in wanted)
        with tempfile.TemporaryDirectory(prefix="compact-", dir=self.workdir) as scratch_name:
            scratch = Path(scratch_name)
            connection = _duckdb_connection(scratch)
            try:
                for old in manifest.files:
                    [body] = self.store.get_many([old.key])
                    source, part = scratch / "old.parquet", scratch / "part.parquet"
                    source.write_bytes(body)
                    columns = column_list(view.raw, partitions=False)
                    select = (
                        f"SELECT {columns} FROM read_parquet({literal(source.as_posix())})"  # noqa: S608
                        f' WHERE "session_id" IS NULL OR "session_id" NOT IN ({excluded})'
                    )
                    row = connection.execute(
                        f"COPY ({select}) TO {literal(part.as_posix())} (FORMAT parquet, COMPRESSION zstd)"
                    ).fetchone()
                    rows = int(row[0]) if row else 0
                    if rows:
                        files.append(self._store_part(folder, current, len(files), part, rows))
            finally:
                connection.close()
        rewritten = manifest.model_copy(
            update={
                "generation": current,
                "objects": len(kept_sources),
                "rows": sum(file.rows for file in files),
                "files": files,
                "skipped": {key: reason for key, reason in manifest.skipped.items() if key in kept_sources},
                "compacted_at": self.now(),
            }
        )
        self._commit(folder, rewritten, kept_sources)
        self._delete_except(state, {file.key for file in files}, folder)
        if self.publish is not None:
            self.publish(view, list(self.current_manifests(view)))
        return manifest.rows - rewritten.rows
