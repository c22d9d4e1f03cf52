"""The voice pipeline of a call, from the settings: models, turn handling, room options, LiveKit Cloud recording.

Every `livekit.plugins` module is imported here, at module level: a plugin registers itself when first imported
and LiveKit refuses that off the main thread ("Plugins must be registered on the main thread"), while `console`
runs the job (prewarm and entrypoint) on a thread. agent/main.py imports this module on the main thread when the
CLI loads the entry, so the plugins are registered before any job starts.

Noise cancellation (livekit-plugins-noise-cancellation: BVC, and BVCTelephony for SIP callers) is optional: it is
not a dependency (it needs LiveKit Cloud and cannot be checked offline); when it is installed and
AGENT_NOISE_CANCELLATION=auto, the room input uses it, otherwise the input is not filtered.
"""

from __future__ import annotations

import importlib
import logging
from types import ModuleType
from typing import Any

from livekit import rtc
from livekit.agents import AgentSession, RecordingOptions, TurnHandlingOptions, inference, room_io
from livekit.agents.voice.room_io.types import NoiseCancellationParams, NoiseCancellationSelector
from livekit.plugins import cartesia, deepgram, openai, silero

from agent.settings import AgentSettings, SettingsError
from functions.common.record import TranscriptMode

logger = logging.getLogger("agent.pipeline")


def _optional_plugin(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


# At module level (so on the main thread), like the plugins above; None when the package is not installed.
NOISE_CANCELLATION = _optional_plugin("livekit.plugins.noise_cancellation")


def load_vad() -> Any:
    """Silero VAD; its model ships in the plugin's wheel (no download)."""
    return silero.VAD.load()


def build_models(settings: AgentSettings, vad: Any) -> dict[str, Any]:
    """STT/LLM/TTS/VAD for AgentSession: plugin objects (our provider keys) or LiveKit Inference model strings."""
    if settings.model_backend == "inference":
        voice = f":{settings.tts_voice}" if settings.tts_voice else ""
        return {"stt": settings.stt_model, "llm": settings.llm_model, "tts": settings.tts_model + voice, "vad": vad}

    def split(value: str, variable: str, supported: tuple[str, ...]) -> tuple[str, str]:
        provider, _, model = value.partition("/")
        if provider not in supported or not model:
            raise SettingsError(f"{variable}={value!r}: expected <provider>/<model> with provider in {supported}")
        return provider, model

    _, stt_model = split(settings.stt_model, "AGENT_STT", ("deepgram",))
    _, llm_model = split(settings.llm_model, "AGENT_LLM", ("openai",))
    tts_provider, tts_model = split(settings.tts_model, "AGENT_TTS", ("cartesia", "openai"))
    tts: Any
    if tts_provider == "cartesia":
        tts = (
            cartesia.TTS(model=tts_model, voice=settings.tts_voice)
            if settings.tts_voice
            else cartesia.TTS(model=tts_model)
        )
    else:
        tts = openai.TTS(model=tts_model, voice=settings.tts_voice or "alloy")
    return {"stt": deepgram.STT(model=stt_model), "llm": openai.LLM(model=llm_model), "tts": tts, "vad": vad}


def turn_handling(settings: AgentSettings) -> TurnHandlingOptions:
    """`model`: LiveKit's turn-detector (it reads the words, so a caller spelling an email address is not cut off
    at every pause); with no version given it runs the local v1-mini model, or v1 in LiveKit Cloud when the agent
    is hosted there (or in dev mode with LIVEKIT_API_KEY/SECRET). `vad`/`stt`: the end of speech alone."""
    if settings.turn_detection == "model":
        return {"turn_detection": inference.TurnDetector()}
    return {"turn_detection": settings.turn_detection}


def build_session(settings: AgentSettings, models: dict[str, Any]) -> AgentSession[Any]:
    return AgentSession(**models, turn_handling=turn_handling(settings), user_away_timeout=settings.user_away_timeout_s)


def noise_cancellation_selector(plugin: ModuleType | None) -> NoiseCancellationSelector | None:
    """BVCTelephony for SIP callers (narrow-band phone audio), BVC for everyone else; None without the plugin."""
    if plugin is None:
        return None

    def select(params: NoiseCancellationParams) -> rtc.NoiseCancellationOptions:
        participant = params.participant
        is_sip = getattr(participant, "kind", None) == rtc.ParticipantKind.PARTICIPANT_KIND_SIP
        options: rtc.NoiseCancellationOptions = plugin.BVCTelephony() if is_sip else plugin.BVC()
        return options

    return select


def room_options(settings: AgentSettings, plugin: ModuleType | None = NOISE_CANCELLATION) -> room_io.RoomOptions:
    selector = noise_cancellation_selector(plugin) if settings.noise_cancellation == "auto" else None
    if selector is None:
        return room_io.RoomOptions()
    return room_io.RoomOptions(audio_input=room_io.AudioInputOptions(noise_cancellation=selector))


def recording_options(mode: TranscriptMode, *, project_records: bool, project_redacts: bool) -> RecordingOptions:
    """What LiveKit Cloud may record of a call, capped by what ANALYTICS_TRANSCRIPT promises the caller.

    LiveKit Cloud records (audio, transcript, and traces and logs, which carry the model's input: the transcript)
    when the project enables it. `off` allows none of it; `redacted` allows it only when the project's own
    redaction is on; `full` allows what the project enables. The result is passed explicitly to
    `session.start(record=...)`, so nothing depends on LiveKit's defaults.
    """
    allowed = project_records and (mode is TranscriptMode.FULL or (mode is TranscriptMode.REDACTED and project_redacts))
    if project_records and not allowed:
        logger.info(
            "LiveKit Cloud recording is enabled for this project but not used: ANALYTICS_TRANSCRIPT=%s%s",
            mode.value,
            " and the project's redaction is off" if mode is TranscriptMode.REDACTED else "",
        )
    return RecordingOptions(
        audio=allowed, traces=allowed, logs=allowed, transcript=allowed, redaction=allowed and project_redacts
    )
