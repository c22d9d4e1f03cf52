"""Sending events with amplitude-analytics from a Lambda: flush, then wait for and check every result.

The SDK sends from background threads and reports each event's outcome to a callback. A Lambda that
returned before those results would be frozen with events still in memory, so `send` flushes, waits
for one result per event (retrying flushes while the SDK re-queues throttled or failed batches) and
raises when any event was not accepted, so that SQS delivers the message again.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Annotated, Any

from amplitude import Amplitude, BaseEvent, Config
from amplitude.constants import EventLogLevel
from pydantic import BaseModel, ConfigDict, Field, field_validator

from functions.common.secrets import https_url

HTTP_OK = 200
_FIRST_RETRY_PAUSE_SECONDS = 0.2


# Amplitude's User Privacy API (v1): deletion requests, Basic auth api_key:secret_key. EU residency:
# https://analytics.eu.amplitude.com/api/2/deletions/users.
DEFAULT_PRIVACY_URL = "https://amplitude.com/api/2/deletions/users"
# An HMAC-SHA256 key shorter than this is too easy to guess (it keys the user ids of every caller).
MIN_USER_ID_KEY_CHARS = 32


class AmplitudeCredentials(BaseModel):
    """The Secrets Manager JSON of the Amplitude secret.

    `user_id_key` keys the HMAC that turns a lead key into Amplitude's user id (`amplitude_user_id`): without it,
    anyone holding a caller's email address could compute their id (the id was an unkeyed SHA-256 of the email).
    `secret_key` and `privacy_url` are for `voice-analytics forget` (Amplitude's deletion API); amplitude_events
    never uses them."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    api_key: Annotated[str, Field(min_length=1)]
    server_url: str | None = None
    user_id_key: Annotated[str, Field(min_length=MIN_USER_ID_KEY_CHARS)]
    secret_key: str | None = None
    privacy_url: str = DEFAULT_PRIVACY_URL

    @field_validator("server_url", "privacy_url")
    @classmethod
    def _https(cls, value: str | None) -> str | None:
        return None if value is None else https_url(value)


def amplitude_user_id(lead_key: str, user_id_key: str) -> str:
    """Amplitude's user id for a lead: HMAC-SHA256 of the lead key under the secret's `user_id_key`, hex. Stable
    for one person (so Amplitude joins their calls), meaningless without the key (so an email address cannot be
    turned into the id, nor the id tested against a list of addresses)."""
    return hmac.new(user_id_key.encode(), lead_key.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class AnalyticsEvent:
    """One Amplitude event, independent of the SDK (built by pure code, converted at the edge)."""

    event_type: str
    user_id: str
    time_ms: int
    insert_id: str
    session_id_ms: int
    event_properties: dict[str, Any] = field(default_factory=dict)
    user_properties: dict[str, Any] = field(default_factory=dict)

    def to_sdk(self) -> BaseEvent:
        return BaseEvent(
            event_type=self.event_type,
            user_id=self.user_id,
            time=self.time_ms,
            insert_id=self.insert_id,
            session_id=self.session_id_ms,
            event_properties=self.event_properties,
            user_properties=self.user_properties or None,
        )


class AmplitudeDeliveryError(Exception):
    """Some events were not accepted; `retryable` is False only when Amplitude rejected them as invalid."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        self.retryable = retryable
        super().__init__(message)


def is_retryable_code(code: int) -> bool:
    """Throttling (429), server errors and no answer at all (0) may pass later; other 4xx never will."""
    return code in {0, 408, 429} or code >= 500


class AmplitudeSender:
    """One SDK client per container; results are matched to events by insert_id."""

    def __init__(self, credentials: AmplitudeCredentials, max_retries: int) -> None:
        self.user_id_key = credentials.user_id_key
        self._results: dict[str, tuple[int, str | None]] = {}
        self._condition = threading.Condition()
        config = Config(
            server_url=credentials.server_url,
            flush_queue_size=200,
            flush_interval_millis=200,
            flush_max_retries=max_retries,
            callback=self._on_result,
            logger=logging.getLogger("amplitude"),
            # The SDK would log every event it sent, properties and all (company, search queries): outcomes are
            # checked through the callback instead.
            event_log_level=EventLogLevel.NONE,
        )
        self._client = Amplitude(credentials.api_key, config)

    def _on_result(self, event: BaseEvent, code: int, message: str | None) -> None:
        with self._condition:
            self._results[str(event.insert_id)] = (code, message)
            self._condition.notify_all()

    def send(self, events: list[AnalyticsEvent], timeout_seconds: float) -> None:
        """Deliver `events` or raise AmplitudeDeliveryError; returns only when Amplitude accepted every one."""
        insert_ids = [event.insert_id for event in events]
        with self._condition:
            for insert_id in insert_ids:
                self._results.pop(insert_id, None)
        for event in events:
            self._client.track(event.to_sdk())
        deadline = time.monotonic() + timeout_seconds
        pause = _FIRST_RETRY_PAUSE_SECONDS
        while True:
            # flush() returns one future (or None) per destination plugin.
            for future in self._client.flush() or []:
                remaining = deadline - time.monotonic()
                if future is not None and remaining > 0:
                    future.result(timeout=remaining)
            with self._condition:
                done = all(insert_id in self._results for insert_id in insert_ids)
            remaining = deadline - time.monotonic()
            if done or remaining <= 0:
                break
            # Failed or throttled batches are back in the SDK's queue: flush them again shortly.
            time.sleep(min(pause, remaining))
            pause *= 2
        with self._condition:
            results = {insert_id: self._results.pop(insert_id, None) for insert_id in insert_ids}
        self._raise_for(results, timeout_seconds)

    @staticmethod
    def _raise_for(results: dict[str, tuple[int, str | None] | None], timeout_seconds: float) -> None:
        missing = [insert_id for insert_id, result in results.items() if result is None]
        failed = {insert_id: result for insert_id, result in results.items() if result and result[0] != HTTP_OK}
        if missing:
            raise AmplitudeDeliveryError(
                f"{len(missing)} of {len(results)} events not confirmed within {timeout_seconds:.0f} s "
                f"(first: {missing[0]}); will retry",
                retryable=True,
            )
        if failed:
            retryable = any(is_retryable_code(code) for code, _ in failed.values())
            first_id, (code, message) = next(iter(failed.items()))
            raise AmplitudeDeliveryError(
                f"Amplitude did not accept {len(failed)} of {len(results)} events "
                f"(first: {first_id}: HTTP {code} {message})",
                retryable=retryable,
            )
