"""The ledger of an integration scenario: everything that went in, and where each piece of it came out.

Every hop is at-least-once and every far end fails sometimes, so a scenario proves "nothing lost, nothing
duplicated" only when it accounts for every input, read from the real state of the far ends (never from what our
own code reports):

- in: the new keys under `sessions/` (moto S3), and the sessions a test hands to a consumer directly;
- out: versions of `scored/` objects and `quarantine/` entries with their `.reason.json` sidecars (S3); every
  message of every DLQ (SQS: taken out, so the next scenario starts empty); Leads and Tasks (the Salesforce
  emulator); stored Amplitude events (the Amplitude emulator); hot-lead alerts (the SNS topic's deliveries to the
  queue subscribed to it);
- the far ends' side: Salesforce data calls, each attributed to the sessions it carried: a collection upsert by the
  external ids in its body (the emulator's `collection_log`: Leads by lead key, Tasks by session id; sessions of one
  caller in one Task call were synced by one invocation, which sent one Lead record for them), a single-record
  upsert by the external id in its path; and logins; the sends of each Amplitude event (by the insert_ids each upload
  carried); SNS publishes delivered; the injected faults, rejections and delays the emulators really served.

Use (every fault, duplicate and bad-input scenario ends like this; new scenarios should too):

    ledger = pipeline.ledger()              # open: a snapshot of the far ends; every DLQ must be empty
    ...                                     # put sessions, inject faults, redeliver, drain
    ledger.effects(sid)                     # scored once, one Lead, one Task, its 4 events once, one alert
    ledger.effects(cold, hot=False, events=2)
    ledger.effects(cancelling, hot=False, alerted=True)  # not hot, but a cancel-risk alert
    ledger.effects(sid, lead_calls=2)       # the fault cost one more Lead call carrying it: pin what a fault costs
    ledger.effects(sid, amplitude_sends=2)  # ...or one more send of each Amplitude event
    ledger.effects(sid, dead_letter={"salesforce_sync": "FIELD_CUSTOM_VALIDATION_EXCEPTION"})
    ledger.effects(sid, scored=False, consumers=["salesforce_sync"])  # a handler test fed one consumer directly
    ledger.quarantined(key, "not gzip")     # one quarantine/<key> with that reason, nothing downstream
    ledger.dead_lettered("score_lead", "not an S3 'Object Created'", body='{"hello": "world"}')
    ledger.effects(sid, forgotten=True, lead_key=key)  # went through, then `voice-analytics forget` erased it
    ledger.quarantined(key, "not gzip", forgotten=True)
    tally = ledger.close()                  # settles (drains), asserts every account, returns the request counts
    assert tally.salesforce_logins == 1 and tally.salesforce_faults_served == 1

A test module's autouse fixture can require it: `every_scenario_closes_a_ledger(pipeline.ledgers)` fails a test that
opened no ledger or left one open. A scenario that should change nothing (a refused command) closes an empty ledger.

For each session, each function that saw it did exactly one of: its effect once, or (score_lead only) one
quarantine entry with its reason, or one DLQ message with a `FailureReason`. `close()` fails, naming the session and
the far end, when
- an expected effect is missing or doubled: scored object versions, Tasks for the session, Leads with its lead key,
  its Amplitude events (by insert_id), its alerts; or the scored record's hot flag is not the expected one;
- a Salesforce call carried the session more or fewer times than expected, or one of its events was sent to
  Amplitude more or fewer times (defaults: one Lead upsert and one Task upsert per synced session, whichever
  collection call carried it with others, each event sent once): a redelivery that reached a far end again, even if
  the far end hid it (upsert by external id, insert_id deduplication), fails here;
- anything appeared that no expectation accounts for: a `sessions/` key, a scored version, a quarantine entry, a DLQ
  message, a Lead, a Task, an Amplitude event or upload, an alert, a Salesforce data call;
- a DLQ message has no `FailureReason` (it got there by maxReceiveCount: an error nobody classified);
- a forgotten session (or quarantine entry) left anything behind: a version of its sessions/, scored/ or quarantine/
  objects, a Task, a Lead with its lead key, an Amplitude event (the emulator's deletion job must have run); the
  lookups and deletes `forget` made at Salesforce are attributed to forgotten sessions and counted in the tally.

A far end is read through `FarEnds`, so the ledger works on the per-module pipeline (tests/integration/pipeline.py,
one DLQ per function) and on conftest.py's handler stack (one shared DLQ, `FailedBy` says whose) alike.
"""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from functions.common.settings import SalesforceSyncSettings
from local.emulators.amplitude import AmplitudeEmulator
from local.emulators.salesforce import CollectionCall, SalesforceEmulator

CONSUMERS = ("salesforce_sync", "amplitude_events", "hot_lead_alert")
FUNCTIONS = ("score_lead", *CONSUMERS)
EVENTS_PER_EXAMPLE_SESSION = 4  # the example record: call ended, lead scored, meeting booked, one knowledge search

_SALESFORCE = SalesforceSyncSettings()
_LEAD_KEY_FIELD = _SALESFORCE.salesforce_lead_key_field
_TASK_KEY_FIELD = _SALESFORCE.salesforce_task_key_field
_UPSERT_PATH = re.compile(r"^/services/data/v[\d.]+/sobjects/(?P<sobject>\w+)/(?P<field>\w+)/(?P<value>[^/]+)$")
_RECORD_PATH = re.compile(r"^/services/data/v[\d.]+/sobjects/(?P<sobject>\w+)/(?P<id>[A-Za-z0-9]{15,18})$")
_COLLECTION_PATH = re.compile(r"^/services/data/v[\d.]+/composite/sobjects/(?P<sobject>\w+)/(?P<field>\w+)$")
_ALERT_SESSION = re.compile(r"^Session: (?P<sid>\S+)$", re.MULTILINE)
_LOGIN_PATHS = ("/services/oauth2/token", "/services/Soap/")


def _sid_of_key(key: str) -> str:
    """`<prefix>/year=/month=/day=/<session_id>.json.gz` -> the session id."""
    return key.rsplit("/", 1)[-1].removesuffix(".json.gz")


_COLLISION_COPY = re.compile(r"^(?P<sid>.+)\.dup-(?P<digest>[0-9a-f]{16})$")


def _sids_of_input(key: str) -> set[str]:
    """The sessions a sessions/ key can be accounted to: its own id; for a collision copy
    (`<session_id>.dup-<digest>.json.gz`, agent/exporter.py) also the primary session (a copy whose primary is gone
    is scored as it) and the id score_lead gives a different record (`<session_id>-<first 8 hex of the digest>`)."""
    stem = _sid_of_key(key)
    copy = _COLLISION_COPY.match(stem)
    if copy is None:
        return {stem}
    return {stem, copy["sid"], f"{copy['sid']}-{copy['digest'][:8]}"}


def _sid_of_insert_id(insert_id: str) -> str:
    """amplitude_events' insert_id is `<session_id>:<event type>:<index>` (a session id may hold ':')."""
    return insert_id.rsplit(":", 2)[0]


class AlertOutbox:
    """The hot-lead topic's deliveries, read from the SQS queue subscribed to it and kept (the stand-in for the
    on-call mailbox): every reader sees every alert, however many read before it."""

    def __init__(self, sqs: Any, queue_url: str) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.messages: list[dict[str, Any]] = []

    def read(self) -> list[dict[str, Any]]:
        """Every SNS notification delivered so far (`Subject`, `Message`, `MessageAttributes`), oldest first."""
        while True:
            batch = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
                "Messages", []
            )
            if not batch:
                return list(self.messages)
            self.messages.extend(json.loads(message["Body"]) for message in batch)
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)],
            )

    def for_session(self, sid: str) -> list[dict[str, Any]]:
        return [alert for alert in self.read() if _alert_session(alert) == sid]


def _alert_session(alert: Mapping[str, Any]) -> str | None:
    match = _ALERT_SESSION.search(str(alert.get("Message", "")))
    return match.group("sid") if match else None


@dataclass
class FarEnds:
    """Where a ledger reads. `dead_letter_queues` maps each DLQ's URL to the function it belongs to, or to None for
    a DLQ shared by several (the message's `FailedBy` attribute then says whose). `settle` runs before `close()`
    reads anything (e.g. drain the pipeline)."""

    s3: Any
    sqs: Any
    bucket: str
    salesforce: SalesforceEmulator
    amplitude: AmplitudeEmulator
    alerts: AlertOutbox
    dead_letter_queues: Mapping[str, str | None]
    settle: Callable[[], None] = lambda: None


@dataclass
class _Session:
    sid: str
    scored: bool
    synced: bool
    events: int
    hot: bool
    alerted: bool
    dead_letter: dict[str, str]
    lead_calls: int
    task_calls: int
    amplitude_sends: int
    forgotten: bool = False
    lead_key: str | None = None


@dataclass(frozen=True)
class _DeadLetter:
    function: str
    reason: str
    session_id: str | None = None
    body: str | None = None


@dataclass
class Tally:
    """What the far ends saw during the scenario (deltas), for assertions beyond the ledger's own."""

    salesforce_logins: int
    salesforce_data_calls: list[tuple[str, str, int]]  # (method, path, status)
    salesforce_collection_calls: list[CollectionCall]  # the collection calls among them, with the ids they carried
    salesforce_faults_served: int
    salesforce_rejections_served: int
    salesforce_delays_served: int
    amplitude_uploads: list[int]  # status of each upload
    amplitude_faults_served: int
    amplitude_delays_served: int
    sns_publishes: int
    dead_letters: list[dict[str, Any]] = field(default_factory=list)  # the DLQ messages taken, with "Function"
    # `forget`'s calls at Salesforce, by sObject: lookups by external id, deletes by id (answered 204 or 404).
    salesforce_lookups: Counter[str] = field(default_factory=Counter)
    salesforce_deletes: Counter[str] = field(default_factory=Counter)


@dataclass
class _Snapshot:
    sessions: set[str]
    scored_versions: set[tuple[str, str]]
    quarantine_versions: set[tuple[str, str]]
    leads: set[str]
    tasks: set[str]
    amplitude_events: int
    amplitude_batches: int
    salesforce_requests: int
    salesforce_collections: int
    salesforce_faults: int
    salesforce_rejections: int
    salesforce_delays: int
    amplitude_faults: int
    amplitude_delays: int
    alerts: int


@contextmanager
def every_scenario_closes_a_ledger(opened: list[Ledger]) -> Iterator[None]:
    """For an autouse fixture: the test must open at least one ledger (through whatever appends to `opened`) and
    close every ledger it opened."""
    opened.clear()
    yield
    assert opened, "this scenario opened no ledger: every scenario ends with one (tests/integration/ledger.py)"
    assert all(ledger.closed for ledger in opened), "a ledger was opened and never closed"


class Ledger:
    """One scenario's accounts; see the module docstring."""

    def __init__(self, far_ends: FarEnds) -> None:
        self.far = far_ends
        self._sessions: dict[str, _Session] = {}
        self._quarantined: dict[str, str] = {}
        self._duplicates: set[str] = set()
        self._forgotten_keys: set[str] = set()
        self._dead_letters: list[_DeadLetter] = []
        self._closed = False
        leftovers = {url: count for url, count in self._dlq_depths().items() if count}
        assert not leftovers, f"a scenario must start with empty DLQs; an earlier one left {leftovers}"
        self._before = self._snapshot()

    # -- expectations ------------------------------------------------------------------------------------------

    def effects(
        self,
        sid: str,
        *,
        hot: bool = True,
        events: int = EVENTS_PER_EXAMPLE_SESSION,
        scored: bool = True,
        consumers: Collection[str] = CONSUMERS,
        synced: bool = True,
        dead_letter: Mapping[str, str] | None = None,
        lead_calls: int | None = None,
        task_calls: int | None = None,
        amplitude_sends: int | None = None,
        alerted: bool | None = None,
        forgotten: bool = False,
        lead_key: str | None = None,
    ) -> None:
        """Session `sid` went through: scored once (`scored=False`: a consumer was handed it directly), and each of
        `consumers` did its part once: salesforce_sync one Lead and one Task (`synced=False`: it skipped the
        session, nothing to sync), amplitude_events its `events` events, hot_lead_alert one alert when `hot` (or
        when `alerted` says so: a caller with cancel intent is alerted hot or not).
        `dead_letter` maps a function to a phrase of its `FailureReason`: that function's effect is absent and one
        DLQ message for `sid` stands in for it. The call counts are what the far ends saw for this session (by
        default one Lead upsert and one Task upsert when synced, each of its events sent to Amplitude once); pin
        them where a fault makes a far end see more. `forgotten`: after all that, `voice-analytics forget` erased the
        session: nothing of it may remain (give its `lead_key`, which no remaining Task can tell any more)."""
        assert sid not in self._sessions, f"{sid} is already in the ledger"
        dead = dict(dead_letter or {})
        unknown = (set(dead) - set(FUNCTIONS)) | (set(consumers) - set(CONSUMERS))
        assert not unknown, f"unknown functions {unknown}"
        assert set(dead) <= {"score_lead", *consumers}, "a dead letter from a function that never saw the session"
        salesforce = "salesforce_sync" in consumers
        amplitude = "amplitude_events" in consumers
        self._sessions[sid] = _Session(
            sid=sid,
            scored=scored and "score_lead" not in dead,
            synced=salesforce and synced and "salesforce_sync" not in dead,
            events=events if amplitude and "amplitude_events" not in dead else 0,
            hot=hot,
            alerted=(hot if alerted is None else alerted)
            and "hot_lead_alert" in consumers
            and "hot_lead_alert" not in dead,
            dead_letter=dead,
            lead_calls=_default(lead_calls, salesforce and (synced or "salesforce_sync" in dead)),
            task_calls=_default(task_calls, salesforce and synced and "salesforce_sync" not in dead),
            amplitude_sends=_default(amplitude_sends, amplitude and bool(events)),
            forgotten=forgotten,
            lead_key=lead_key,
        )
        assert not forgotten or lead_key, "a forgotten session needs its lead_key"

    def duplicate_export(self, key: str) -> None:
        """The collision copy at `key` holds the same bytes as its primary object: score_lead acknowledges it and
        nothing downstream happens (the primary's session is accounted by its own `effects`)."""
        assert _COLLISION_COPY.match(_sid_of_key(key)), f"{key} is not a collision copy"
        assert key not in self._duplicates, f"{key} is already in the ledger"
        self._duplicates.add(key)

    def quarantined(self, key: str, reason: str, *, forgotten: bool = False) -> None:
        """The object at `key` (under sessions/) is quarantined once, its sidecar's reason containing `reason`;
        `forgotten`: and then erased by `voice-analytics forget`, nothing of it left (the test checks the quarantine
        before)."""
        assert key not in self._quarantined, f"{key} is already in the ledger"
        self._quarantined[key] = reason
        if forgotten:
            self._forgotten_keys.add(key)

    def dead_lettered(self, function: str, reason: str, *, body: str | None = None) -> None:
        """One DLQ message of `function` that belongs to no session (e.g. a body that is not an event at all)."""
        assert function in FUNCTIONS, function
        self._dead_letters.append(_DeadLetter(function, reason, body=body))

    # -- closing -----------------------------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> Tally:
        """Settle, read every far end, and assert the accounts; returns what the far ends saw."""
        assert not self._closed, "a ledger closes once"
        self._closed = True
        self.far.settle()
        after = self._snapshot()
        taken = self._take_dead_letters()
        salesforce_log = self.far.salesforce.request_log[self._before.salesforce_requests :]
        collections = self.far.salesforce.collection_log[self._before.salesforce_collections :]
        problems: list[str] = []
        problems += self._check_inputs(after)
        problems += self._check_scored(after)
        problems += self._check_quarantine(after)
        lead_keys, dlq_problems = self._check_dead_letters(taken)
        problems += dlq_problems
        lookups: Counter[str] = Counter()
        deletes: Counter[str] = Counter()
        problems += self._check_salesforce(after, salesforce_log, collections, lead_keys, lookups, deletes)
        problems += self._check_amplitude()
        problems += self._check_alerts()
        problems += self._check_forgotten()
        assert not problems, "the ledger does not balance:\n- " + "\n- ".join(problems)
        logins = [path for _, path, _ in salesforce_log if path.startswith(_LOGIN_PATHS)]
        return Tally(
            salesforce_logins=len(logins),
            salesforce_data_calls=[call for call in salesforce_log if call[1].startswith("/services/data")],
            salesforce_collection_calls=collections,
            salesforce_faults_served=after.salesforce_faults - self._before.salesforce_faults,
            salesforce_rejections_served=after.salesforce_rejections - self._before.salesforce_rejections,
            salesforce_delays_served=after.salesforce_delays - self._before.salesforce_delays,
            amplitude_uploads=[status for status, _ in self._new_batches()],
            amplitude_faults_served=after.amplitude_faults - self._before.amplitude_faults,
            amplitude_delays_served=after.amplitude_delays - self._before.amplitude_delays,
            sns_publishes=after.alerts - self._before.alerts,
            dead_letters=taken,
            salesforce_lookups=lookups,
            salesforce_deletes=deletes,
        )

    # -- reading the far ends ----------------------------------------------------------------------------------

    def _keys(self, prefix: str) -> set[str]:
        keys: set[str] = set()
        for page in self.far.s3.get_paginator("list_objects_v2").paginate(Bucket=self.far.bucket, Prefix=prefix):
            keys.update(item["Key"] for item in page.get("Contents", []))
        return keys

    def _versions(self, prefix: str) -> set[tuple[str, str]]:
        versions: set[tuple[str, str]] = set()
        paginator = self.far.s3.get_paginator("list_object_versions")
        for page in paginator.paginate(Bucket=self.far.bucket, Prefix=prefix):
            versions.update((item["Key"], str(item["VersionId"])) for item in page.get("Versions", []))
        return versions

    def _snapshot(self) -> _Snapshot:
        return _Snapshot(
            sessions=self._keys("sessions/"),
            scored_versions=self._versions("scored/"),
            quarantine_versions={v for v in self._versions("quarantine/") if not v[0].endswith(".reason.json")},
            leads={lead["Id"] for lead in self.far.salesforce.records("Lead")},
            tasks={task["Id"] for task in self.far.salesforce.records("Task")},
            amplitude_events=len(self.far.amplitude.events),
            amplitude_batches=len(self.far.amplitude.batch_log),
            salesforce_requests=len(self.far.salesforce.request_log),
            salesforce_collections=len(self.far.salesforce.collection_log),
            salesforce_faults=self.far.salesforce.faults_served,
            salesforce_rejections=self.far.salesforce.rejections_served,
            salesforce_delays=self.far.salesforce.delays_served,
            amplitude_faults=self.far.amplitude.faults_served,
            amplitude_delays=self.far.amplitude.delays_served,
            alerts=len(self.far.alerts.read()),
        )

    def _dlq_depths(self) -> dict[str, int]:
        depths = {}
        for url in self.far.dead_letter_queues:
            attributes = self.far.sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
            )["Attributes"]
            depths[url] = sum(int(value) for value in attributes.values())
        return depths

    def _take_dead_letters(self) -> list[dict[str, Any]]:
        taken: list[dict[str, Any]] = []
        for url, owner in self.far.dead_letter_queues.items():
            while True:
                batch = self.far.sqs.receive_message(
                    QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, MessageAttributeNames=["All"]
                ).get("Messages", [])
                if not batch:
                    break
                for message in batch:
                    failed_by = message.get("MessageAttributes", {}).get("FailedBy", {}).get("StringValue")
                    taken.append({**message, "Function": owner or failed_by})
                self.far.sqs.delete_message_batch(
                    QueueUrl=url,
                    Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)],
                )
        return taken

    def _new_batches(self) -> list[tuple[int, tuple[str, ...]]]:
        return self.far.amplitude.batch_log[self._before.amplitude_batches :]

    # -- the accounts ------------------------------------------------------------------------------------------

    def _check_inputs(self, after: _Snapshot) -> list[str]:
        """Every new sessions/ object is a session of the ledger or an expected quarantine."""
        expected = {sid for sid, session in self._sessions.items() if session.scored or session.dead_letter}
        problems = []
        for key in sorted(after.sessions - self._before.sessions):
            if key not in self._quarantined and key not in self._duplicates and not _sids_of_input(key) & expected:
                problems.append(f"{key} was put in but the ledger has no outcome for it")
        for key in sorted(self._duplicates - after.sessions):
            problems.append(f"{key}: expected as a duplicate export, but there is no such sessions/ object")
        for sid, session in self._sessions.items():
            if session.forgotten:
                continue  # checked in _check_forgotten
            if session.scored and not any(sid in _sids_of_input(key) for key in after.sessions):
                problems.append(f"{sid}: expected scored, but there is no sessions/ object for it")
        return problems

    def _check_scored(self, after: _Snapshot) -> list[str]:
        new = after.scored_versions - self._before.scored_versions
        by_sid = Counter(_sid_of_key(key) for key, _ in after.scored_versions)
        new_by_sid = Counter(_sid_of_key(key) for key, _ in new)
        problems = []
        for sid, count in sorted(new_by_sid.items()):
            session = self._sessions.get(sid)
            if session is None or not session.scored:
                problems.append(f"{sid}: {count} scored version(s) written, none expected")
        for sid, session in self._sessions.items():
            if not session.scored or session.forgotten:
                continue  # a new version would be reported above; a forgotten one is checked in _check_forgotten
            if by_sid[sid] != 1:
                problems.append(f"{sid}: scored/ has {by_sid[sid]} version(s), expected exactly 1")
                continue
            [(key, _)] = [item for item in after.scored_versions if _sid_of_key(item[0]) == sid]
            document = json.loads(
                gzip.decompress(self.far.s3.get_object(Bucket=self.far.bucket, Key=key)["Body"].read())
            )
            if document["scoring"]["hot"] is not session.hot:
                problems.append(f"{sid}: scored hot={document['scoring']['hot']}, expected {session.hot}")
        return problems

    def _check_quarantine(self, after: _Snapshot) -> list[str]:
        new = after.quarantine_versions - self._before.quarantine_versions
        counts = Counter(key.removeprefix("quarantine/") for key, _ in new)
        problems = []
        for key, count in sorted(counts.items()):
            if key not in self._quarantined:
                problems.append(f"quarantine/{key}: quarantined, not expected")
            elif count != 1:
                problems.append(f"quarantine/{key}: quarantined {count} times, expected once")
        for key, reason in self._quarantined.items():
            if key in self._forgotten_keys:
                continue  # checked in _check_forgotten
            if key not in counts:
                problems.append(f"{key}: expected quarantined ({reason!r}), but no quarantine/ entry was written")
                continue
            sidecar = f"quarantine/{key}.reason.json"
            try:
                written = json.loads(self.far.s3.get_object(Bucket=self.far.bucket, Key=sidecar)["Body"].read())
            except self.far.s3.exceptions.NoSuchKey:
                problems.append(f"{key}: quarantined without its {sidecar}")
                continue
            if reason not in written.get("reason", "") or written.get("source", {}).get("key") != key:
                problems.append(f"{key}: sidecar says {written.get('reason')!r}, expected a reason with {reason!r}")
        return problems

    def _check_dead_letters(self, taken: list[dict[str, Any]]) -> tuple[dict[str, str], list[str]]:
        """Match every DLQ message to one expectation; returns the lead keys the messages name, by session."""
        wanted: list[_DeadLetter] = list(self._dead_letters)
        for sid, session in self._sessions.items():
            wanted += [
                _DeadLetter(function, reason, session_id=sid) for function, reason in session.dead_letter.items()
            ]
        lead_keys: dict[str, str] = {}
        problems = []
        for message in taken:
            attributes = message.get("MessageAttributes", {})
            reason = attributes.get("FailureReason", {}).get("StringValue")
            body_sid, lead_key = _session_of_body(message["Body"])
            sid = attributes.get("SessionId", {}).get("StringValue") or body_sid
            where = f"DLQ message of {message['Function']} (session {sid}, body {message['Body'][:80]!r})"
            if not reason:
                problems.append(f"{where} has no FailureReason: it got there by maxReceiveCount")
                continue
            match = next(
                (
                    item
                    for item in wanted
                    if item.function == message["Function"]
                    and item.reason in reason
                    and (item.session_id == sid if item.session_id else item.body in (None, message["Body"]))
                ),
                None,
            )
            if match is None:
                problems.append(f"{where} with reason {reason!r} was not expected")
                continue
            wanted.remove(match)
            if sid and lead_key:
                lead_keys[sid] = lead_key
        problems += [
            f"expected one DLQ message of {item.function} ({item.session_id or item.body}) with {item.reason!r}: none"
            for item in wanted
        ]
        return lead_keys, problems

    def _check_salesforce(
        self,
        after: _Snapshot,
        log: list[tuple[str, str, int]],
        collections: list[CollectionCall],
        dlq_keys: dict[str, str],
        lookups: Counter[str],
        deletes: Counter[str],
    ) -> list[str]:
        salesforce = self.far.salesforce
        tasks = salesforce.records("Task")
        leads = {lead["Id"]: lead for lead in salesforce.records("Lead")}
        problems = []
        lead_key_of: dict[str, str] = dict(dlq_keys)
        forgotten = {sid: session for sid, session in self._sessions.items() if session.forgotten}
        for sid, session in forgotten.items():
            lead_key_of[sid] = str(session.lead_key)
            if [task for task in tasks if task.get(_TASK_KEY_FIELD) == sid]:
                problems.append(f"{sid}: forgotten, but its Task is still in Salesforce")
            if [lead for lead in leads.values() if lead.get(_LEAD_KEY_FIELD) == session.lead_key]:
                problems.append(f"{sid}: forgotten, but a Lead with its lead key is still in Salesforce")
        for sid, session in self._sessions.items():
            if not session.synced or session.forgotten:
                continue  # a new Task would be reported below
            mine = [task for task in tasks if task.get(_TASK_KEY_FIELD) == sid]
            if len(mine) != 1:
                problems.append(f"{sid}: {len(mine)} Task(s) in Salesforce, expected 1")
                continue
            lead = leads.get(mine[0].get("WhoId"))
            if lead is None:
                problems.append(f"{sid}: its Task points at no Lead")
                continue
            key = lead[_LEAD_KEY_FIELD]
            lead_key_of[sid] = key
            same_key = [other for other in leads.values() if other.get(_LEAD_KEY_FIELD) == key]
            if len(same_key) != 1:
                problems.append(f"{sid}: {len(same_key)} Leads with its lead key, expected 1")
        expected_sids = {sid for sid, session in self._sessions.items() if session.synced}
        for task in tasks:
            if task["Id"] not in self._before.tasks and task.get(_TASK_KEY_FIELD) not in expected_sids:
                problems.append(f"Task {task['Id']} for {task.get(_TASK_KEY_FIELD)} was created, not expected")
        expected_leads = {task.get("WhoId") for task in tasks if task.get(_TASK_KEY_FIELD) in expected_sids}
        for lead_id in leads.keys() - self._before.leads - expected_leads:
            problems.append(f"Lead {lead_id} ({leads[lead_id].get(_LEAD_KEY_FIELD)}) was created, not expected")
        # Calls, attributed by the external id in the path of a single upsert, by those in the body of a collection.
        lead_calls: Counter[str] = Counter()
        task_calls: Counter[str] = Counter()
        forgotten_keys = {str(session.lead_key) for session in forgotten.values()}
        collection_paths = 0
        for method, path, status in log:
            if not path.startswith("/services/data"):
                continue
            match = _UPSERT_PATH.match(path)
            record = _RECORD_PATH.match(path)
            if method == "GET" and match and unquote(match["value"]) in set(forgotten) | forgotten_keys:
                lookups[match["sobject"]] += 1  # forget's lookup by external id
            elif method == "DELETE" and record and forgotten:
                deletes[record["sobject"]] += 1  # forget's delete by id (the record is gone: pinned by count)
            elif match and match["sobject"] == "Lead" and match["field"] == _LEAD_KEY_FIELD:
                lead_calls[unquote(match["value"])] += 1
            elif match and match["sobject"] == "Task" and match["field"] == _TASK_KEY_FIELD:
                task_calls[unquote(match["value"])] += 1
            elif _COLLECTION_PATH.match(path) and method == "PATCH":
                collection_paths += 1  # attributed below, by its body
            else:
                problems.append(f"Salesforce call {method} {path} ({status}) belongs to no session of the ledger")
        if collection_paths != len(collections):
            problems.append(f"{collection_paths} collection call(s) answered but {len(collections)} logged with ids")
        for call in collections:
            calls = {"Lead": lead_calls, "Task": task_calls}.get(call.sobject)
            key_field = {"Lead": _LEAD_KEY_FIELD, "Task": _TASK_KEY_FIELD}.get(call.sobject)
            if calls is None or call.field != key_field or not call.external_ids or None in call.external_ids:
                problems.append(f"Salesforce collection call {call} belongs to no session of the ledger")
                continue
            calls.update(id_ for id_ in call.external_ids if id_ is not None)
        expected_lead_calls: Counter[str] = Counter()
        for sid, session in self._sessions.items():
            if session.lead_calls and sid not in lead_key_of:
                problems.append(f"{sid}: expected {session.lead_calls} Lead upsert(s) but its lead key is unknown")
                continue
            if sid in lead_key_of:
                expected_lead_calls[lead_key_of[sid]] += session.lead_calls
            if task_calls[sid] != session.task_calls:
                problems.append(
                    f"{sid}: {task_calls[sid]} Task upsert call(s) at Salesforce, expected {session.task_calls}"
                )
        # Calls of one caller synced in one invocation share one Lead record: the sessions of a Task call are one
        # invocation's, so n sessions of one lead key there made one Lead record, not n.
        for call in collections:
            if call.sobject == "Task":
                shared = Counter(lead_key_of[sid] for sid in call.external_ids if sid in lead_key_of)
                expected_lead_calls.subtract({key: count - 1 for key, count in shared.items() if count > 1})
        for key in sorted(set(lead_calls) | set(expected_lead_calls)):
            if lead_calls[key] != expected_lead_calls[key]:
                sids = sorted(sid for sid, known in lead_key_of.items() if known == key) or "no session of the ledger"
                problems.append(
                    f"{sids}: {lead_calls[key]} Lead upsert call(s) at Salesforce for lead key {key[:12]}..., "
                    f"expected {expected_lead_calls[key]}"
                )
        for sid in sorted(set(task_calls) - set(self._sessions)):
            problems.append(
                f"{sid}: {task_calls[sid]} Task upsert call(s) at Salesforce for a session not in the ledger"
            )
        return problems

    def _check_amplitude(self) -> list[str]:
        stored = self.far.amplitude.events
        new_events = stored[self._before.amplitude_events :]
        problems = []
        for event in new_events:
            sid = _sid_of_insert_id(str(event.get("insert_id", "")))
            if sid not in self._sessions or not self._sessions[sid].events:
                problems.append(f"Amplitude event {event.get('insert_id')} was stored, not expected")
        for sid, session in self._sessions.items():
            if not session.events:
                continue  # a new event would be reported above
            mine = [event["insert_id"] for event in stored if _sid_of_insert_id(str(event.get("insert_id", ""))) == sid]
            if session.forgotten:
                if mine:
                    problems.append(f"{sid}: forgotten, but {len(mine)} of its Amplitude events are still stored")
                continue
            if len(mine) != session.events or len(set(mine)) != len(mine):
                problems.append(f"{sid}: {len(mine)} Amplitude event(s) stored, expected {session.events} distinct")
        # How many times each event reached Amplitude (whichever upload carried it: the SDK may batch a retry
        # differently from the first attempt, so uploads are not counted, sends of each event are).
        sends: dict[str, Counter[str]] = {}
        for status, insert_ids in self._new_batches():
            for insert_id in insert_ids:
                sid = _sid_of_insert_id(insert_id)
                sends.setdefault(sid, Counter())[insert_id] += 1
                if sid not in self._sessions:
                    problems.append(f"an Amplitude upload ({status}) carried {insert_id}, of no session in the ledger")
        for sid, session in self._sessions.items():
            counts = sorted(set(sends.get(sid, Counter()).values())) or [0]
            if counts != [session.amplitude_sends]:
                problems.append(
                    f"{sid}: its events reached Amplitude {counts} time(s) each, expected {session.amplitude_sends}"
                )
        return problems

    def _check_forgotten(self) -> list[str]:
        """Nothing of a forgotten session or quarantine entry in the bucket: no version, no delete marker."""
        if not (self._forgotten_keys or any(session.forgotten for session in self._sessions.values())):
            return []
        problems = []
        sids = {sid for sid, session in self._sessions.items() if session.forgotten}
        leftovers: list[str] = []
        paginator = self.far.s3.get_paginator("list_object_versions")
        for prefix in ("sessions/", "scored/", "quarantine/"):
            for page in paginator.paginate(Bucket=self.far.bucket, Prefix=prefix):
                for item in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
                    key = item["Key"]
                    source = key.removeprefix("quarantine/").removesuffix(".reason.json")
                    if _sids_of_input(key) & sids or source in self._forgotten_keys:
                        leftovers.append(f"{key} ({item['VersionId']})")
        for leftover in sorted(set(leftovers)):
            problems.append(f"{leftover}: a version of a forgotten session is still in the bucket")
        return problems

    def _check_alerts(self) -> list[str]:
        alerts = self.far.alerts.read()
        new = Counter(_alert_session(alert) for alert in alerts[self._before.alerts :])
        everything = Counter(_alert_session(alert) for alert in alerts)
        problems = []
        for sid, count in sorted(new.items(), key=lambda item: str(item[0])):
            session = self._sessions.get(sid or "")
            if session is None or not session.alerted:
                problems.append(f"{count} alert(s) for {sid} were published, not expected")
        for sid, session in self._sessions.items():
            if session.alerted and everything[sid] != 1:
                problems.append(f"{sid}: {everything[sid]} alert(s) published, expected 1")
        return problems


def _default(pinned: int | None, expected_once: bool) -> int:
    return (1 if expected_once else 0) if pinned is None else pinned


def _session_of_body(body: str) -> tuple[str | None, str | None]:
    """(session id, lead key) named by a DLQ message's body: a "Lead Scored" event, or an S3 "Object Created"."""
    try:
        document = json.loads(body)
    except ValueError:
        return None, None
    detail = document.get("detail") if isinstance(document, dict) else None
    if not isinstance(detail, dict):
        return None, None
    if "session_id" in detail:
        return str(detail["session_id"]), detail.get("lead_key")
    key = (detail.get("object") or {}).get("key") if isinstance(detail.get("object"), dict) else None
    return (_sid_of_key(key), None) if key else (None, None)
