"""The call's pipeline from the settings: turn detection, noise cancellation, and what LiveKit Cloud may record."""

from __future__ import annotations

import re
import types
from pathlib import Path
from typing import Any
from unittest.mock import create_autospec

import pytest
from livekit import rtc
from livekit.agents import inference
from livekit.agents.voice.room_io.types import NoiseCancellationParams

from agent import pipeline
from agent.pipeline import build_models, recording_options, room_options, turn_handling
from agent.settings import AgentSettings
from functions.common.record import TranscriptMode

AGENT_DIR = Path(pipeline.__file__).parent


def test_turn_detection_defaults_to_livekits_turn_detector_and_vad_or_stt_can_be_chosen() -> None:
    default = turn_handling(AgentSettings.from_env({}))
    assert isinstance(default["turn_detection"], inference.TurnDetector)
    # Offline (not hosted, not dev mode): the local v1-mini model, which ships in livekit-local-inference.
    assert default["turn_detection"].model == "turn-detector-v1-mini"
    for mode in ("vad", "stt"):
        assert turn_handling(AgentSettings.from_env({"AGENT_TURN_DETECTION": mode})) == {"turn_detection": mode}


@pytest.mark.parametrize(
    ("mode", "project_redacts", "allowed"),
    [
        (TranscriptMode.OFF, False, False),
        (TranscriptMode.OFF, True, False),
        (TranscriptMode.REDACTED, False, False),
        (TranscriptMode.REDACTED, True, True),
        (TranscriptMode.FULL, False, True),
        (TranscriptMode.FULL, True, True),
    ],
)
def test_livekit_cloud_records_only_what_the_transcript_setting_allows(
    mode: TranscriptMode, project_redacts: bool, allowed: bool
) -> None:
    options = recording_options(mode, project_records=True, project_redacts=project_redacts)
    # Traces and logs carry the model's input (the transcript): they follow the transcript.
    assert {key: options[key] for key in ("audio", "transcript", "traces", "logs")} == dict.fromkeys(
        ("audio", "transcript", "traces", "logs"), allowed
    )
    assert options["redaction"] is (allowed and project_redacts)
    assert not any(recording_options(mode, project_records=False, project_redacts=True).values())


def test_transcript_off_from_the_environment_turns_recording_of_transcript_and_audio_off() -> None:
    settings = AgentSettings.from_env({"ANALYTICS_TRANSCRIPT": "off"})
    options = recording_options(settings.transcript_mode, project_records=True, project_redacts=True)
    assert options["transcript"] is False and options["audio"] is False


def _participant(kind: Any) -> Any:
    participant = create_autospec(rtc.RemoteParticipant, instance=True)
    participant.kind = kind
    return participant


def test_without_the_noise_cancellation_plugin_the_room_input_is_not_filtered() -> None:
    assert pipeline.NOISE_CANCELLATION is None  # not a dependency (it needs LiveKit Cloud)
    options = room_options(AgentSettings.from_env({}))
    assert options.get_audio_input_options() is not None
    assert options.get_audio_input_options().noise_cancellation is None  # type: ignore[union-attr]


def test_with_the_plugin_sip_callers_get_bvc_telephony_and_others_bvc_unless_turned_off() -> None:
    # A stand-in for livekit.plugins.noise_cancellation: the far side, as the package exposes it.
    plugin = types.ModuleType("noise_cancellation")
    plugin.BVC = lambda: "bvc"  # type: ignore[attr-defined]
    plugin.BVCTelephony = lambda: "bvc-telephony"  # type: ignore[attr-defined]
    track = create_autospec(rtc.RemoteAudioTrack, instance=True)

    selector = room_options(AgentSettings.from_env({}), plugin).get_audio_input_options().noise_cancellation  # type: ignore[union-attr]
    assert callable(selector)
    sip = NoiseCancellationParams(participant=_participant(rtc.ParticipantKind.PARTICIPANT_KIND_SIP), track=track)
    web = NoiseCancellationParams(participant=_participant(rtc.ParticipantKind.PARTICIPANT_KIND_STANDARD), track=track)
    assert (selector(sip), selector(web)) == ("bvc-telephony", "bvc")

    off = room_options(AgentSettings.from_env({"AGENT_NOISE_CANCELLATION": "off"}), plugin)
    assert off.get_audio_input_options().noise_cancellation is None  # type: ignore[union-attr]


def test_provider_plugins_are_built_from_the_model_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("DEEPGRAM_API_KEY", "OPENAI_API_KEY", "CARTESIA_API_KEY"):
        monkeypatch.setenv(variable, "test-key")
    models = build_models(AgentSettings.from_env({"AGENT_TTS": "openai/gpt-4o-mini-tts"}), vad=None)
    assert (models["stt"].provider, models["stt"].model) == ("Deepgram", "nova-3")
    assert models["llm"].model == "gpt-4.1-mini"
    assert models["tts"].model == "gpt-4o-mini-tts"
    inference_models = build_models(AgentSettings.from_env({"AGENT_MODEL_BACKEND": "inference"}), vad=None)
    assert inference_models["stt"] == "deepgram/nova-3" and inference_models["tts"] == "cartesia/sonic-3"


def test_no_livekit_plugin_is_imported_inside_a_function_in_agent() -> None:
    """A plugin first imported off the main thread fails ("Plugins must be registered on the main thread"), and
    console runs the job on a thread: every plugin import is at module level."""
    indented = re.compile(r"^[ \t]+(from livekit\.plugins|import livekit\.plugins)", re.MULTILINE)
    offenders = [path.name for path in AGENT_DIR.glob("*.py") if indented.search(path.read_text(encoding="utf-8"))]
    assert offenders == []
