"""The session's one structured log line: `{"_event_type": "session_analytics", ...}`, compact JSON, at session end.

What CloudWatch Logs Insights reads in real time (the template's saved queries and dashboard widgets: calls per hour,
hot leads, signal coverage, tool success) and, when the stack's log stream is on, what a subscription filter sends on
to Firehose and S3. The session record in S3 stays the full account of the call; this line carries only what those
queries need and nothing that identifies the caller: no name, email, phone, company, caller key, room name (a SIP
room can be named for the number), transcript, the evidence quotes, tool arguments, results or error texts, nor the
urgency phrase (said by the caller); numbers, enums, counts and booleans only, plus the session id and tool names.

The agent's entry (agent/main.py) gives the line's logger a handler of its own that writes the JSON object alone on
one stdout line, whatever format LiveKit gives every other log line: a container's log driver or LiveKit Cloud's
CloudWatch log drain ships stdout line by line, and Logs Insights discovers the fields of a JSON event by itself.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from typing import Annotated, Final, Literal, TextIO

from pydantic import BaseModel, ConfigDict, Field

from functions.common.record import Percentiles, SessionRecord
from functions.common.scoring import booked_meeting

LOGGER_NAME = "agent.session_analytics"
EVENT_TYPE: Final = "session_analytics"
# Tool calls listed one by one in the line (their totals count them all): a runaway call stays a compact line.
MAX_TOOL_CALLS = 20

logger = logging.getLogger(LOGGER_NAME)


class _Line(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LineSignals(_Line):
    """What the caller revealed, as the scoring reads it; a signal not heard is left out of the line."""

    team_size: int | None = None
    monthly_volume: int | None = None
    integrations: list[str] | None = None
    urgency: Literal[True] | None = None  # heard (the phrase itself is the caller's words: not logged)
    industry: str | None = None


class LineToolCall(_Line):
    name: str
    success: bool
    duration_ms: float


class LineLatency(_Line):
    llm_ttft_p50: float | None = None
    tts_ttfb_p50: float | None = None
    end_of_utterance_delay_p50: float | None = None
    end_of_utterance_delay_p95: float | None = None


class SessionAnalytics(_Line):
    """One line per session; fields named as the template's Logs Insights queries read them. Logged with null
    fields left out, so a query's count(field) counts the sessions that have one."""

    event_type: Annotated[Literal["session_analytics"], Field(serialization_alias="_event_type")] = EVENT_TYPE
    line_version: Literal[1] = 1
    session_id: str
    agent_version: str
    channel: str
    started_at: str
    duration_s: float
    end_reason: str
    user_turns: int
    signals: LineSignals
    meeting_booked: bool
    email_given: bool
    tool_calls_total: int
    tool_calls_succeeded: int
    tool_calls: list[LineToolCall]
    llm_tokens: int
    stt_audio_s: float
    tts_characters: int
    latency_ms: LineLatency
    transcript_mode: str


def _p50(value: Percentiles | None) -> float | None:
    return round(value.p50, 1) if value is not None else None


def session_analytics(record: SessionRecord) -> SessionAnalytics:
    """The line for a validated session record (pure: no I/O)."""
    signals = record.signals
    usage = record.usage
    latency = record.latency
    eou = latency.end_of_utterance_delay_ms
    return SessionAnalytics(
        session_id=record.session_id,
        agent_version=record.agent.version,
        channel=record.caller.channel,
        started_at=record.started_at.isoformat(),
        duration_s=round(record.duration_s, 1),
        end_reason=record.end_reason.value,
        user_turns=record.user_turns,
        signals=LineSignals(
            team_size=signals.team_size,
            monthly_volume=signals.monthly_volume,
            integrations=list(signals.integrations) or None,
            urgency=True if signals.urgency else None,
            industry=signals.industry.value if signals.industry is not None else None,
        ),
        meeting_booked=booked_meeting(record) is not None,
        email_given=bool(record.contact is not None and record.contact.email),
        tool_calls_total=len(record.tool_calls),
        tool_calls_succeeded=sum(call.success for call in record.tool_calls),
        tool_calls=[
            LineToolCall(name=call.name, success=call.success, duration_ms=round(call.duration_ms, 1))
            for call in record.tool_calls[:MAX_TOOL_CALLS]
        ],
        llm_tokens=sum(model.input_tokens + model.output_tokens for model in usage.llm),
        stt_audio_s=round(sum(model.audio_seconds for model in usage.stt), 1),
        tts_characters=sum(model.characters for model in usage.tts),
        latency_ms=LineLatency(
            llm_ttft_p50=_p50(latency.llm_ttft_ms),
            tts_ttfb_p50=_p50(latency.tts_ttfb_ms),
            end_of_utterance_delay_p50=_p50(eou),
            end_of_utterance_delay_p95=round(eou.p95, 1) if eou is not None else None,
        ),
        transcript_mode=record.transcript_mode.value,
    )


def log_session_analytics(record: SessionRecord) -> None:
    """Log the session's line (INFO, on `agent.session_analytics`); never raises into the export."""
    try:
        line = session_analytics(record)
    except Exception:  # a line that cannot be built must not cost the record its export
        logger.exception("session %s: no session_analytics line (it could not be built)", record.session_id)
        return
    logger.info(line.model_dump(mode="json", by_alias=True, exclude_none=True))


class JsonLineFormatter(logging.Formatter):
    """A record whose message is a mapping (the analytics line) as that mapping alone, compact JSON on one line;
    any other record as plain text."""

    def format(self, record: logging.LogRecord) -> str:
        if isinstance(record.msg, Mapping):
            return json.dumps(dict(record.msg), separators=(",", ":"), default=str)
        return super().format(record)


def install_session_analytics_log(stream: TextIO | None = None) -> logging.Handler:
    """Write the analytics line to `stream` (stdout) as one compact JSON line, instead of through the root logger's
    format (idempotent: returns the handler already installed). Log masking (functions/common/redaction.py) still
    applies: it masks every record when the record is made."""
    for handler in logger.handlers:
        if isinstance(handler.formatter, JsonLineFormatter):
            return handler
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(JsonLineFormatter())
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return handler
