"""Export one session record: validate, gzip one NDJSON line, conditional put to S3, spool to disk on failure.

Guarantees, and how:
- The caller never waits: the export starts after the session closed, boto3 runs in a worker thread
  (`asyncio.to_thread`) and the whole attempt has a budget (`asyncio.wait_for`) inside LiveKit's shutdown
  timeout; botocore itself has bounded retries and connect/read timeouts.
- Never overwritten, never dropped: the put is conditional (`If-None-Match: *`). 412 counts as done only when
  the sink can read the existing object and its bytes are this record's (a repeated export). Otherwise (another
  record at that key, or a sink that may not read: the agent's S3 role has only s3:PutObject, on purpose) the
  record is stored under a collision key beside it, `<session_id>.dup-<sha256 of the bytes, 16 hex>.json.gz`,
  also conditionally, and a WARNING names both keys. score_lead reads the primary object and acknowledges an
  identical copy as a duplicate export, or processes a different one as a session of its own.
  `SessionExportOnce` makes every ending of one session export once.
- Never lost silently: when S3 cannot be reached in budget the gzip is written atomically to the spool
  directory (mirroring the key) and the log says where; `flush_spool` uploads it later. A record that fails
  validation is quarantined under `<spool>/invalid/` and raised, not dropped.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gzip
import hashlib
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

from agent.analytics_log import log_session_analytics
from functions.common.record import SCHEMA_VERSION, RecordInvalidError, SessionRecord, parse_record

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from agent.settings import AgentSettings

logger = logging.getLogger("agent.exporter")

CONTENT_TYPE = "application/x-ndjson"
CONTENT_ENCODING = "gzip"
SPOOL_SUFFIX = ".json.gz"
INVALID_DIR = "invalid"
# Records live under sessions/, where the backend's EventBridge rule listens. The write check targets a key
# there (so it proves the exact permission records need) but can never create an object (see check_write).
WRITE_CHECK_KEY = "_write_check/agent-write-check.json"
WRITE_CHECK_BODY = b"{}"
# The Content-MD5 the probe sends: the digest of other bytes than its body, so S3 refuses the body (BadDigest).
WRITE_CHECK_WRONG_MD5 = base64.b64encode(hashlib.md5(b"not the probe's body").digest()).decode()  # noqa: S324


class PutOutcome(StrEnum):
    CREATED = "created"
    ALREADY_EXISTS = "already_exists"


class SinkError(Exception):
    """The sink could not store the record; the message names the destination and the cause."""


# Collision copies: `<stem>.dup-<16 hex>.json.gz`, the stem being the session id (score_lead reads this too).
COLLISION_MARK = ".dup-"


class RecordSink(Protocol):
    """Where records go. Both calls block (they run in a worker thread); `put` never overwrites an existing key."""

    def describe(self, key: str) -> str: ...

    def put(self, key: str, body: bytes, *, schema_version: str) -> PutOutcome: ...

    def read(self, key: str) -> bytes | None:
        """The bytes stored at `key`; None when this sink may not read them (or they are gone)."""
        ...


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


def s3_sink_from_settings(settings: AgentSettings, *, bucket: str | None = None, read_existing: bool = False) -> S3Sink:
    """The bucket as the settings describe it: ANALYTICS_BUCKET (or `bucket`), the endpoint, timeouts and retries.
    The one place a sink is made from settings (the agent, `simulate`, `spool flush`, `doctor`, the demo). The agent
    only writes; an operator's command may read (`read_existing`) to recognise a repeat. Encryption is the bucket's
    own (SSE-KMS, template.yaml): a put names none, so no agent setting can weaken or change it."""
    client = make_s3_client(
        endpoint_url=settings.aws_endpoint_url,
        connect_timeout_s=settings.s3_connect_timeout_s,
        read_timeout_s=settings.s3_read_timeout_s,
        max_attempts=settings.s3_max_attempts,
    )
    return S3Sink(settings.analytics_bucket if bucket is None else bucket, client, read_existing=read_existing)


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _status(error: ClientError) -> int:
    return int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


class S3Sink:
    """The bucket. `read_existing=False` (the agent) never reads: its role has only s3:PutObject on sessions/*, so
    that a leaked agent key cannot read records. The operator's `spool flush` reads, to recognise a repeat."""

    def __init__(self, bucket: str, client: S3Client, *, read_existing: bool = False) -> None:
        if not bucket:
            raise ValueError("no analytics bucket: set ANALYTICS_BUCKET (or AWS_S3_BUCKET_NAME)")
        self.bucket = bucket
        self._client = client
        self._read_existing = read_existing

    def describe(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def put(self, key: str, body: bytes, *, schema_version: str) -> PutOutcome:
        # No ServerSideEncryption: the bucket's default (SSE-KMS, its key) applies to every record.
        try:
            self._client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=body,
                ContentType=CONTENT_TYPE,
                ContentEncoding=CONTENT_ENCODING,
                Metadata={"schema-version": schema_version},
                IfNoneMatch="*",
            )
        except ClientError as error:
            if _error_code(error) == "PreconditionFailed" or _status(error) == 412:
                return PutOutcome.ALREADY_EXISTS
            raise SinkError(f"put to {self.describe(key)} failed: {_error_code(error)} {error}") from error
        except BotoCoreError as error:
            raise SinkError(f"put to {self.describe(key)} failed: {error}") from error
        return PutOutcome.CREATED

    def read(self, key: str) -> bytes | None:
        if not self._read_existing:
            return None
        try:
            return self._client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as error:
            code = _error_code(error)
            if code in ("NoSuchKey", "AccessDenied") or _status(error) in (403, 404):
                logger.warning("cannot read %s to compare it (%s)", self.describe(key), code or _status(error))
                return None
            raise SinkError(f"read of {self.describe(key)} failed: {code} {error}") from error
        except BotoCoreError as error:
            raise SinkError(f"read of {self.describe(key)} failed: {error}") from error

    def check_write(self, prefix: str) -> WriteCheck:
        """Prove that a record's put under `<prefix>/` is allowed, without writing anything.

        The probe is the request a record makes, a PutObject with `If-None-Match: *` (the agent's policy denies any
        other put, template.yaml AgentSessionWriterPolicy), with a Content-MD5 that does not match its body. S3
        authorizes a request from its headers before it reads the body (403 AccessDenied when the permission is
        missing), then refuses the body (400 BadDigest); 412 means the probe key exists. So no object, and no
        EventBridge "Object Created" event, is ever produced, and the permission checked is the one records need.
        """
        key = f"{prefix}/{WRITE_CHECK_KEY}"
        target = f"s3://{self.bucket}/{prefix}/*"
        try:
            self._client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=WRITE_CHECK_BODY,
                IfNoneMatch="*",
                ContentMD5=WRITE_CHECK_WRONG_MD5,
            )
        except ClientError as error:
            code, status = _error_code(error), _status(error)
            if code == "NoSuchBucket":
                return WriteCheck(False, f"bucket '{self.bucket}' does not exist (NoSuchBucket)")
            if code in ("BadDigest", "PreconditionFailed") or status == 412:
                return WriteCheck(True, f"agent can create records under {target}")
            if code in ("AccessDenied", "AllAccessDisabled") or status == 403:
                return WriteCheck(
                    False,
                    f"AccessDenied: the agent's credentials lack s3:PutObject (with If-None-Match) on "
                    f"arn:aws:s3:::{self.bucket}/{prefix}/*",
                )
            return WriteCheck(False, f"write check on {target} failed: {code or status} {error}")
        except BotoCoreError as error:
            return WriteCheck(False, f"cannot reach S3 for bucket '{self.bucket}': {error}")
        # Stores that ignore Content-MD5 (some S3-compatibles) accept the probe: writing works, but say so.
        return WriteCheck(
            True, f"agent can create records under {target} (the store ignored Content-MD5; probe object {key} exists)"
        )


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

    def read(self, key: str) -> bytes | None:
        try:
            return (self.root / key).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as error:
            raise SinkError(f"read of {self.root / key} failed: {error}") from error


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
    """One NDJSON line, gzipped; mtime=0 so the same record always gives the same bytes.

    Only the fields the producer set are written: optional fields added to v1 later (room, audio latencies, model
    request counts) are absent when unknown, so such a record is byte-for-byte what every v1 reader takes.
    """
    line = record.model_dump_json(exclude_unset=True) + "\n"
    return gzip.compress(line.encode("utf-8"), compresslevel=6, mtime=0)


StoreStatus = Literal["uploaded", "already_exported", "collision"]
ExportStatus = Literal["uploaded", "already_exported", "collision", "spooled"]


@dataclass(frozen=True)
class Stored:
    status: StoreStatus
    key: str


def collision_key(key: str, body: bytes) -> str:
    """The key a record takes when its own key holds something else (or something this sink cannot compare)."""
    stem = key.removesuffix(SPOOL_SUFFIX)
    return f"{stem}{COLLISION_MARK}{hashlib.sha256(body).hexdigest()[:16]}{SPOOL_SUFFIX}"


def store(sink: RecordSink, key: str, body: bytes, *, schema_version: str) -> Stored:
    """Put `body` at `key`; an existing object counts as this record only if its bytes are these.

    Raises SinkError (or OSError) when the sink fails; the caller spools.
    """
    if sink.put(key, body, schema_version=schema_version) is PutOutcome.CREATED:
        return Stored("uploaded", key)
    existing = sink.read(key)
    if existing == body:
        return Stored("already_exported", key)
    other = collision_key(key, body)
    outcome = sink.put(other, body, schema_version=schema_version)
    logger.warning(
        "%s already exists and %s; this record is stored under %s instead (%s). score_lead compares the two: "
        "the same record is acknowledged as a duplicate, a different one is scored as a session of its own",
        sink.describe(key),
        "holds a different record" if existing is not None else "cannot be compared (no read permission)",
        sink.describe(other),
        "written now" if outcome is PutOutcome.CREATED else "this exact copy was stored earlier",
    )
    return Stored("collision", other)


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
        log_session_analytics(record)  # the session's structured log line (agent/analytics_log.py)
        body = encode_record(record)
        key = record.object_key(self.prefix)
        try:
            stored = await asyncio.wait_for(
                asyncio.to_thread(store, self.sink, key, body, schema_version=record.schema_version),
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
        location = self.sink.describe(stored.key)
        logger.info("session %s: record %s at %s", record.session_id, stored.status, location)
        return ExportResult(stored.status, stored.key, location, _ms_since(start))


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
    # Spooled key -> the collision key the record was stored under (see `store`).
    collisions: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "uploaded": self.uploaded,
            "already_present": self.already_present,
            "collisions": self.collisions,
            "failed": self.failed,
        }


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
    """Upload every spooled record (see `store`); delete each once it is stored, as itself or as a collision copy."""
    report = FlushReport()
    for key in spooled_keys(spool_dir):
        path = spool_dir / key
        try:
            stored = store(sink, key, path.read_bytes(), schema_version=_schema_version_of(path))
        except (SinkError, OSError) as error:
            report.failed[key] = str(error)
            logger.warning("spooled record %s still not uploaded (%s); kept for the next flush", path, error)
            continue
        path.unlink(missing_ok=True)
        if stored.status == "collision":
            report.collisions[key] = stored.key
        else:
            (report.uploaded if stored.status == "uploaded" else report.already_present).append(key)
        logger.info("spooled record %s -> %s (%s)", path, sink.describe(stored.key), stored.status)
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
