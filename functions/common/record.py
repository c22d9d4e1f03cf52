"""Session record v1: the contract between the agent (producer) and the backend (consumers).

These models are the single source of truth. `schemas/session-record.v1.json` is generated from them
(`make schema`) and a test fails when the committed file drifts. Both sides validate with `parse_record`.
"""

# No `from __future__ import annotations` (pydantic models: see functions/common/record_parts.py).

import hashlib
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, Field, ValidationError, model_validator

# Defined in record_parts (cold start, see there) and part of this module's contract.
from functions.common.record_parts import Contact as Contact
from functions.common.record_parts import EndReason as EndReason
from functions.common.record_parts import Industry as Industry
from functions.common.record_parts import RecordModel as _Model
from functions.common.record_parts import describe_validation_error as describe_validation_error

SCHEMA_VERSION: Literal["1"] = "1"

# A session id becomes part of an S3 key and a Salesforce external id: keep it to a safe alphabet.
SESSION_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"

ShortText = Annotated[str, Field(max_length=500)]
Name = Annotated[str, Field(min_length=1, max_length=200)]


class TranscriptMode(StrEnum):
    OFF = "off"
    REDACTED = "redacted"
    FULL = "full"


class AgentInfo(_Model):
    name: Name
    version: Annotated[str, Field(min_length=1, max_length=64)]


class CallerInfo(_Model):
    """Who called, without storing the identity in clear: the key is a salted SHA-256 of it."""

    key_hash: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    channel: Literal["sip", "web", "unknown"] = "unknown"


class Evidence(_Model):
    """One piece of evidence for a signal: which user utterance, and the text that matched."""

    field: Literal["team_size", "monthly_volume", "integrations", "urgency", "industry"]
    value: int | str | None
    turn_index: Annotated[int, Field(ge=0)]
    text: ShortText


class Signals(_Model):
    team_size: Annotated[int, Field(ge=1, le=10_000_000)] | None = None
    monthly_volume: Annotated[int, Field(ge=0, le=1_000_000_000)] | None = None
    integrations: list[Annotated[str, Field(pattern=r"^[a-z0-9_]{1,40}$")]] = Field(default_factory=list)
    urgency: ShortText | None = None
    industry: Industry | None = None
    evidence: list[Evidence] = Field(default_factory=list)


class ToolCall(_Model):
    name: Annotated[str, Field(min_length=1, max_length=100)]
    arguments: dict[str, Any] = Field(default_factory=dict)
    started_at: AwareDatetime
    duration_ms: Annotated[float, Field(ge=0)]
    success: bool
    error: ShortText | None = None
    result_summary: dict[str, str | int | float | bool | None] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _failed_calls_say_why(self) -> "ToolCall":
        if not self.success and not self.error:
            raise ValueError("a failed tool call must carry an error message")
        return self


class _ModelUsage(_Model):
    """What every usage entry names: the model and its provider."""

    model: Name
    provider: Annotated[str, Field(max_length=100)] = ""


class LLMUsage(_ModelUsage):
    input_tokens: Annotated[int, Field(ge=0)] = 0
    output_tokens: Annotated[int, Field(ge=0)] = 0
    cached_input_tokens: Annotated[int, Field(ge=0)] = 0


class STTUsage(_ModelUsage):
    audio_seconds: Annotated[float, Field(ge=0)] = 0.0


class TTSUsage(_ModelUsage):
    characters: Annotated[int, Field(ge=0)] = 0
    audio_seconds: Annotated[float, Field(ge=0)] = 0.0


class ModelRequests(_ModelUsage):
    """A model billed per request: LiveKit's end-of-turn detector and adaptive interruption in LiveKit Cloud."""

    requests: Annotated[int, Field(ge=0)] = 0


class Usage(_Model):
    llm: list[LLMUsage] = Field(default_factory=list)
    stt: list[STTUsage] = Field(default_factory=list)
    tts: list[TTSUsage] = Field(default_factory=list)
    # Optional since the fields were added to v1: absent from records of calls that used no such model.
    eot: list[ModelRequests] = Field(default_factory=list)
    interruption: list[ModelRequests] = Field(default_factory=list)


class Percentiles(_Model):
    """Latency summary in milliseconds over the samples of one call."""

    count: Annotated[int, Field(ge=1)]
    p50: Annotated[float, Field(ge=0)]
    p95: Annotated[float, Field(ge=0)]


class Latency(_Model):
    llm_ttft_ms: Percentiles | None = None
    tts_ttfb_ms: Percentiles | None = None
    end_of_utterance_delay_ms: Percentiles | None = None
    # From the end of the caller's speech to the agent's first audio played (audio calls only).
    e2e_latency_ms: Percentiles | None = None
    # From the end of the caller's speech to the final transcript (audio calls only).
    transcription_delay_ms: Percentiles | None = None


class Turn(_Model):
    index: Annotated[int, Field(ge=0)]
    role: Literal["user", "assistant"]
    text: Annotated[str, Field(max_length=20_000)]


class SessionRecord(_Model):
    """One call, written once to `sessions/year=YYYY/month=MM/day=DD/<session_id>.json.gz`."""

    schema_version: Literal["1"] = SCHEMA_VERSION
    session_id: Annotated[str, Field(pattern=SESSION_ID_PATTERN)]
    # The LiveKit room name, with any phone number or email in it replaced by a salted hash (as in the session id).
    # Room names repeat (console rooms, reused names): the session id, not the room, identifies a call.
    room: Annotated[str, Field(pattern=SESSION_ID_PATTERN)] | None = None
    agent: AgentInfo
    caller: CallerInfo
    started_at: AwareDatetime
    ended_at: AwareDatetime
    duration_s: Annotated[float, Field(ge=0)]
    end_reason: EndReason
    signals: Signals = Field(default_factory=Signals)
    tool_calls: list[ToolCall] = Field(default_factory=list)
    contact: Contact | None = None
    usage: Usage = Field(default_factory=Usage)
    latency: Latency = Field(default_factory=Latency)
    user_turns: Annotated[int, Field(ge=0)] = 0
    transcript_mode: TranscriptMode = TranscriptMode.REDACTED
    transcript: list[Turn] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> "SessionRecord":
        if self.ended_at < self.started_at:
            raise ValueError("ended_at is before started_at")
        if self.transcript_mode is TranscriptMode.OFF and self.transcript:
            raise ValueError("transcript must be empty when transcript_mode is 'off'")
        return self

    def object_key(self, prefix: str = "sessions") -> str:
        """The S3 key for this record, partitioned by the UTC date the session started."""
        return partition_key(prefix, self.started_at, self.session_id)


def partition_key(prefix: str, started_at: datetime, session_id: str) -> str:
    from datetime import UTC

    day = started_at.astimezone(UTC)
    return f"{prefix}/year={day:%Y}/month={day:%m}/day={day:%d}/{session_id}.json.gz"


def hash_caller(identity: str, salt: str) -> str:
    """Salted SHA-256 of a caller identity or phone number, so records join per caller without holding it in clear."""
    return hashlib.sha256(f"{salt}:{identity}".encode()).hexdigest()


class RecordInvalidError(ValueError):
    """A session record that violates the v1 contract; the message names every offending field."""

    def __init__(self, source: str, errors: list[str]) -> None:
        self.source = source
        self.errors = errors
        super().__init__(f"session record {source} is invalid: " + "; ".join(errors))


def parse_record(data: Any, source: str = "<input>") -> SessionRecord:
    """Validate a decoded JSON object as a v1 session record, or raise RecordInvalidError naming the fields."""
    if not isinstance(data, dict):
        raise RecordInvalidError(source, [f"expected a JSON object, got {type(data).__name__}"])
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise RecordInvalidError(source, [f"field 'schema_version': expected '{SCHEMA_VERSION}', got {version!r}"])
    try:
        return SessionRecord.model_validate(data)
    except ValidationError as error:
        raise RecordInvalidError(source, describe_validation_error(error)) from error
