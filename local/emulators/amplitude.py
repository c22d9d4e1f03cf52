"""A local emulator of Amplitude's HTTP V2 API (`POST /2/httpapi`) and of its User Privacy API's deletion request
(`POST /api/2/deletions/users`), for tests and the offline demo.

There is no network here, so the Lambda functions' real `amplitude-analytics` client is pointed at this with
`Config(server_url=emulator.url)`. It validates batches the way HTTP V2 does and answers with the bodies that
client parses (`code`, `error`, `missing_field`, `events_with_invalid_fields`, `events_with_missing_fields`,
`events_with_invalid_id_lengths`, `throttled_events`, ...), since the client decides what to retry from them.
Accepted events are kept in memory, deduplicated by `insert_id` like Amplitude does.

It runs on the emulators' shared server (local/emulators/http.py: werkzeug, loopback only). Plain HTTP: the client
under test uses urllib with the URL it is given, so TLS would prove nothing about it.

The deletion request (User Privacy API v1: HTTP Basic `api_key:secret_key`, JSON `user_ids` and/or `amplitude_ids`,
at most 100 of each, `requester`, `ignore_invalid_ids`) schedules a job for 10 days later and answers `{"day",
"status": "staging", "amplitude_ids": [{"amplitude_id", "requester", "requested_on_day"}]}`; ids it does not know are
an error unless `ignore_invalid_ids`, and a user already scheduled is not listed again. Amplitude runs jobs 10-13
days later; here `run_deletion_jobs()` runs them at once, deleting the users' events (a user who sends events again
is a new user, as in Amplitude). Each user gets an amplitude_id the first time one of its events is stored.

Emulator-only conveniences, not part of the Amplitude API: `events`, `users`, `deletion_jobs`, `run_deletion_jobs()`,
`received_count`, `duplicates_dropped`,
`request_log`, `batch_log` (the insert_ids each upload carried, and its answer), `export_state()` / `load_state()`
(events kept between runs), the fault switches `fail_next()`, `delay_next()`, `reset_faults()`, and
`faults_served` / `delays_served` (how many of them actually answered an upload, so a test can prove its fault
fired).
"""

from __future__ import annotations

import copy
import hmac
import itertools
import json
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, NoReturn

from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from local.emulators.http import LoopbackEmulator, json_response

__all__ = ["DEFAULT_API_KEYS", "AmplitudeEmulator"]

DEFAULT_API_KEYS: Final = frozenset({"demo-amplitude-key"})
# The project's secret key, for the User Privacy API's Basic auth (the same for every API key here).
DEFAULT_SECRET_KEY: Final = "demo-amplitude-secret-key"  # noqa: S105 - a fixed credential of a local fake, not a secret
# The key amplitude_events HMACs lead keys with (the Amplitude secret's `user_id_key`), fixed so that demo runs agree.
DEMO_USER_ID_KEY: Final = "local-demo-amplitude-user-id-key-0001"
HTTP_API_PATH: Final = "/2/httpapi"
DELETIONS_PATH: Final = "/api/2/deletions/users"
MAX_DELETION_IDS: Final = 100
# Amplitude runs a deletion job 10-13 days after the request.
DELETION_DELAY_DAYS: Final = 10
# HTTP V2 limits: "under 1 MB with fewer than 2000 events per request", else 413.
MAX_BODY_BYTES: Final = 1024 * 1024
MAX_EVENTS: Final = 2000
# user_id and device_id must have at least this many characters unless the request's options say otherwise.
DEFAULT_MIN_ID_LENGTH: Final = 5
# The per-user/device events-per-second limit reported in a 429 body.
_EPS_THRESHOLD: Final = 30
# Amplitude drops all-zero device ids (an iOS IDFA with Limit Ad Tracking on) as invalid.
_ZERO_DEVICE_IDS: Final = frozenset({"00000000-0000-0000-0000-000000000000", "00000000000000000000000000000000"})


def _error(status: int, message: str, **extra: Any) -> Response:
    return json_response(status, {"code": status, "error": message, **extra})


@dataclass(frozen=True)
class _Fault:
    status: int
    list_throttled_events: bool


class _Rejected(Exception):
    """A request refused as a whole; carries the response."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.get_data(as_text=True))
        self.response = response


def _reject(status: int, message: str, **extra: Any) -> NoReturn:
    raise _Rejected(_error(status, message, **extra))


def _event_key(event: Mapping[str, Any]) -> tuple[str, str, str] | None:
    """What Amplitude deduplicates on: insert_id per device (or per user when the event has no device_id)."""
    insert_id = event.get("insert_id")
    if not isinstance(insert_id, str) or not insert_id:
        return None
    if event.get("device_id"):
        return ("device", str(event["device_id"]), insert_id)
    return ("user", str(event.get("user_id")), insert_id)


# ---------------------------------------------------------------------------------------------------------------
# The emulator
# ---------------------------------------------------------------------------------------------------------------


class AmplitudeEmulator(LoopbackEmulator[_Fault]):
    """Amplitude's HTTP V2 event ingestion on http://127.0.0.1:PORT/2/httpapi, with events kept in memory.

    Use as a context manager (or `start()` / `stop()`) and give the client `Config(server_url=emulator.url)`.
    """

    name = "Amplitude emulator"
    routes = Map(
        [
            Rule(HTTP_API_PATH, methods=["POST"], endpoint="upload"),
            Rule(DELETIONS_PATH, methods=["POST"], endpoint="deletions"),
        ],
        strict_slashes=False,
    )

    def __init__(
        self, api_keys: Collection[str] = DEFAULT_API_KEYS, *, secret_key: str = DEFAULT_SECRET_KEY, port: int = 0
    ) -> None:
        if isinstance(api_keys, str):
            raise TypeError("api_keys is a collection of keys; wrap a single key in a set")
        self.api_keys: frozenset[str] = frozenset(api_keys)
        self.secret_key = secret_key
        super().__init__(port=port)
        self._amplitude_ids: dict[str, int] = {}
        self._next_amplitude_id = itertools.count(1_000_001)  # never reused, as Amplitude's
        self._deletion_jobs: list[dict[str, Any]] = []
        self._events: list[dict[str, Any]] = []
        self._seen: set[tuple[str, str, str]] = set()
        self._received_count = 0
        self._duplicates_dropped = 0
        self._batch_log: list[tuple[int, tuple[str, ...]]] = []

    # -- addresses ---------------------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """The HTTP V2 endpoint, for `Config(server_url=...)`."""
        return f"{self.base_url}{HTTP_API_PATH}"

    @property
    def privacy_url(self) -> str:
        """The User Privacy API's deletion endpoint."""
        return f"{self.base_url}{DELETIONS_PATH}"

    def secret(self) -> dict[str, str]:
        """The Amplitude secret (the shape amplitude_events and `voice-analytics forget` read from Secrets Manager)
        pointing at this emulator."""
        return {
            "api_key": sorted(self.api_keys)[0],
            "server_url": self.url,
            "user_id_key": DEMO_USER_ID_KEY,
            "secret_key": self.secret_key,
            "privacy_url": self.privacy_url,
        }

    # -- inspection and fault switches -------------------------------------------------------------------------

    @property
    def events(self) -> list[dict[str, Any]]:
        """Copies of the stored events, oldest first: each accepted once, duplicates by insert_id left out."""
        with self._lock:
            return copy.deepcopy(self._events)

    @property
    def received_count(self) -> int:
        """Every event that arrived in a parseable request: rejected, failed, duplicate and stored alike."""
        with self._lock:
            return self._received_count

    @property
    def duplicates_dropped(self) -> int:
        """Events accepted but not stored again because their insert_id was already seen for that device/user."""
        with self._lock:
            return self._duplicates_dropped

    @property
    def batch_log(self) -> list[tuple[int, tuple[str, ...]]]:
        """(status, insert_ids of its events) of every upload to the HTTP V2 endpoint whose body held an event list,
        oldest first: which sessions each request carried, whatever its answer."""
        with self._lock:
            return list(self._batch_log)

    @property
    def users(self) -> set[str]:
        """The user ids of the stored events."""
        with self._lock:
            return {str(event["user_id"]) for event in self._events if event.get("user_id")}

    @property
    def deletion_jobs(self) -> list[dict[str, Any]]:
        """Copies of the deletion jobs requested so far: day, status (staging, then done), user and amplitude ids."""
        with self._lock:
            return copy.deepcopy(self._deletion_jobs)

    def run_deletion_jobs(self) -> int:
        """Run every staged deletion job now (Amplitude waits 10-13 days): the users' events are deleted and their
        amplitude_ids forgotten. Returns how many events were deleted."""
        with self._lock:
            users: set[str] = set()
            for job in self._deletion_jobs:
                if job["status"] == "staging":
                    users |= set(job["user_ids"])
                    job["status"] = "done"
            kept = [event for event in self._events if str(event.get("user_id")) not in users]
            deleted = len(self._events) - len(kept)
            self._events = kept
            self._seen = {key for key in self._seen if not (key[0] == "user" and key[1] in users)}
            for user in users:
                self._amplitude_ids.pop(user, None)
            return deleted

    def export_state(self) -> dict[str, Any]:
        """The stored events as JSON-able data, for `load_state()` in a later run (the demo keeps this in
        build/demo/state/amplitude.json, so a second run's events meet the first run's insert_ids)."""
        with self._lock:
            return {"version": 1, "events": copy.deepcopy(self._events)}

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Replace the stored events (and the insert_ids seen) with those of `export_state()`; the counters
        `received_count` and `duplicates_dropped` keep counting this run only. Amplitude forgets an insert_id after
        7 days; the emulator never does."""
        events = [copy.deepcopy(event) for event in state.get("events") or [] if isinstance(event, dict)]
        with self._lock:
            self._events = events
            self._seen = {key for key in map(_event_key, events) if key is not None}
            self._amplitude_ids = {}
            for event in events:
                self._amplitude_id_of(event)

    def fail_next(self, count: int, status: int = 503, *, list_throttled_events: bool = True) -> None:
        """Make the next `count` requests fail with `status` (429, 500, 502, 503, 504, ...); nothing is stored.

        A 429 has the body of Amplitude's throttling response. With `list_throttled_events` (the real behaviour)
        it lists every event of the batch in `throttled_events`, and amplitude-analytics then holds those events
        back for 30 s before retrying; False leaves the list out, so the client retries them after its short
        backoff, which is what a fast test of "429 then success" needs.
        """
        if not 400 <= status <= 599:
            raise ValueError("fail_next needs an error status between 400 and 599")
        self._queue_faults(_Fault(status, list_throttled_events), count)

    # -- request handling --------------------------------------------------------------------------------------

    def _not_found(self, request: Request) -> Response:
        return _error(404, f"Not found: the emulator serves only POST {HTTP_API_PATH} and POST {DELETIONS_PATH}")

    def _method_not_allowed(self, request: Request, allowed: list[str]) -> Response:
        return _error(405, f"Method {request.method} not allowed: use POST")

    def _internal_error(self, error: Exception) -> Response:
        # A bug in the emulator, not in the client: 500, which the client retries.
        return _error(500, f"local Amplitude emulator error: {error!r}")

    def _upload(self, request: Request) -> tuple[Response, float]:
        """POST /2/httpapi: faults and delays first (they apply to uploads only), then validation and storage.
        A delayed upload is processed at once and only its answer is late."""
        body = request.get_data()
        if len(body) > MAX_BODY_BYTES:
            return _error(413, "Payload too large"), 0.0  # too large whatever it holds: no switch is spent on it
        fault, delay = self._take_switches()
        try:
            response = self._ingest(request.content_type or "", body, fault)
        except _Rejected as rejected:
            response = rejected.response
        self._log_batch(body, response.status_code)
        return response, delay

    def _log_batch(self, body: bytes, status: int) -> None:
        try:
            events = json.loads(body).get("events")
        except (ValueError, AttributeError):
            return
        if not isinstance(events, list):
            return
        insert_ids = tuple(
            str(event["insert_id"]) for event in events if isinstance(event, dict) and event.get("insert_id")
        )
        with self._lock:
            self._batch_log.append((status, insert_ids))

    def _ingest(self, content_type: str, body: bytes, fault: _Fault | None) -> Response:
        if not content_type.lower().startswith("application/json"):
            _reject(400, "Invalid Content-Type: the HTTP V2 API takes application/json")
        try:
            payload = json.loads(body)
        except ValueError:
            _reject(400, "Invalid JSON request body")
        if not isinstance(payload, dict):
            _reject(400, "Invalid JSON request body: expected an object with api_key and events")
        events = payload.get("events")
        if isinstance(events, list):
            with self._lock:
                self._received_count += len(events)
        if fault is not None:
            return self._fault_response(fault, events if isinstance(events, list) else [])
        api_key = payload.get("api_key")
        if not api_key:
            _reject(400, "Request missing required field", missing_field="api_key")
        if not isinstance(api_key, str) or api_key not in self.api_keys:
            # amplitude-analytics recognises this exact prefix and raises InvalidAPIKeyError.
            _reject(400, f"Invalid API key: {api_key}")
        if not isinstance(events, list) or not events:
            _reject(400, "Request missing required field", missing_field="events")
        if len(events) > MAX_EVENTS:
            _reject(413, "Payload too large")
        self._validate_events(events, self._min_id_length(payload.get("options")))

        duplicates = 0
        with self._lock:
            for event in events:
                key = _event_key(event)
                if key is not None and key in self._seen:
                    duplicates += 1
                    continue
                if key is not None:
                    self._seen.add(key)
                self._events.append(copy.deepcopy(event))
                self._amplitude_id_of(event)
            self._duplicates_dropped += duplicates
        return json_response(
            200,
            {
                "code": 200,
                "events_ingested": len(events),
                "payload_size_bytes": len(body),
                "server_upload_time": int(time.time() * 1000),
            },
        )

    def _amplitude_id_of(self, event: Mapping[str, Any]) -> None:
        """Give the event's user an amplitude_id the first time it is seen; the caller holds the lock."""
        user = event.get("user_id")
        if isinstance(user, str) and user and user not in self._amplitude_ids:
            self._amplitude_ids[user] = next(self._next_amplitude_id)

    def _deletions(self, request: Request) -> Response:
        """POST /api/2/deletions/users: schedule the deletion of users (by user id or amplitude id)."""
        basic = request.authorization
        if (
            basic is None
            or basic.type != "basic"
            or basic.username not in self.api_keys
            or not hmac.compare_digest(basic.password or "", self.secret_key)
        ):
            return _error(401, "Invalid API key or secret key")
        try:
            payload = json.loads(request.get_data() or b"null")
        except ValueError:
            return _error(400, "Invalid JSON request body")
        if not isinstance(payload, dict):
            return _error(400, "Invalid JSON request body")
        user_ids, amplitude_ids = payload.get("user_ids") or [], payload.get("amplitude_ids") or []
        if not isinstance(user_ids, list) or not isinstance(amplitude_ids, list) or not (user_ids or amplitude_ids):
            return _error(400, "Request missing required field: user_ids or amplitude_ids")
        if len(user_ids) > MAX_DELETION_IDS or len(amplitude_ids) > MAX_DELETION_IDS:
            return _error(400, f"At most {MAX_DELETION_IDS} user_ids and {MAX_DELETION_IDS} amplitude_ids a request")
        requester = str(payload.get("requester") or "")
        today = datetime.now(UTC).date()
        with self._lock:
            by_amplitude_id = {number: user for user, number in self._amplitude_ids.items()}
            scheduled = {user for job in self._deletion_jobs if job["status"] == "staging" for user in job["user_ids"]}
            wanted = [str(user) for user in user_ids]
            wanted += [by_amplitude_id[number] for number in amplitude_ids if number in by_amplitude_id]
            unknown = [user for user in wanted if user not in self._amplitude_ids]
            unknown += [str(number) for number in amplitude_ids if number not in by_amplitude_id]
            if unknown and not payload.get("ignore_invalid_ids"):
                return _error(400, "Invalid user ids or amplitude ids", invalid_ids=unknown)
            new = sorted({user for user in wanted if user in self._amplitude_ids} - scheduled)
            day = (today + timedelta(days=DELETION_DELAY_DAYS)).isoformat()
            if new:
                self._deletion_jobs.append({"day": day, "status": "staging", "user_ids": new, "requester": requester})
            listed = [
                {
                    "amplitude_id": self._amplitude_ids[user],
                    "requester": requester,
                    "requested_on_day": today.isoformat(),
                }
                for user in new
            ]
        return json_response(200, {"day": day, "status": "staging", "amplitude_ids": listed})

    @staticmethod
    def _min_id_length(options: Any) -> int:
        """The request's `options.min_id_length` (what Config(min_id_length=...) sends), else Amplitude's 5."""
        if options is None:
            return DEFAULT_MIN_ID_LENGTH
        if not isinstance(options, dict):
            _reject(400, "Invalid options: expected an object")
        value = options.get("min_id_length")
        if value is None:
            return DEFAULT_MIN_ID_LENGTH
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            _reject(400, "Invalid options: min_id_length must be a positive integer")
        return value

    @staticmethod
    def _validate_events(events: list[Any], min_id_length: int) -> None:
        """Check every event; one bad event fails the whole request, listing the bad indexes per field."""
        missing: dict[str, list[int]] = {}
        invalid: dict[str, list[int]] = {}
        short_ids: dict[str, list[int]] = {}
        for index, event in enumerate(events):
            if not isinstance(event, dict):
                invalid.setdefault("event", []).append(index)
                continue
            if not isinstance(event.get("event_type"), str) or not event["event_type"]:
                missing.setdefault("event_type", []).append(index)
            user_id, device_id = event.get("user_id"), event.get("device_id")
            if not user_id and not device_id:
                missing.setdefault("user_id", []).append(index)
                missing.setdefault("device_id", []).append(index)
            for name, value in (("user_id", user_id), ("device_id", device_id)):
                if value in (None, ""):
                    continue
                if not isinstance(value, str):
                    invalid.setdefault(name, []).append(index)
                elif len(value) < min_id_length:
                    short_ids.setdefault(name, []).append(index)
            if device_id in _ZERO_DEVICE_IDS:
                invalid.setdefault("device_id", []).append(index)
            event_time = event.get("time")
            if event_time is not None and (not isinstance(event_time, int) or isinstance(event_time, bool)):
                invalid.setdefault("time", []).append(index)
            if "insert_id" in event and not isinstance(event["insert_id"], str):
                invalid.setdefault("insert_id", []).append(index)
        if not (missing or invalid or short_ids):
            return
        details: dict[str, Any] = {}
        if missing:
            details["events_with_missing_fields"] = missing
        if invalid:
            details["events_with_invalid_fields"] = invalid
        if short_ids:
            details["events_with_invalid_id_lengths"] = short_ids
        if short_ids and not (missing or invalid):
            message = "Invalid id length for user_id or device_id"
        elif missing and not invalid:
            message = "Request missing required fields on some events"
        else:
            message = "Invalid field values on some events"
        _reject(400, message, **details)

    def _fault_response(self, fault: _Fault, events: list[Any]) -> Response:
        if fault.status == 429:
            body: dict[str, Any] = {
                "code": 429,
                "error": "Too many requests for some devices and users",
                "eps_threshold": _EPS_THRESHOLD,
            }
            if fault.list_throttled_events:
                users: dict[str, int] = {}
                devices: dict[str, int] = {}
                for event in events:
                    if isinstance(event, dict) and event.get("user_id"):
                        users[str(event["user_id"])] = _EPS_THRESHOLD + 1
                    if isinstance(event, dict) and event.get("device_id"):
                        devices[str(event["device_id"])] = _EPS_THRESHOLD + 1
                body.update(throttled_users=users, throttled_devices=devices, throttled_events=list(range(len(events))))
            return json_response(429, body)
        if fault.status == 413:
            return _error(413, "Payload too large")
        return _error(fault.status, f"Injected failure {fault.status} (local Amplitude emulator)")
