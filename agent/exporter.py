"""Export one session record: validate, gzip one NDJSON line, conditional put to S3, spool to disk on failure.

Guarantees, and how:
- The caller never waits: the export starts after the session closed, boto3 runs in a worker thread
  (`asyncio.to_thread`) and the whole attempt has a budget (`asyncio.wait_for`) inside LiveKit's shutdown
  timeout; botocore itself has bounded retries and connect/read timeouts.
- Never overwritten, never duplicated: the put is conditional (`If-None-Match: *`); 412 means an earlier
  attempt already wrote this session, which counts as done. `SessionExportOnce` makes every ending of one
  session export once.
- Never lost silently: when S3 cannot be reached in budget the gzip is written atomically to the spool
  directory (mirroring the key) and the log says where; `flush_spool` uploads it later. A record that fails
  validation is quarantined under `<spool>/invalid/` and raised, not dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from functions.common.record import SCHEMA_VERSION, RecordInvalidError, SessionRecord, parse_record

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

logger = logging.getLogger("agent.exporter")

CONTENT_TYPE = "application/x-ndjson"
CONTENT_ENCODING = "gzip"
SPOOL_SUFFIX = ".json.gz"
INVALID_DIR = "invalid"
# Records live under sessions/, where the backend's EventBridge rule listens. The write check targets a key
# there (so it proves the exact permission records need) but can never create an object (see check_write).
WRITE_CHECK_KEY = "_write_check/agent-write-check.json"


class PutOutcome(StrEnum):
    CREATED = "created"
    ALREADY_EXISTS = "already_exists"


class SinkError(Exception):
    """The sink could not store the record; the message names the destination and the cause."""


class RecordSink(Protocol):
    """Where records go. `put` blocks (it runs in a worker thread) and never overwrites an existing key."""

    def describe(self, key: str) -> str: ...

    def put(self, key: str, body: bytes, *, schema_version: str) -> PutOutcome: ...


def make_s3_client(
    *, endpoint_url: str = "", connect_timeout_s: float = 2.0, read_timeout_s: float = 3.0, max_attempts: int = 3
) -> S3Client:
    import boto3

    config = Config(
        connect_timeout=connect_timeout_s,
        read_timeout=read_timeout_s,
        retries={"max_attempts": max_attempts, "mode": "standard"},
    )
    return boto3.client("s3", endpoint_url=endpoint_url or None, config=config)


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _status(error: ClientError) -> int:
    return int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


class S3Sink:
    def __init__(self, bucket: str, client: S3Client, *, sse: str = "AES256", kms_key_id: str = "") -> None:
        if not bucket:
            raise ValueError("no analytics bucket: set ANALYTICS_BUCKET (or AWS_S3_BUCKET_NAME)")
        self.bucket = bucket
        self._client = client
        self._sse = sse
        self._kms_key_id = kms_key_id

    def describe(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def put(self, key: str, body: bytes, *, schema_version: str) -> PutOutcome:
        extra: dict[str, Any] = {"ServerSideEncryption": self._sse}
        if self._sse == "aws:kms" and self._kms_key_id:
            extra["SSEKMSKeyId"] = self._kms_key_id
        try:
            self._client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=body,
                ContentType=CONTENT_TYPE,
                ContentEncoding=CONTENT_ENCODING,
                Metadata={"schema-version": schema_version},
                IfNoneMatch="*",
                **extra,
            )
        except ClientError as error:
            if _error_code(error) == "PreconditionFailed" or _status(error) == 412:
                return PutOutcome.ALREADY_EXISTS
            raise SinkError(f"put to {self.describe(key)} failed: {_error_code(error)} {error}") from error
        except BotoCoreError as error:
            raise SinkError(f"put to {self.describe(key)} failed: {error}") from error
        return PutOutcome.CREATED

    def check_write(self, prefix: str) -> WriteCheck:
        """Prove PutObject on `<prefix>/` works without writing anything.

        The probe is a put with `If-Match` on a key that does not exist: S3 authorizes the request first
        (403 AccessDenied when the permission is missing) and only then evaluates the condition, which fails
        (404 NoSuchKey, or 412 if someone created the key). So no object, and no EventBridge "Object Created"
        event, is ever produced, and the permission checked is the one records need.
        """
        key = f"{prefix}/{WRITE_CHECK_KEY}"
        target = f"s3://{self.bucket}/{prefix}/*"
        try:
            self._client.put_object(
                Bucket=self.bucket, Key=key, Body=b"{}", IfMatch='"00000000000000000000000000000000"'
            )
        except ClientError as error:
            code, status = _error_code(error), _status(error)
            if code == "NoSuchBucket":
                return WriteCheck(False, f"bucket '{self.bucket}' does not exist (NoSuchBucket)")
            if code in ("NoSuchKey", "PreconditionFailed") or status in (404, 412):
                return WriteCheck(True, f"agent can write to {target}")
            if code in ("AccessDenied", "AllAccessDisabled") or status == 403:
                return WriteCheck(
                    False,
                    f"AccessDenied: the agent's credentials lack s3:PutObject on arn:aws:s3:::{self.bucket}/{prefix}/*",
                )
            return WriteCheck(False, f"write check on {target} failed: {code or status} {error}")
        except BotoCoreError as error:
            return WriteCheck(False, f"cannot reach S3 for bucket '{self.bucket}': {error}")
        # Stores that ignore If-Match (some S3-compatibles) accept the probe: writing works, but say so.
        return WriteCheck(True, f"agent can write to {target} (the store ignored If-Match; probe object {key} exists)")


@dataclass(frozen=True)
class WriteCheck:
    ok: bool
    detail: str


class DirectorySink:
    """A local directory laid out like the bucket (`--out DIR`); same never-overwrite semantics as S3."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def describe(self, key: str) -> str:
        return str(self.root / key)

    def put(self, key: str, body: bytes, *, schema_version: str) -> PutOutcome:
        target = self.root / key
        if target.exists():
            return PutOutcome.ALREADY_EXISTS
        try:
            temp = _write_temp(target.parent, body)
            try:
                # link() fails when the target exists, which makes the write conditional like If-None-Match.
                os.link(temp, target)
            except FileExistsError:
                return PutOutcome.ALREADY_EXISTS
            finally:
                temp.unlink(missing_ok=True)
        except OSError as error:
            raise SinkError(f"write to {target} failed: {error}") from error
        return PutOutcome.CREATED


def _write_temp(directory: Path, body: bytes) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".part")
    with os.fdopen(handle, "wb") as stream:
        stream.write(body)
        stream.flush()
        os.fsync(stream.fileno())
    return Path(name)


def write_atomically(path: Path, body: bytes) -> None:
    """Write `body` to `path` so that a reader sees either nothing or the whole file."""
    temp = _write_temp(path.parent, body)
    temp.replace(path)


def encode_record(record: SessionRecord) -> bytes:
    """One NDJSON line, gzipped; mtime=0 so the same record always gives the same bytes."""
    line = record.model_dump_json() + "\n"
    return gzip.compress(line.encode("utf-8"), compresslevel=6, mtime=0)


ExportStatus = Literal["uploaded", "already_exported", "spooled"]


@dataclass(frozen=True)
class ExportResult:
    status: ExportStatus
    key: str
    location: str
    duration_ms: float
    error: str | None = None


class Exporter:
    def __init__(self, sink: RecordSink, *, spool_dir: Path, budget_s: float = 5.0, prefix: str = "sessions") -> None:
        self.sink = sink
        self.spool_dir = spool_dir
        self.budget_s = budget_s
        self.prefix = prefix

    def validate(self, raw: dict[str, Any]) -> SessionRecord:
        """Validate against the v1 contract; an invalid record is quarantined, logged with its fields, raised."""
        try:
            return parse_record(raw, source=f"session {raw.get('session_id', '<unknown>')}")
        except RecordInvalidError as error:
            name = str(raw.get("session_id") or "unknown").replace("/", "_")
            path = self.spool_dir / INVALID_DIR / f"{name}-{int(time.time())}.json"
            write_atomically(path, (json.dumps(raw, default=str) + "\n").encode("utf-8"))
            logger.error("%s; NOT uploaded, raw record quarantined to %s", error, path)
            raise

    async def export(self, raw: dict[str, Any]) -> ExportResult:
        start = time.perf_counter()
        record = self.validate(raw)
        body = encode_record(record)
        key = record.object_key(self.prefix)
        try:
            outcome = await asyncio.wait_for(
                asyncio.to_thread(self.sink.put, key, body, schema_version=record.schema_version),
                timeout=self.budget_s,
            )
        except (TimeoutError, SinkError, OSError) as error:
            reason = f"no answer within {self.budget_s:.1f} s" if isinstance(error, TimeoutError) else str(error)
            path = spool(self.spool_dir, key, body)
            logger.warning(
                "session %s: export to %s failed (%s); record spooled to %s, `voice-analytics spool flush` uploads it",
                record.session_id,
                self.sink.describe(key),
                reason,
                path,
            )
            return ExportResult("spooled", key, str(path), _ms_since(start), error=reason)
        status: ExportStatus = "uploaded" if outcome is PutOutcome.CREATED else "already_exported"
        logger.info("session %s: record %s at %s", record.session_id, status, self.sink.describe(key))
        return ExportResult(status, key, self.sink.describe(key), _ms_since(start))


def _ms_since(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 3)


def spool(spool_dir: Path, key: str, body: bytes) -> Path:
    path = spool_dir / key
    write_atomically(path, body)
    return path


@dataclass
class FlushReport:
    uploaded: list[str] = field(default_factory=list)
    already_present: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"uploaded": self.uploaded, "already_present": self.already_present, "failed": self.failed}


def spooled_keys(spool_dir: Path) -> list[str]:
    if not spool_dir.is_dir():
        return []
    keys = []
    for path in sorted(spool_dir.rglob(f"*{SPOOL_SUFFIX}")):
        relative = path.relative_to(spool_dir)
        if relative.parts[0] == INVALID_DIR or path.name.startswith(".tmp-"):
            continue
        keys.append(relative.as_posix())
    return keys


def flush_spool(sink: RecordSink, spool_dir: Path) -> FlushReport:
    """Upload every spooled record (conditional put); delete each once it is stored or already was."""
    report = FlushReport()
    for key in spooled_keys(spool_dir):
        path = spool_dir / key
        try:
            outcome = sink.put(key, path.read_bytes(), schema_version=_schema_version_of(path))
        except (SinkError, OSError) as error:
            report.failed[key] = str(error)
            logger.warning("spooled record %s still not uploaded (%s); kept for the next flush", path, error)
            continue
        path.unlink(missing_ok=True)
        (report.uploaded if outcome is PutOutcome.CREATED else report.already_present).append(key)
        logger.info("spooled record %s -> %s (%s)", path, sink.describe(key), outcome.value)
    return report


def _schema_version_of(path: Path) -> str:
    try:
        first = json.loads(gzip.decompress(path.read_bytes()).split(b"\n", 1)[0])
    except (OSError, ValueError):
        return SCHEMA_VERSION
    version = first.get("schema_version") if isinstance(first, dict) else None
    return str(version or SCHEMA_VERSION)


class SessionExportOnce:
    """Every ending of one session (close event, shutdown callback, entrypoint error) shares one export."""

    def __init__(self, exporter: Exporter, build_record: Callable[[], dict[str, Any]]) -> None:
        self._exporter = exporter
        self._build_record = build_record
        self._task: asyncio.Task[ExportResult] | None = None

    @property
    def started(self) -> bool:
        return self._task is not None

    def trigger(self) -> asyncio.Task[ExportResult]:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="session-export")
        return self._task

    async def _run(self) -> ExportResult:
        # The record is built inside the task, so the event handler that triggered it returns at once.
        return await self._exporter.export(self._build_record())

    async def wait(self) -> ExportResult:
        """Trigger if needed and wait; the task is shielded so a cancelled waiter does not cancel the export."""
        return await asyncio.shield(self.trigger())


def log_task_outcome(task: asyncio.Task[Any]) -> None:
    """Log the outcome of a fire-and-forget export, so a failure is never only in an unretrieved task."""

    def done(finished: asyncio.Task[Any]) -> None:
        if finished.cancelled():
            logger.error("session export was cancelled before it finished")
            return
        with contextlib.suppress(asyncio.CancelledError):
            if (error := finished.exception()) is not None:
                logger.error("session export failed: %s", error)

    task.add_done_callback(done)
