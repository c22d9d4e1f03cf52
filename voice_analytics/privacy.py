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
$0.29 at S3's list price per run (docs/reliability.md "Erasure"). Each compacted day (`compacted/<view>/<day>/`)
of their raw objects that holds their rows is rewritten by the compaction itself (`Compactor.remove_sessions`, which
keeps the manifest and sources consistent), then every older version under that day's folder is deleted.

Order, so that a run that stops half way can be run again: Amplitude and Salesforce first (they are found through
what the bucket holds), the bucket last, compacted days before the raw objects (the days are found from them).
Every removal is reported; a second run finds nothing and removes nothing.
Nothing here logs a person's data: the report names keys, ids and counts.
"""

from __future__ import annotations

import contextlib
import datetime as dt
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
from functions.compact.logic import SOURCES_NAME, CompactionError, Compactor, Sources, day_prefix, key_day
from functions.compact.store import S3Store
from functions.compact.tables import CompactedView
from functions.score_lead.reader import GZIP_MAGIC, RejectedObjectError, decompress_capped

# One session per object: found by reading it, erased with every version.
RECORD_PREFIXES = ("sessions/", "scored/", "quarantine/")
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


def find_objects(s3: Any, bucket: str, person: Person, workers: int) -> tuple[list[Match], int]:
    """The person's record objects, and how many objects were read."""
    candidates: list[StoredKey] = []
    sidecars: dict[str, StoredKey] = {}
    for prefix in RECORD_PREFIXES:
        for key, stored in stored_keys(s3, bucket, prefix).items():
            if key.endswith(SIDECAR_SUFFIX):
                sidecars[key] = stored
            else:
                candidates.append(stored)

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
    return found, len(candidates)


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


@dataclass(frozen=True)
class CompactedDay:
    """A day of a compacted view that may hold the person's rows, and the ids to take out of it: their session ids,
    and the names of their raw keys there (a collision copy's name is not its session id), which `_sources.json`
    lists."""

    view: str
    day: dt.date
    session_ids: frozenset[str]


def compacted_days(
    matches: Sequence[Match], session_ids: set[str], views: Mapping[str, CompactedView]
) -> list[CompactedDay]:
    """The (view, day) of each of the person's raw objects under a view's raw prefix: the compaction writes a raw
    object's rows into the day of its key. Found from the raw objects, which forget deletes last (see `forget`)."""
    found: dict[tuple[str, dt.date], set[str]] = {}
    for match in matches:
        for name, view in views.items():
            if not match.stored.key.startswith(view.raw.prefix + "/") or not match.stored.key.endswith(".json.gz"):
                continue
            day = key_day(match.stored.key)
            if day is not None:
                stem = match.stored.key.rsplit("/", 1)[-1].removesuffix(".json.gz")
                found.setdefault((name, day), set()).update({stem, *session_ids})
    return [CompactedDay(name, day, frozenset(ids)) for (name, day), ids in sorted(found.items())]


def _held_rows(compactor: Compactor, view: CompactedView, day: dt.date, session_ids: frozenset[str]) -> tuple[int, int]:
    """(rows of `session_ids`, raw keys of them the sources list) in the day's current compaction; (0, 0) when the day
    is not compacted. Read before rewriting so that a day without their rows is not rewritten (and a run again after
    the rewrite finds nothing to rewrite)."""
    import duckdb

    state = compactor.day_states(view).get(day)
    if state is None or state.manifest is None:
        return 0, 0
    folder = day_prefix(view.compacted.prefix, day)
    [sources_body] = compactor.store.get_many([folder + SOURCES_NAME])
    names = {f"{session_id}.json.gz" for session_id in session_ids}
    named = sum(1 for key in Sources.model_validate_json(sources_body).objects if key.rsplit("/", 1)[-1] in names)
    rows = 0
    with tempfile.TemporaryDirectory(prefix="voice-analytics-forget-") as scratch, duckdb.connect() as connection:
        for file in state.manifest.files:
            path = Path(scratch) / "part.parquet"
            path.write_bytes(compactor.store.get_many([file.key])[0])
            [(count,)] = connection.execute(
                "SELECT count(*) FROM read_parquet(?) WHERE session_id IN (SELECT unnest(?::VARCHAR[]))",
                [path.as_posix(), sorted(session_ids)],
            ).fetchall()
            rows += int(count)
    return rows, named


def older_versions(s3: Any, bucket: str, folder: str) -> list[StoredKey]:
    """What under a compacted day's folder is not the current object: every version but the live one of each key,
    and every version and delete marker of a key that is deleted (the compaction's delete of an old part only adds a
    marker in a versioned bucket). The versions are returned as StoredKeys holding only the ids to delete."""
    live: set[str] = set()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=folder):
        live.update(item["Key"] for item in page.get("Contents", []))
    older = []
    for key, stored in stored_keys(s3, bucket, folder).items():
        # stored_keys puts the IsLatest version first: for a live key that is the current object, kept.
        versions = stored.versions[1:] if key in live else stored.versions
        if versions or stored.markers:
            older.append(StoredKey(key, versions, stored.markers))
    return older


def erase_compacted(
    s3: Any,
    bucket: str,
    days: Sequence[CompactedDay],
    views: Mapping[str, CompactedView],
    report: ForgetReport,
    workers: int,
) -> None:
    """Each compacted day that holds the person's rows is rewritten by the compaction without them
    (`Compactor.remove_sessions`: new parts, sources without their raw keys, then the manifest, then the old parts'
    removal), so the views keep reading exactly what the manifest lists. Then every older version under that day's
    folder is deleted: old parts, manifests and sources still hold their rows or name their sessions."""
    if not days:
        return
    compactor = Compactor(S3Store(s3, bucket, max(1, workers)), views)
    for target in days:
        view = views[target.view]
        folder = day_prefix(view.compacted.prefix, target.day)
        where = f"s3://{bucket}/{folder}"
        try:
            rows, named = _held_rows(compactor, view, target.day, target.session_ids)
            if rows or named:
                if report.dry_run:
                    detail = f"would rewrite {target.view} {target.day} without {rows} row(s) and {named} source key(s)"
                else:
                    removed = compactor.remove_sessions(view, target.day, sorted(target.session_ids))
                    detail = f"{target.view} {target.day} rewritten by the compaction without {removed} row(s)"
                    detail += f" and {named} source key(s)"
                report.removals.append(Removal("s3", where, detail))
        except CompactionError as error:
            raise ForgetError(
                f"{error}; nothing of that day was changed (Amplitude and Salesforce were done), then run forget again"
            ) from error
        older = older_versions(s3, bucket, folder)
        for stored in older:
            verb = "would delete" if report.dry_run else "deleted"
            markers = f" and {len(stored.markers)} delete marker(s)" if stored.markers else ""
            detail = f"{verb}: {len(stored.versions)} older version(s){markers}"
            report.removals.append(Removal("s3", f"s3://{bucket}/{stored.key}", detail))
        if report.dry_run and (rows or named):
            report.notes.append(f"{where}: the versions the rewrite replaces would be deleted too")
        if not report.dry_run:
            delete_every_version(s3, bucket, older)


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
    # The compacted views (template.yaml's tables, as `voice-analytics compact` reads them); None: from the template.
    views: Mapping[str, CompactedView] | None = None


def forget(person: Person, targets: ForgetTargets, *, dry_run: bool = False) -> ForgetReport:
    """Find the person's sessions, then erase them: Amplitude, Salesforce, the bucket (see the module docstring)."""
    report = ForgetReport(dry_run=dry_run)
    matches, scanned = find_objects(targets.s3, targets.bucket, person, targets.workers)
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

    # The compacted days before the raw objects: the days to rewrite are found from the raw objects. A run stopped
    # half way, run again, finds the same raw objects and so the same days: a day already rewritten holds none of
    # their rows (not rewritten again) and a day whose older versions were not all deleted has them deleted then;
    # once the raw objects are gone, a run finds nothing (the rewritten days no longer name their sessions).
    views = targets.views if targets.views is not None else template_views()
    days = compacted_days(matches, report.sessions, views)
    erase_compacted(targets.s3, targets.bucket, days, views, report, targets.workers)
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


def template_views() -> dict[str, CompactedView]:
    from functions.compact.tables import compacted_views
    from voice_analytics.template import glue_tables, load_template

    return compacted_views(glue_tables(load_template()).values())


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
