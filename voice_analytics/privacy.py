"""`voice-analytics forget`: erase one person from the bucket, Amplitude and (optionally) Salesforce.

Who: an email address (the contact a caller gave to book a meeting) and/or a caller key (the identity or phone
number the agent hashed with ANALYTICS_CALLER_SALT; or its hash as the record holds it). Their lead keys follow
(functions/common/events.py `lead_key`: sha256 of the normalised email, else of the caller key hash).

How their sessions are found, and what it costs: there is no index, so every object under the record prefixes
(`sessions/`, `scored/`, `quarantine/`) is read once, newest version per key, in parallel: one LIST request per 1,000
keys and one GET per key. An object belongs to the person when its record's `contact.email`, `caller.key_hash` or
`lead_key` is theirs; an object that is not a readable record (a quarantined one) when their email address or caller
key hash appears in its text. A session of someone else that merely mentions the address is not theirs and is kept.
Retention bounds the scan: at 1,000 calls a day and the default 365 days, about 730,000 GETs (sessions/ and scored/),
$0.29 at S3's list price per run (docs/reliability.md "Erasure"). Compacted Parquet files (`compacted/`) are checked
for the person's session ids and rewritten without their rows.

Order, so that a run that stops half way can be run again: Amplitude and Salesforce first (they are found through
what the bucket holds), the bucket last. Every removal is reported; a second run finds nothing and removes nothing.
Nothing here logs a person's data: the report names keys, ids and counts.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from functions.common.amplitude import AmplitudeCredentials, amplitude_user_id
from functions.common.events import normalise_email
from functions.common.record import hash_caller
from functions.common.salesforce import SalesforceGateway
from functions.common.settings import SalesforceSyncSettings
from functions.score_lead.reader import GZIP_MAGIC, RejectedObjectError, decompress_capped

# One session per object: found by reading it, erased with every version.
RECORD_PREFIXES = ("sessions/", "scored/", "quarantine/")
# Files holding many sessions' rows: rewritten without the person's rows (the daily compaction's Parquet files).
ROW_FILE_PREFIXES = ("compacted/",)
SIDECAR_SUFFIX = ".reason.json"
# A record is a few KB; a quarantined object may be anything: read at most this much of it.
MAX_READ_BYTES = 16 * 1024 * 1024
DELETE_BATCH = 1000
AMPLITUDE_BATCH = 100
HEX64 = re.compile(r"^[0-9a-f]{64}$")


class ForgetError(RuntimeError):
    """A step of the erasure failed; the message says which and what to do. Nothing after it ran (so run again)."""


# ---------------------------------------------------------------------------------------------------- who


@dataclass(frozen=True)
class Person:
    """Who to forget: a normalised email address and/or a caller key hash."""

    email: str | None = None
    caller_key_hash: str | None = None

    @classmethod
    def of(
        cls,
        email: str | None = None,
        caller_key: str | None = None,
        caller_key_hash: str | None = None,
        caller_salt: str | None = None,
    ) -> Person:
        """From the command's options: `caller_key` is hashed as the agent hashes it (with the caller salt)."""
        if caller_key and caller_key_hash:
            raise ValueError("give --caller-key or --caller-key-hash, not both")
        if caller_key:
            if not caller_salt:
                raise ValueError(
                    "--caller-key needs ANALYTICS_CALLER_SALT (the agent's salt) to hash it as the agent did"
                )
            caller_key_hash = hash_caller(caller_key.strip(), caller_salt)
        if caller_key_hash is not None and not HEX64.fullmatch(caller_key_hash.strip().lower()):
            raise ValueError("--caller-key-hash must be the 64 hex characters of a record's caller.key_hash")
        address = normalise_email(email) if email and email.strip() else None
        if address is not None and "@" not in address:
            raise ValueError("--email must be an email address")
        if address is None and caller_key_hash is None:
            raise ValueError("give --email ADDRESS and/or --caller-key IDENTITY (or --caller-key-hash HASH)")
        return cls(address, caller_key_hash.strip().lower() if caller_key_hash else None)

    @property
    def lead_keys(self) -> set[str]:
        """The lead keys score_lead gives this person's sessions (functions/common/events.py `lead_key`)."""
        keys = set()
        if self.email:
            keys.add(hashlib.sha256(self.email.encode()).hexdigest())
        if self.caller_key_hash:
            keys.add(hashlib.sha256(self.caller_key_hash.encode()).hexdigest())
        return keys

    def owns(self, document: Mapping[str, Any]) -> bool:
        """A record (raw or scored) is theirs by its contact email, caller key hash or lead key."""
        contact = document.get("contact") if isinstance(document.get("contact"), Mapping) else {}
        email = contact.get("email") if isinstance(contact, Mapping) else None
        caller = document.get("caller") if isinstance(document.get("caller"), Mapping) else {}
        key_hash = caller.get("key_hash") if isinstance(caller, Mapping) else None
        return bool(
            (self.email and isinstance(email, str) and normalise_email(email) == self.email)
            or (self.caller_key_hash and key_hash == self.caller_key_hash)
            or (document.get("lead_key") in self.lead_keys)
        )

    def mentioned_in(self, text: str) -> bool:
        """For what is not a readable record: their address (a whole address, any case) or key hash in its text."""
        if self.caller_key_hash and self.caller_key_hash in text.lower():
            return True
        if not self.email:
            return False
        pattern = rf"(?<![A-Za-z0-9._%+-]){re.escape(self.email)}(?![A-Za-z0-9-]|\.[A-Za-z0-9])"
        return re.search(pattern, text, re.IGNORECASE) is not None


def lead_key_of(document: Mapping[str, Any]) -> str | None:
    """The lead key of a record: its own (scored records carry it), else computed as score_lead computes it."""
    if isinstance(document.get("lead_key"), str):
        return str(document["lead_key"])
    contact = document.get("contact") if isinstance(document.get("contact"), Mapping) else {}
    email = contact.get("email") if isinstance(contact, Mapping) else None
    if isinstance(email, str) and email.strip():
        return hashlib.sha256(normalise_email(email).encode()).hexdigest()
    caller = document.get("caller") if isinstance(document.get("caller"), Mapping) else {}
    key_hash = caller.get("key_hash") if isinstance(caller, Mapping) else None
    return hashlib.sha256(key_hash.encode()).hexdigest() if isinstance(key_hash, str) else None


# ---------------------------------------------------------------------------------------------------- the report


@dataclass(frozen=True)
class Removal:
    """One thing erased: where (s3, amplitude, salesforce), what (a key, an id) and how much."""

    far_end: str
    item: str
    detail: str

    def line(self) -> str:
        return f"{self.far_end}: {self.item} ({self.detail})"


@dataclass
class ForgetReport:
    objects_scanned: int = 0
    sessions: set[str] = field(default_factory=set)
    lead_keys: set[str] = field(default_factory=set)
    removals: list[Removal] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    dry_run: bool = False

    @property
    def removed_anything(self) -> bool:
        return bool(self.removals)

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "objects_scanned": self.objects_scanned,
            "sessions": sorted(self.sessions),
            "removed": [removal.__dict__ for removal in self.removals],
            "notes": self.notes,
        }


# ---------------------------------------------------------------------------------------------------- the bucket


@dataclass(frozen=True)
class StoredKey:
    """A key and every version and delete marker it has (newest first)."""

    key: str
    versions: tuple[str, ...]
    markers: tuple[str, ...]

    @property
    def all_ids(self) -> tuple[str, ...]:
        return self.versions + self.markers


def stored_keys(s3: Any, bucket: str, prefix: str) -> dict[str, StoredKey]:
    """Every key under `prefix` with all its versions (ListObjectVersions: noncurrent versions and delete markers
    too, so a key whose current version is a delete marker is still found). S3 lists a key's versions newest first;
    the current one (IsLatest) is put first whatever the order."""
    versions: dict[str, list[str]] = {}
    markers: dict[str, list[str]] = {}
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Versions", []):
            listed = versions.setdefault(item["Key"], [])
            if item.get("IsLatest"):
                listed.insert(0, str(item["VersionId"]))
            else:
                listed.append(str(item["VersionId"]))
        for item in page.get("DeleteMarkers", []):
            markers.setdefault(item["Key"], []).append(str(item["VersionId"]))
    return {
        key: StoredKey(key, tuple(versions.get(key, [])), tuple(markers.get(key, [])))
        for key in sorted(versions.keys() | markers.keys())
    }


def _read(s3: Any, bucket: str, stored: StoredKey) -> bytes | None:
    if not stored.versions:
        return None  # only delete markers: nothing to read, and the markers go with the key if it is theirs
    response = s3.get_object(
        Bucket=bucket, Key=stored.key, VersionId=stored.versions[0], Range=f"bytes=0-{MAX_READ_BYTES - 1}"
    )
    data: bytes = response["Body"].read()
    return data


def _text_of(data: bytes) -> str:
    if data.startswith(GZIP_MAGIC):
        # A corrupt or capped gzip stays as it is: what is readable of it is searched.
        with contextlib.suppress(RejectedObjectError):
            data = decompress_capped(data, MAX_READ_BYTES)
    return data.decode("utf-8", errors="replace")


def _document_of(text: str) -> dict[str, Any] | None:
    first = next((line for line in text.splitlines() if line.strip()), "")
    try:
        document = json.loads(first)
    except ValueError:
        return None
    return document if isinstance(document, dict) and ("contact" in document or "caller" in document) else None


@dataclass(frozen=True)
class Match:
    stored: StoredKey
    session_id: str | None
    lead_key: str | None


def find_objects(s3: Any, bucket: str, person: Person, workers: int) -> tuple[list[Match], int, list[StoredKey]]:
    """The person's record objects, how many objects were read, and the compacted files to check."""
    candidates: list[StoredKey] = []
    sidecars: dict[str, StoredKey] = {}
    for prefix in RECORD_PREFIXES:
        for key, stored in stored_keys(s3, bucket, prefix).items():
            if key.endswith(SIDECAR_SUFFIX):
                sidecars[key] = stored
            else:
                candidates.append(stored)
    row_files = [stored for prefix in ROW_FILE_PREFIXES for stored in stored_keys(s3, bucket, prefix).values()]

    def examine(stored: StoredKey) -> Match | None:
        data = _read(s3, bucket, stored)
        if data is None:
            return None
        text = _text_of(data)
        document = _document_of(text)
        if document is not None:
            if not person.owns(document):
                return None
            session_id = document.get("session_id")
            return Match(stored, str(session_id) if session_id else None, lead_key_of(document))
        return Match(stored, None, None) if person.mentioned_in(text) else None

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        found = [match for match in pool.map(examine, candidates) if match is not None]
    # A quarantined object's sidecar goes with it.
    found += [
        Match(sidecars[match.stored.key + SIDECAR_SUFFIX], match.session_id, None)
        for match in list(found)
        if match.stored.key + SIDECAR_SUFFIX in sidecars
    ]
    return found, len(candidates), row_files


def delete_every_version(s3: Any, bucket: str, keys: Sequence[StoredKey]) -> None:
    """DeleteObjects with version ids: the data itself goes, not only its current version (a plain delete in a
    versioned bucket only adds a delete marker)."""
    objects = [{"Key": stored.key, "VersionId": version} for stored in keys for version in stored.all_ids]
    for start in range(0, len(objects), DELETE_BATCH):
        answer = s3.delete_objects(
            Bucket=bucket, Delete={"Objects": objects[start : start + DELETE_BATCH], "Quiet": True}
        )
        errors = answer.get("Errors", [])
        if errors:
            first = errors[0]
            raise ForgetError(
                f"S3 refused to delete {len(errors)} object version(s) (first: {first.get('Key')} "
                f"{first.get('Code')}: {first.get('Message')}); nothing else was skipped, run forget again"
            )


def erase_parquet_rows(source: Path, target: Path, session_ids: Iterable[str]) -> tuple[int, int] | None:
    """Write `source` without the rows of `session_ids` to `target`; returns (rows removed, rows kept), or None when
    the file has no `session_id` column (it cannot hold a session's rows)."""
    import duckdb

    sids = sorted(set(session_ids))
    with duckdb.connect() as con:
        columns = {row[0] for row in con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(source)]).fetchall()}
        if "session_id" not in columns:
            return None
        [(total, removed)] = con.execute(
            "SELECT count(*), count_if(session_id IN (SELECT unnest(?::VARCHAR[]))) FROM read_parquet(?)",
            [sids, str(source)],
        ).fetchall()
        if removed:
            con.execute(
                f"COPY (SELECT * FROM read_parquet('{_sql_path(source)}') "  # noqa: S608 - a local temp path
                "WHERE session_id NOT IN (SELECT unnest(?::VARCHAR[]))) "
                f"TO '{_sql_path(target)}' (FORMAT parquet, COMPRESSION zstd)",
                [sids],
            )
    return int(removed), int(total) - int(removed)


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")


def rewrite_row_files(
    s3: Any, bucket: str, row_files: Sequence[StoredKey], session_ids: set[str], report: ForgetReport
) -> None:
    """Each compacted Parquet file that holds the person's rows is written again without them, and every older
    version of it (which still holds the rows) is deleted; a file of their rows only is deleted."""
    if not session_ids:
        return
    with tempfile.TemporaryDirectory(prefix="voice-analytics-forget-") as scratch:
        for stored in row_files:
            if not stored.key.endswith(".parquet") or not stored.versions:
                continue
            source, target = Path(scratch) / "source.parquet", Path(scratch) / "target.parquet"
            source.write_bytes(
                s3.get_object(Bucket=bucket, Key=stored.key, VersionId=stored.versions[0])["Body"].read()
            )
            counts = erase_parquet_rows(source, target, session_ids)
            if counts is None:
                report.notes.append(f"s3://{bucket}/{stored.key}: no session_id column, not checked")
                continue
            removed, kept = counts
            if not removed:
                continue
            if report.dry_run:
                report.removals.append(Removal("s3", f"s3://{bucket}/{stored.key}", f"would remove {removed} row(s)"))
                continue
            if kept:
                s3.put_object(Bucket=bucket, Key=stored.key, Body=target.read_bytes())
                delete_every_version(s3, bucket, [stored])  # the older versions, which hold the rows
                detail = (
                    f"rewritten without {removed} row(s), {kept} kept; {len(stored.all_ids)} old version(s) deleted"
                )
            else:
                delete_every_version(s3, bucket, [stored])
                detail = f"{removed} row(s), all theirs: deleted with {len(stored.all_ids)} version(s)"
            report.removals.append(Removal("s3", f"s3://{bucket}/{stored.key}", detail))


# ---------------------------------------------------------------------------------------------------- Amplitude


def amplitude_user_ids(lead_keys: Iterable[str], user_id_key: str) -> list[str]:
    """The person's Amplitude user ids: the keyed HMAC of each lead key, and the lead key itself, which was the user id
    before ids were keyed (events sent before that change still carry it)."""
    ids = {amplitude_user_id(key, user_id_key) for key in lead_keys} | set(lead_keys)
    return sorted(ids)


def request_amplitude_deletion(
    credentials: AmplitudeCredentials, user_ids: Sequence[str], requester: str, post: Callable[..., Any]
) -> list[tuple[str, list[Any]]]:
    """POST the user ids to Amplitude's deletion API (100 a request, unknown ids ignored); returns (day, the
    amplitude ids Amplitude listed) per request."""
    if not credentials.secret_key:
        raise ForgetError(
            "the Amplitude secret has no secret_key: Amplitude's deletion API needs the project's secret key; add "
            'secret_key to the secret (docs/backend.md "Secrets") and run forget again (nothing was erased)'
        )
    answers = []
    for start in range(0, len(user_ids), AMPLITUDE_BATCH):
        body = {
            "user_ids": list(user_ids[start : start + AMPLITUDE_BATCH]),
            "requester": requester,
            "ignore_invalid_ids": True,
        }
        response = post(credentials.privacy_url, json=body, auth=(credentials.api_key, credentials.secret_key))
        if response.status_code != 200:
            raise ForgetError(
                f"Amplitude's deletion API at {credentials.privacy_url} answered HTTP {response.status_code}: "
                f"{response.text[:300]}; nothing in the bucket was erased, run forget again"
            )
        answer = response.json()
        answers.append((str(answer.get("day", "")), list(answer.get("amplitude_ids") or [])))
    return answers


# ---------------------------------------------------------------------------------------------------- Salesforce


def erase_crm(gateway: SalesforceGateway, session_ids: set[str], lead_keys: set[str], report: ForgetReport) -> None:
    """Each session's Task (by session id), then each Lead (by lead key): deleting a Lead also deletes the activities
    Salesforce holds for it, those of sessions the bucket no longer has included."""
    settings = SalesforceSyncSettings()
    targets = [("Task", settings.salesforce_task_key_field, sid) for sid in sorted(session_ids)]
    targets += [("Lead", settings.salesforce_lead_key_field, key) for key in sorted(lead_keys)]
    for sobject, key_field, value in targets:
        for record_id in gateway.find_ids(sobject, key_field, value):
            if report.dry_run:
                report.removals.append(Removal("salesforce", f"{sobject} {record_id}", "would delete"))
            elif gateway.delete(sobject, record_id):
                what = f"by {key_field}" + (" (its activities with it)" if sobject == "Lead" else "")
                report.removals.append(Removal("salesforce", f"{sobject} {record_id}", f"deleted, found {what}"))


# ---------------------------------------------------------------------------------------------------- the whole


@dataclass
class ForgetTargets:
    """Where the person may be: the bucket, and the far ends' credentials (None: that far end is not touched)."""

    s3: Any
    bucket: str
    amplitude: AmplitudeCredentials | None
    salesforce: SalesforceGateway | None
    http_post: Callable[..., Any]
    requester: str = "voice-analytics forget"
    workers: int = 16


def forget(person: Person, targets: ForgetTargets, *, dry_run: bool = False) -> ForgetReport:
    """Find the person's sessions, then erase them: Amplitude, Salesforce, the bucket (see the module docstring)."""
    report = ForgetReport(dry_run=dry_run)
    matches, scanned, row_files = find_objects(targets.s3, targets.bucket, person, targets.workers)
    report.objects_scanned = scanned
    report.sessions = {match.session_id for match in matches if match.session_id}
    report.lead_keys = person.lead_keys | {match.lead_key for match in matches if match.lead_key}

    if targets.amplitude is not None:
        user_ids = amplitude_user_ids(report.lead_keys, targets.amplitude.user_id_key)
        if dry_run:
            report.notes.append(f"Amplitude: would request the deletion of {len(user_ids)} user id(s)")
        else:
            for day, listed in request_amplitude_deletion(
                targets.amplitude, user_ids, targets.requester, targets.http_post
            ):
                for entry in listed:
                    amplitude_id = entry.get("amplitude_id") if isinstance(entry, Mapping) else entry
                    report.removals.append(
                        Removal("amplitude", f"user {amplitude_id}", f"deletion requested, Amplitude runs it on {day}")
                    )
    if targets.salesforce is not None:
        erase_crm(targets.salesforce, report.sessions, report.lead_keys, report)

    rewrite_row_files(targets.s3, targets.bucket, row_files, report.sessions, report)
    records = sorted({match.stored.key: match.stored for match in matches}.values(), key=lambda stored: stored.key)
    for stored in records:
        verb = "would delete" if dry_run else "deleted"
        count = len(stored.versions)
        markers = f" and {len(stored.markers)} delete marker(s)" if stored.markers else ""
        report.removals.append(
            Removal("s3", f"s3://{targets.bucket}/{stored.key}", f"{verb}: {count} version(s){markers}")
        )
    if not dry_run:
        delete_every_version(targets.s3, targets.bucket, records)
    return report


def residual_notes(archive_days: str, noncurrent_days: str) -> list[str]:
    """What `forget` cannot reach, for the report (docs/reliability.md "Erasure")."""
    return [
        f'not erased here: the project bus\'s archive keeps "Lead Scored" events {archive_days} days (no single event '
        "can be deleted from an EventBridge archive); DLQ messages expire after 14 days; hot-lead emails already sent "
        "stay in their mailboxes; Athena query results expire after 30 days; log lines hold no email or phone number",
        f"object versions deleted here are gone at once; versions other processes made stay at most {noncurrent_days} "
        "days (NoncurrentVersionDays)",
    ]


def iter_lines(report: ForgetReport) -> Iterator[str]:
    """The report as the command prints it."""
    if not report.removals:
        yield (
            f"nothing to remove: {report.objects_scanned} objects read, no session of this person; no Amplitude user "
            "or Salesforce record of theirs was found"
        )
    else:
        verb = "would remove" if report.dry_run else "removed"
        yield f"{len(report.sessions)} session(s) found in {report.objects_scanned} objects read; {verb}:"
        for removal in report.removals:
            yield f"  {removal.line()}"
    for note in report.notes:
        yield f"note: {note}"
