"""In-call collection: what the caller revealed, which tools ran, what the call cost, and how it ended.

The collector subscribes to AgentSession events (no polling) and keeps plain Python state. Only the work that
must happen per utterance runs on the call path: the signal detector (microseconds) and list appends.
Everything else (redaction, percentiles, usage conversion, the record itself) happens once, in `build_record`,
after the call has ended.

Signals are detected on the committed user turn (`conversation_item_added` with the user's message), never on
STT segments: an STT provider finalises a sentence in several segments ("we're about twenty" / "five people"),
which LiveKit joins into one user message, and an interrupted agent reply may be committed between a segment and
that message. Audio calls and text-mode runs therefore see the same text at the same turn index.

Usage and latency come from LiveKit's current APIs: `session_usage_updated` carries the session's
`ModelUsageCollector` totals per model, and per-turn latencies are on `ChatMessage.metrics`
(`metrics_collected` and `UsageCollector` are deprecated in livekit-agents 1.8).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

from livekit.agents import (
    CloseEvent,
    CloseReason,
    ConversationItemAddedEvent,
    FunctionToolsExecutedEvent,
    SessionUsageUpdatedEvent,
    ToolError,
    llm,
    metrics,
)
from livekit.agents.voice import AgentSession

from agent.percentile import percentile
from agent.signals import SignalTracker
from functions.common.record import SCHEMA_VERSION, SESSION_ID_PATTERN, EndReason, TranscriptMode, hash_caller
from functions.common.redaction import redact_transcript

logger = logging.getLogger("agent.collector")

Channel = Literal["sip", "web", "unknown"]
MAX_SHORT_TEXT = 500
MAX_TURN_TEXT = 20_000

_SESSION_ID = re.compile(SESSION_ID_PATTERN)


# A run of 7+ digits (a phone number, as SIP dispatch rules put in room names) or an email address.
_CONTACT_IN_NAME = re.compile(r"\+?\d(?:[\s().-]{0,2}\d){6,}|[^\s@/]+@[^\s@/]+")
_OUTSIDE_ID_ALPHABET = re.compile(r"[^A-Za-z0-9._:-]+")
# Room part and call part of a session id: 80 + 1 + 47 = 128 characters, the most SESSION_ID_PATTERN allows.
_ROOM_PART_MAX = 80
_CALL_PART_MAX = 47


def safe_session_id(room_name: str, salt: str = "") -> str:
    """The room name when it fits the record's id alphabet and holds no contact data, else a readable,
    collision-free variant.

    A LiveKit room name may hold any character, but it becomes part of an S3 key, a Salesforce external id and of
    Amplitude insert ids; losing a record to an odd room name would be worse than renaming it. A SIP room name
    usually carries the caller's number: that part is replaced by a salted hash (the same room gives the same
    label), never kept in clear.
    """
    has_contact = bool(_CONTACT_IN_NAME.search(room_name))
    if not has_contact and _SESSION_ID.match(room_name):
        return room_name
    digest = hashlib.sha256(f"{salt}:{room_name}".encode()).hexdigest()[: 16 if has_contact else 10]
    readable = _CONTACT_IN_NAME.sub("-", room_name) if has_contact else room_name
    cleaned = re.sub(r"[^A-Za-z0-9._:-]+", "-", readable)
    cleaned = re.sub(r"-{2,}", "-", cleaned).strip("-._:")[:100]
    return f"{cleaned}-{digest}" if cleaned else f"room-{digest}"


@dataclass(frozen=True)
class CallIds:
    """The session id of one call and the room label kept beside it in the record (None: no room known)."""

    session_id: str
    room: str | None


def call_ids(room_name: str, call_id: str, salt: str = "") -> CallIds:
    """`<room label>-<call id>`: unique per call because the call id is (the LiveKit job id, or the room SID).

    The room name alone repeats (every console session is in `console`, and LiveKit lets callers reuse a room
    name), and a repeated key would make a second call's record collide with the first.
    """
    room = safe_session_id(room_name, salt)
    call = _OUTSIDE_ID_ALPHABET.sub("-", call_id).strip("-.:")
    if not call:
        raise ValueError(f"call id {call_id!r} has no character usable in a session id")
    if len(call) > _CALL_PART_MAX or call != call_id:
        # Shortened or rewritten: a hash of the original keeps two call ids apart (LiveKit's are short and clean).
        digest = hashlib.sha256(call_id.encode()).hexdigest()[:8]
        call = f"{call[: _CALL_PART_MAX - 9].rstrip('-.:')}-{digest}"
    room_part = room[:_ROOM_PART_MAX].rstrip("-.:")
    return CallIds(session_id=f"{room_part}-{call}", room=room)


def percentiles(samples_ms: list[float]) -> dict[str, float | int] | None:
    """p50/p95 (agent/percentile.py); None without samples (the record then carries no figure)."""
    if not samples_ms:
        return None
    return {
        "count": len(samples_ms),
        "p50": round(percentile(samples_ms, 0.5), 3),
        "p95": round(percentile(samples_ms, 0.95), 3),
    }


class Clock(Protocol):
    def now(self) -> datetime: ...


class WallClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class SimulatedClock:
    """A clock that only moves when told to, so simulated sessions get deterministic times and S3 keys."""

    current: datetime

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


@dataclass
class ToolOutcome:
    """Filled in by a tool: the short summary that goes into the record (counts, ids; never free text)."""

    summary: dict[str, str | int | float | bool | None] = field(default_factory=dict)


def _add_ms(samples: list[float], seconds: float | None) -> None:
    # LiveKit reports -1 or leaves a figure out when a turn has none (no TTS in text mode, an interrupted reply).
    if seconds is not None and seconds >= 0:
        samples.append(seconds * 1000)


def _short(text: str) -> str:
    return text if len(text) <= MAX_SHORT_TEXT else text[: MAX_SHORT_TEXT - 1] + "…"


def _close_reason_to_end_reason(reason: CloseReason, channel: Channel) -> EndReason:
    if reason is CloseReason.PARTICIPANT_DISCONNECTED:
        return EndReason.SIP_HANGUP if channel == "sip" else EndReason.CALLER_HANGUP
    if reason is CloseReason.ERROR:
        return EndReason.ERROR
    if reason is CloseReason.TASK_COMPLETED:
        return EndReason.AGENT_ENDED
    # JOB_SHUTDOWN, and USER_INITIATED without an explicit mark: every path of ours that closes the session
    # marks its reason first, so an unmarked close is the framework tearing the job down.
    return EndReason.WORKER_SHUTDOWN


def shutdown_reason_to_end_reason(reason: str, channel: Channel) -> EndReason:
    """Map the free-text reason LiveKit passes to shutdown callbacks (used when no close event came)."""
    lowered = reason.lower()
    if "room disconnected" in lowered or "participant" in lowered:
        return EndReason.SIP_HANGUP if channel == "sip" else EndReason.CALLER_HANGUP
    if "crash" in lowered or "error" in lowered:
        return EndReason.ERROR
    return EndReason.WORKER_SHUTDOWN


class SessionCollector:
    """Collects one session's analytics from AgentSession events and the assistant's tools."""

    def __init__(
        self,
        *,
        session_id: str,
        room: str | None = None,
        agent_name: str,
        agent_version: str,
        transcript_mode: TranscriptMode,
        caller_salt: str,
        clock: Clock | None = None,
        tracker: SignalTracker | None = None,
        record_timings: bool = True,
    ) -> None:
        """`record_timings=False` is for simulated calls: a scripted model's latencies and in-process tool durations
        are noise, and without them a script gives the same record, byte for byte, on every run."""
        if not _SESSION_ID.match(session_id):
            raise ValueError(f"session id {session_id!r} does not match {SESSION_ID_PATTERN}")
        self.session_id = session_id
        self.room = room
        self._record_timings = record_timings
        self._agent = {"name": agent_name, "version": agent_version}
        self._transcript_mode = transcript_mode
        self._salt = caller_salt
        self._clock: Clock = clock or WallClock()
        self._tracker = tracker or SignalTracker()
        self.started_at = self._clock.now()
        self.ended_at: datetime | None = None
        self._caller_identity: str | None = None
        self._channel: Channel = "unknown"
        self._turns: list[tuple[Literal["user", "assistant"], str]] = []
        self._user_turns = 0
        self._tool_calls: list[dict[str, Any]] = []
        self._tool_call_ids: set[str] = set()
        self._contact: dict[str, str] | None = None
        self._usage: metrics.AgentSessionUsage | None = None
        self._session: AgentSession[Any] | None = None
        self._llm_ttft_ms: list[float] = []
        self._tts_ttfb_ms: list[float] = []
        self._eou_delay_ms: list[float] = []
        self._transcription_delay_ms: list[float] = []
        self._e2e_latency_ms: list[float] = []
        self._explicit_end: EndReason | None = None
        self._close_reason: CloseReason | None = None
        self._shutdown_reason: str | None = None
        self._end_listeners: list[Callable[[], None]] = []

    # -- wiring ---------------------------------------------------------------------------------------------

    def attach(self, session: AgentSession[Any]) -> None:
        """Subscribe to the session's events; call before `session.start`."""
        self._session = session
        session.on("conversation_item_added", self.on_conversation_item_added)
        session.on("session_usage_updated", self.on_session_usage_updated)
        session.on("function_tools_executed", self.on_function_tools_executed)
        session.on("close", self.on_close)

    def on_end(self, listener: Callable[[], None]) -> None:
        """Call `listener` (synchronously, on the event loop) when the session closes."""
        self._end_listeners.append(listener)

    def set_caller(self, identity: str | None, channel: Channel) -> None:
        self._caller_identity = identity
        self._channel = channel

    @property
    def channel(self) -> Channel:
        return self._channel

    # -- event handlers (on the call path: keep them tiny) ---------------------------------------------------

    def on_conversation_item_added(self, event: ConversationItemAddedEvent) -> None:
        item = event.item
        if not isinstance(item, llm.ChatMessage) or item.role not in ("user", "assistant"):
            return
        text = item.text_content or ""
        turn_metrics = item.metrics
        if item.role == "user":
            if text.strip():
                # This message takes the next transcript index, whatever was committed before it.
                self._tracker.observe(len(self._turns), text)
            self._user_turns += 1
            self._turns.append(("user", text))
            if self._record_timings:
                _add_ms(self._eou_delay_ms, turn_metrics.get("end_of_turn_delay"))
                _add_ms(self._transcription_delay_ms, turn_metrics.get("transcription_delay"))
            return
        if text:
            self._turns.append(("assistant", text))
        if self._record_timings:
            _add_ms(self._llm_ttft_ms, turn_metrics.get("llm_node_ttft"))
            _add_ms(self._tts_ttfb_ms, turn_metrics.get("tts_node_ttfb"))
            _add_ms(self._e2e_latency_ms, turn_metrics.get("e2e_latency"))

    def on_session_usage_updated(self, event: SessionUsageUpdatedEvent) -> None:
        self._usage = event.usage

    def on_function_tools_executed(self, event: FunctionToolsExecutedEvent) -> None:
        # Tools record themselves (with timing and a result summary); this catches the calls that never
        # reached our code, such as a call with arguments the model got wrong.
        for call, output in event.zipped():
            if call.call_id in self._tool_call_ids:
                continue
            try:
                arguments = json.loads(call.arguments or "{}")
            except ValueError:
                arguments = {"unparsed": _short(call.arguments)}
            self._add_tool_call(
                call_id=call.call_id,
                name=call.name,
                arguments=arguments if isinstance(arguments, dict) else {"value": arguments},
                started_at=self._clock.now(),
                duration_ms=max(0.0, (output.created_at - call.created_at) * 1000) if self._record_timings else 0.0,
                error=(_short(output.output) or "tool failed") if output.is_error else None,
                summary={},
            )

    def on_close(self, event: CloseEvent) -> None:
        if self.ended_at is not None:
            return
        self.ended_at = self._clock.now()
        self._close_reason = event.reason
        if event.error is not None:
            logger.warning("session %s closed on error: %s", self.session_id, event.error)
        for listener in self._end_listeners:
            listener()

    # -- tools -------------------------------------------------------------------------------------------

    @contextmanager
    def tool_call(
        self, call_id: str, name: str, arguments: dict[str, Any], *, graceful_message: str
    ) -> Iterator[ToolOutcome]:
        """Record one tool call around its body; any failure is recorded and becomes `graceful_message`.

        The model receives `graceful_message` as the tool error, so the caller hears an apology and a next step
        instead of silence or an internal error text.
        """
        started_at = self._clock.now()
        start = time.perf_counter()
        outcome = ToolOutcome()

        def record(error: str | None) -> None:
            duration_ms = (time.perf_counter() - start) * 1000 if self._record_timings else 0.0
            self._add_tool_call(
                call_id=call_id,
                name=name,
                arguments=arguments,
                started_at=started_at,
                duration_ms=duration_ms,
                error=error,
                summary=outcome.summary,
            )

        try:
            yield outcome
        except ToolError as error:
            record(_short(error.message) or "tool error")
            raise
        except asyncio.CancelledError:
            record("cancelled: the caller interrupted or the session closed")
            raise
        except Exception as error:
            logger.warning("tool %s failed in session %s: %s", name, self.session_id, error, exc_info=True)
            record(_short(f"{type(error).__name__}: {error}"))
            raise ToolError(graceful_message) from error
        else:
            record(None)

    def _add_tool_call(
        self,
        *,
        call_id: str,
        name: str,
        arguments: dict[str, Any],
        started_at: datetime,
        duration_ms: float,
        error: str | None,
        summary: dict[str, str | int | float | bool | None],
    ) -> None:
        self._tool_call_ids.add(call_id)
        self._tool_calls.append(
            {
                "name": name,
                "arguments": arguments,
                "started_at": started_at.isoformat(),
                "duration_ms": round(duration_ms, 3),
                "success": error is None,
                "error": error,
                "result_summary": dict(summary),
            }
        )

    def set_contact(self, *, name: str, email: str, company: str, preferred_time: str) -> None:
        """The contact the caller gave to book_sales_meeting, kept apart from the (redacted) transcript."""
        self._contact = {"name": name, "email": email, "company": company, "preferred_time": preferred_time}

    # -- ending ------------------------------------------------------------------------------------------

    def mark_end_reason(self, reason: EndReason) -> None:
        """Record why the call is ending, before closing the session; the first explicit reason wins."""
        if self._explicit_end is None:
            self._explicit_end = reason

    @property
    def end_requested(self) -> bool:
        """An ending was decided (by the agent, a timeout, a hang-up) even if the session has not closed yet."""
        return self._explicit_end is not None or self.ended_at is not None

    def note_shutdown(self, reason: str) -> None:
        """The job is shutting down with LiveKit's `reason`; used when the session never emitted `close`."""
        self._shutdown_reason = reason
        if self.ended_at is None:
            self.ended_at = self._clock.now()

    def end_reason(self) -> EndReason:
        if self._explicit_end is not None:
            return self._explicit_end
        if self._close_reason is not None:
            return _close_reason_to_end_reason(self._close_reason, self._channel)
        if self._shutdown_reason is not None:
            return shutdown_reason_to_end_reason(self._shutdown_reason, self._channel)
        return EndReason.UNKNOWN

    # -- the record ----------------------------------------------------------------------------------------

    def build_record(self) -> dict[str, Any]:
        """The session record as JSON-ready data; the exporter validates it against the v1 contract."""
        ended_at = self.ended_at or self._clock.now()
        identity = self._caller_identity or f"anonymous:{self.session_id}"
        transcript: list[dict[str, Any]] = []
        if self._transcript_mode is not TranscriptMode.OFF:
            for index, (role, text) in enumerate(self._turns):
                shown = redact_transcript(text) if self._transcript_mode is TranscriptMode.REDACTED else text
                transcript.append({"index": index, "role": role, "text": shown[:MAX_TURN_TEXT]})
        record: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "session_id": self.session_id,
            "agent": dict(self._agent),
            "caller": {"key_hash": hash_caller(identity, self._salt), "channel": self._channel},
            "started_at": self.started_at.isoformat(),
            "ended_at": ended_at.isoformat(),
            "duration_s": round((ended_at - self.started_at).total_seconds(), 3),
            "end_reason": self.end_reason().value,
            "signals": self._tracker.to_model().model_dump(mode="json"),
            "tool_calls": list(self._tool_calls),
            "contact": dict(self._contact) if self._contact else None,
            "usage": self._usage_record(),
            "latency": {
                "llm_ttft_ms": percentiles(self._llm_ttft_ms),
                "tts_ttfb_ms": percentiles(self._tts_ttfb_ms),
                "end_of_utterance_delay_ms": percentiles(self._eou_delay_ms),
            },
            "user_turns": self._user_turns,
            "transcript_mode": self._transcript_mode.value,
            "transcript": transcript,
        }
        # Fields added to v1 later are set only when known, and the exporter writes only the fields that are set:
        # a text-mode record without a room is exactly what every v1 reader already takes.
        if self.room is not None:
            record["room"] = self.room
        for name, samples in (
            ("e2e_latency_ms", self._e2e_latency_ms),
            ("transcription_delay_ms", self._transcription_delay_ms),
        ):
            if samples:
                record["latency"][name] = percentiles(samples)
        return record

    def _usage_record(self) -> dict[str, list[dict[str, Any]]]:
        usage = self._usage
        if usage is None and self._session is not None:
            usage = self._session.usage
        result: dict[str, list[dict[str, Any]]] = {"llm": [], "stt": [], "tts": []}
        requests: dict[str, list[dict[str, Any]]] = {"eot": [], "interruption": []}
        for model_usage in usage.model_usage if usage else []:
            model = model_usage.model or "unknown"
            if isinstance(model_usage, metrics.LLMModelUsage):
                result["llm"].append(
                    {
                        "model": model,
                        "provider": model_usage.provider,
                        "input_tokens": model_usage.input_tokens,
                        "output_tokens": model_usage.output_tokens,
                        "cached_input_tokens": model_usage.input_cached_tokens,
                    }
                )
            elif isinstance(model_usage, metrics.STTModelUsage):
                result["stt"].append(
                    {"model": model, "provider": model_usage.provider, "audio_seconds": model_usage.audio_duration}
                )
            elif isinstance(model_usage, metrics.TTSModelUsage):
                result["tts"].append(
                    {
                        "model": model,
                        "provider": model_usage.provider,
                        "characters": model_usage.characters_count,
                        "audio_seconds": model_usage.audio_duration,
                    }
                )
            elif isinstance(model_usage, metrics.EOTModelUsage | metrics.InterruptionModelUsage):
                kind = "eot" if isinstance(model_usage, metrics.EOTModelUsage) else "interruption"
                requests[kind].append(
                    {"model": model, "provider": model_usage.provider, "requests": model_usage.total_requests}
                )
        result.update({kind: entries for kind, entries in requests.items() if entries})
        return result
