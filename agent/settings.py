"""The agent's configuration: one pydantic model read from the environment once, with local-run defaults.

Every variable is listed in `.env.example` and documented in docs/agent.md.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from functions.common.record import TranscriptMode

# What a local run gets when ANALYTICS_CALLER_SALT is unset; the agent warns at start when it is in use,
# because a known salt makes hashed phone numbers enumerable.
DEV_CALLER_SALT = "voice-analytics-local-dev-salt"

_ENV_NAMES: dict[str, tuple[str, ...]] = {
    "analytics_bucket": ("ANALYTICS_BUCKET", "AWS_S3_BUCKET_NAME"),
    "analytics_prefix": ("ANALYTICS_PREFIX",),
    "transcript_mode": ("ANALYTICS_TRANSCRIPT",),
    "spool_dir": ("ANALYTICS_SPOOL_DIR",),
    "export_budget_s": ("ANALYTICS_EXPORT_BUDGET_S",),
    "s3_connect_timeout_s": ("ANALYTICS_S3_CONNECT_TIMEOUT_S",),
    "s3_read_timeout_s": ("ANALYTICS_S3_READ_TIMEOUT_S",),
    "s3_max_attempts": ("ANALYTICS_S3_MAX_ATTEMPTS",),
    "aws_endpoint_url": ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"),
    "caller_salt": ("ANALYTICS_CALLER_SALT",),
    "agent_name": ("AGENT_NAME",),
    "agent_version": ("AGENT_VERSION",),
    "tools_mode": ("AGENT_TOOLS",),
    "knowledge_base_url": ("KNOWLEDGE_SEARCH_URL",),
    "knowledge_api_key": ("KNOWLEDGE_SEARCH_API_KEY",),
    "knowledge_timeout_s": ("KNOWLEDGE_SEARCH_TIMEOUT_S",),
    "booking_base_url": ("MEETING_BOOKING_URL",),
    "booking_api_key": ("MEETING_BOOKING_API_KEY",),
    "booking_timeout_s": ("MEETING_BOOKING_TIMEOUT_S",),
    "model_backend": ("AGENT_MODEL_BACKEND",),
    "stt_model": ("AGENT_STT",),
    "llm_model": ("AGENT_LLM",),
    "tts_model": ("AGENT_TTS",),
    "tts_voice": ("AGENT_TTS_VOICE",),
    "turn_detection": ("AGENT_TURN_DETECTION",),
    "noise_cancellation": ("AGENT_NOISE_CANCELLATION",),
    "user_away_timeout_s": ("AGENT_USER_AWAY_TIMEOUT_S",),
    "max_call_duration_s": ("AGENT_MAX_CALL_DURATION_S",),
    "shutdown_timeout_s": ("AGENT_SHUTDOWN_TIMEOUT_S",),
    "session_end_timeout_s": ("AGENT_SESSION_END_TIMEOUT_S",),
    "livekit_agent_name": ("LIVEKIT_AGENT_NAME",),
    "health_port": ("AGENT_HEALTH_PORT",),
}

# No longer read: records take the bucket's own encryption (template.yaml: SSE-KMS, DataKmsKeyArn for an
# organisation key). A put that named one could only differ from it, so the agent names none.
RETIRED_VARIABLES = {
    "ANALYTICS_S3_SSE": "records take the bucket's default encryption (SSE-KMS); set DataKmsKeyArn on the stack for "
    "an organisation key",
    "ANALYTICS_S3_KMS_KEY_ID": "records take the bucket's default encryption (SSE-KMS); set DataKmsKeyArn on the "
    "stack for an organisation key",
}

logger = logging.getLogger("agent.settings")

Seconds = Annotated[float, Field(gt=0, le=3600)]


class SettingsError(ValueError):
    """The environment does not describe a runnable agent; the message names the variables."""


class AgentSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    analytics_bucket: str = ""
    analytics_prefix: str = "sessions"
    transcript_mode: TranscriptMode = TranscriptMode.REDACTED
    spool_dir: Path = Field(default_factory=lambda: Path("~/.cache/voice-analytics/spool").expanduser())
    # The whole export (validate, gzip, put with retries); it runs in on_session_end, so it must end inside
    # LiveKit's session_end_timeout (AGENT_SESSION_END_TIMEOUT_S), or the record is cut off before it is spooled.
    export_budget_s: Seconds = 5.0
    s3_connect_timeout_s: Seconds = 2.0
    s3_read_timeout_s: Seconds = 3.0
    s3_max_attempts: Annotated[int, Field(ge=1, le=10)] = 3
    aws_endpoint_url: str = ""
    caller_salt: str = DEV_CALLER_SALT
    agent_name: str = "trial-assistant"
    agent_version: str = "0.1.0"
    tools_mode: Literal["auto", "http", "fake"] = "auto"
    knowledge_base_url: str = ""
    knowledge_api_key: str = ""
    knowledge_timeout_s: Seconds = 4.0
    booking_base_url: str = ""
    booking_api_key: str = ""
    booking_timeout_s: Seconds = 6.0
    # "plugins": provider plugins with our own API keys; "inference": model strings for LiveKit Inference.
    model_backend: Literal["plugins", "inference"] = "plugins"
    stt_model: str = "deepgram/nova-3"
    llm_model: str = "openai/gpt-4.1-mini"
    tts_model: str = "cartesia/sonic-3"
    tts_voice: str = ""
    # model: LiveKit's turn-detector model (local v1-mini, or v1 in LiveKit Cloud); vad / stt: end of speech only.
    turn_detection: Literal["model", "vad", "stt"] = "model"
    # auto: noise cancellation (BVC; BVCTelephony for SIP callers) when livekit-plugins-noise-cancellation is
    # installed, none otherwise; off: never.
    noise_cancellation: Literal["auto", "off"] = "auto"
    user_away_timeout_s: Seconds = 20.0
    max_call_duration_s: Seconds = 1800.0
    # LiveKit's shutdown_process_timeout: how long the job process has to acknowledge and, after on_session_end,
    # to exit (the room disconnect and the shutdown callbacks run in it).
    shutdown_timeout_s: Seconds = 10.0
    # LiveKit's session_end_timeout: how long on_session_end (the export) may take. LiveKit's default.
    session_end_timeout_s: Seconds = 300.0
    livekit_agent_name: str = ""
    # LiveKit's health check server in production mode (`start` without --dev; dev mode takes a free port).
    health_port: Annotated[int, Field(ge=0, le=65535)] = 8081

    @model_validator(mode="after")
    def _export_fits_in_session_end(self) -> AgentSettings:
        # LiveKit cancels on_session_end after session_end_timeout_s; leave a second for the spool fallback.
        if self.export_budget_s > self.session_end_timeout_s - 1:
            raise ValueError(
                f"ANALYTICS_EXPORT_BUDGET_S ({self.export_budget_s}) must be at least 1 s below "
                f"AGENT_SESSION_END_TIMEOUT_S ({self.session_end_timeout_s}), or the record may be lost at the end "
                "of a call"
            )
        return self

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AgentSettings:
        """Read the settings from `environ` (default: os.environ); empty variables count as unset."""
        env = os.environ if environ is None else environ
        for name, instead in RETIRED_VARIABLES.items():
            if env.get(name, "").strip():
                logger.warning("%s is set but no longer read: %s; remove it from the environment", name, instead)
        values: dict[str, str] = {}
        for field_name, names in _ENV_NAMES.items():
            for name in names:
                if env.get(name, "").strip():
                    values[field_name] = env[name].strip()
                    break
        if "spool_dir" in values:
            values["spool_dir"] = str(Path(values["spool_dir"]).expanduser())
        try:
            return cls.model_validate(values)
        except ValidationError as error:
            problems = []
            for item in error.errors(include_url=False):
                field_name = str(item["loc"][0]) if item["loc"] else ""
                variable = "/".join(_ENV_NAMES.get(field_name, (field_name or "<settings>",)))
                problems.append(f"{variable}: {item['msg']}")
            raise SettingsError("invalid agent configuration: " + "; ".join(problems)) from error

    @property
    def uses_fake_tools(self) -> bool:
        if self.tools_mode == "auto":
            return not (self.knowledge_base_url and self.booking_base_url)
        return self.tools_mode == "fake"
