"""The real AgentSession driven with audio, counted in the record the real exporter writes.

One call is wired exactly as agent/main.py wires it (agent/call.py `open_call`, the settings' pipeline and turn
handling, the greeting, the recording options), with the far sides from tests/audio_harness.py: a caller whose
PCM is paced in real time, an energy VAD, a scripted streaming STT that finalises each user turn in several
segments, the scripted LLM, a tone TTS and a sink with a playout clock. The caller:

1. says "we're about twenty | five people | and we need salesforce sync" (three STT finals, one user turn);
2. barges in on the agent's long answer with "three hundred contracts a month | is what we send";
3. hangs up after the agent's short reply.

Turn detection is `vad`: the turn-detector model (the default) cannot decide on tones; tests/unit/
test_agent_pipeline.py checks that `model` gives LiveKit's detector.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from livekit import rtc
from livekit.agents.observability import Tagger
from livekit.agents.voice.transcription import TranscriptSynchronizer

from agent.assistant import GREETING, Assistant
from agent.call import (
    Call,
    export_after_failure,
    export_at_session_end,
    export_at_shutdown,
    on_room_disconnected,
    open_call,
)
from agent.clients import FakeKnowledgeSearchClient, FakeMeetingBookingClient
from agent.collector import call_ids
from agent.exporter import Exporter
from agent.pipeline import recording_options
from agent.scripted_llm import DEFAULT_REPLY, ConversationScript, ScriptedLLM
from agent.settings import AgentSettings
from functions.common.record import EndReason, SessionRecord, TranscriptMode, parse_record
from tests.agent_fixtures import folder_exporter, read_record, stored_objects
from tests.audio_harness import AgentStates, Caller, EnergyVAD, PlayoutSink, ScriptedSTT, Segment, ToneTTS

FIRST_TURN = [
    Segment("we're about twenty", 0.5),
    Segment("five people", 0.35),
    Segment("and we need salesforce sync", 0.6),
]
# The first segment is final before the caller has spoken LiveKit's 0.5 s of interruption: its transcript arrives
# before the interrupted answer is committed, the user message after it.
BARGE_IN = [Segment("three hundred contracts a month", 0.35), Segment("is what we send", 0.5)]
LONG_ANSWER = (
    "Salesforce sync is part of every plan, and a team of your size usually starts on the team plan. "
    "I can also walk you through templates and approvals."
)
SHORT_ANSWER = "Thanks, that helps."
SCRIPT = ConversationScript.model_validate(
    {
        "turns": [
            {"role": "user", "text": " ".join(segment.text for segment in FIRST_TURN)},
            {"role": "assistant", "text": LONG_ANSWER},
            {"role": "user", "text": " ".join(segment.text for segment in BARGE_IN)},
            {"role": "assistant", "text": SHORT_ANSWER},
        ]
    }
)


def _settings(**overrides: Any) -> AgentSettings:
    return AgentSettings(caller_salt="audio-salt", turn_detection="vad", **overrides)


@dataclass
class AudioCall:
    call: Call
    caller: Caller
    sink: PlayoutSink
    states: AgentStates


async def _start_audio_call(
    settings: AgentSettings, exporter: Exporter, job_id: str, room: str = "console"
) -> AudioCall:
    """A call as the entrypoint starts it, with the harness's audio in place of the room's."""
    stt_engine = ScriptedSTT()
    models = {"stt": stt_engine, "llm": ScriptedLLM(SCRIPT), "tts": ToneTTS(), "vad": EnergyVAD()}
    call = open_call(settings, call_ids(room, job_id, settings.caller_salt), exporter, models)
    caller, sink = Caller(stt_engine), PlayoutSink()
    # As the console wires its terminal: transcript synchronised with the audio played.
    synchronizer = TranscriptSynchronizer(next_in_chain_audio=sink, next_in_chain_text=None)
    session = call.session
    session.input.audio = caller.input
    session.output.audio = synchronizer.audio_output
    session.output.transcription = synchronizer.text_output
    states = AgentStates(session)
    await session.start(
        Assistant(knowledge=FakeKnowledgeSearchClient(), booking=FakeMeetingBookingClient(), collector=call.collector),
        record=recording_options(settings.transcript_mode, project_records=True, project_redacts=True),
    )
    call.collector.set_caller("web-caller-1", "web")
    caller.start()
    return AudioCall(call=call, caller=caller, sink=sink, states=states)


async def _conversation(root: Path) -> tuple[SessionRecord, AudioCall, dict[str, Any]]:
    audio = await _start_audio_call(_settings(), folder_exporter(root), "AJ_audio0001")
    session, caller, states = audio.call.session, audio.caller, audio.states
    try:
        mark = states.mark()
        session.generate_reply(instructions=GREETING)
        mark = await states.reach("listening", since=await states.reach("speaking", since=mark))

        await caller.say(FIRST_TURN)
        mark = await states.reach("speaking", since=mark)  # the long answer starts playing
        await asyncio.sleep(0.4)
        await caller.say(BARGE_IN)
        mark = await states.reach("speaking", since=await states.reach("listening", since=mark))
        await states.reach("listening", since=mark)  # the short answer has played

        audio.call.collector.mark_end_reason(EndReason.CALLER_HANGUP)
        await session.aclose()
        result = await audio.call.export_once.wait()
    finally:
        await caller.stop()
    (path,) = stored_objects(root / "out")
    observed = {"status": result.status, "key": result.key, "segments": list(audio.sink.segments)}
    return parse_record(read_record(path)), audio, observed


@pytest.fixture(scope="module")
def conversation(tmp_path_factory: pytest.TempPathFactory) -> tuple[SessionRecord, AudioCall, dict[str, Any]]:
    return asyncio.run(_conversation(tmp_path_factory.mktemp("audio")))


def test_a_user_turn_finalised_in_three_stt_segments_gives_the_signals_of_the_joined_phrase(
    conversation: tuple[SessionRecord, AudioCall, dict[str, Any]],
) -> None:
    record, _, _ = conversation
    joined = "we're about twenty five people and we need salesforce sync"
    assert record.transcript[1].role == "user" and record.transcript[1].text == joined
    # "twenty" / "five people" alone would have said 20 (or 5): the turn says 25.
    assert record.signals.team_size == 25
    assert "salesforce" in record.signals.integrations
    evidence = {item.field: item for item in record.signals.evidence}
    assert evidence["team_size"].turn_index == 1 and evidence["integrations"].turn_index == 1


def test_a_caller_barging_in_keeps_turn_indices_and_the_transcript_right(
    conversation: tuple[SessionRecord, AudioCall, dict[str, Any]],
) -> None:
    record, _, observed = conversation
    roles = [(turn.index, turn.role) for turn in record.transcript]
    assert roles == [(0, "assistant"), (1, "user"), (2, "assistant"), (3, "user"), (4, "assistant")]
    assert record.transcript[0].text == DEFAULT_REPLY  # the greeting (the script has no text for it)
    interrupted = record.transcript[2].text
    assert interrupted and LONG_ANSWER.startswith(interrupted.rstrip()) and len(interrupted) < len(LONG_ANSWER)
    assert record.transcript[3].text == "three hundred contracts a month is what we send"
    assert record.transcript[4].text == SHORT_ANSWER
    assert record.user_turns == 2
    volume = next(item for item in record.signals.evidence if item.field == "monthly_volume")
    assert (record.signals.monthly_volume, volume.turn_index) == (300, 3)
    # The sink saw the long answer cut short, the others played to the end.
    assert [interrupted for _, interrupted in observed["segments"]] == [False, True, False]


def test_per_turn_latencies_and_usage_land_in_the_record(
    conversation: tuple[SessionRecord, AudioCall, dict[str, Any]],
) -> None:
    record, _, observed = conversation
    latency = record.latency
    for name in ("end_of_utterance_delay_ms", "transcription_delay_ms"):
        figure = getattr(latency, name)
        assert figure is not None and figure.count == 2, name
    for name in ("llm_ttft_ms", "tts_ttfb_ms"):
        figure = getattr(latency, name)
        assert figure is not None and figure.count == 3, name  # greeting, long answer, short answer
    assert latency.e2e_latency_ms is not None and latency.e2e_latency_ms.count == 2
    # From the end of the caller's speech to the first audio: LiveKit's endpointing delay (0.5 s, counted from the
    # end of speech) at least, and well under the seconds a stalled pipeline would take.
    assert 450 < latency.e2e_latency_ms.p50 < 5000, latency.e2e_latency_ms
    # The STT's final comes 80 ms of audio after the speech ends (tests/audio_harness.py).
    assert 0 < latency.transcription_delay_ms.p50 < 2000, latency.transcription_delay_ms  # type: ignore[union-attr]
    (stt_usage,) = record.usage.stt
    assert (stt_usage.model, stt_usage.provider) == ("scripted-stt", "test") and stt_usage.audio_seconds > 2.0
    (tts_usage,) = record.usage.tts
    spoken = len(DEFAULT_REPLY) + len(LONG_ANSWER) + len(SHORT_ANSWER)
    assert tts_usage.model == "tone-tts" and 0 < tts_usage.characters <= spoken
    assert record.usage.llm[0].model == "scripted" and record.usage.llm[0].output_tokens > 0
    assert observed["status"] == "uploaded"
    assert (record.session_id, record.room) == ("console-AJ_audio0001", "console")


async def test_two_calls_in_rooms_of_the_same_name_on_one_day_give_two_objects(tmp_path: Path) -> None:
    exporter = folder_exporter(tmp_path)

    async def one_call(job_id: str) -> None:
        audio = await _start_audio_call(_settings(), exporter, job_id)
        await asyncio.sleep(0.1)
        await audio.call.session.aclose()  # LiveKit waits up to 2 s for a last transcript here
        await audio.call.export_once.wait()
        await audio.caller.stop()

    await asyncio.gather(one_call("AJ_same_room_1"), one_call("AJ_same_room_2"))

    records = [read_record(path) for path in stored_objects(tmp_path / "out")]
    assert sorted(record["session_id"] for record in records) == ["console-AJ_same_room_1", "console-AJ_same_room_2"]
    assert {record["room"] for record in records} == {"console"}
    assert len({record["started_at"][:10] for record in records}) == 1


async def test_one_call_exported_from_every_ending_at_once_gives_one_object(tmp_path: Path) -> None:
    audio = await _start_audio_call(_settings(), folder_exporter(tmp_path), "AJ_every_ending")
    await asyncio.sleep(0.1)
    call, tagger = audio.call, Tagger()

    # LiveKit's order at a job shutdown is close, on_session_end, room disconnect, shutdown callbacks; here all at
    # once, with an entrypoint failure on top, and the disconnect our own side makes at the end.
    results = await asyncio.gather(
        call.session.aclose(),
        export_at_session_end(call, tagger),
        export_at_shutdown(call, "parent process shutdown"),
        export_after_failure(call),
    )
    on_room_disconnected(call, rtc.DisconnectReason.CLIENT_INITIATED)
    await audio.caller.stop()

    (path,) = stored_objects(tmp_path / "out")
    exports = results[1:]
    assert len({id(result) for result in exports}) == 1 and exports[0].status == "uploaded"
    record = read_record(path)
    # The entrypoint failure marked the reason first; the disconnect at our own shutdown did not make it a hang-up.
    assert record["end_reason"] == "error"
    assert call.collector.end_reason() is EndReason.ERROR
    assert tagger.tags == {"end_reason:error", "analytics_export:uploaded"}


async def test_transcript_off_records_nothing_in_livekit_cloud_and_no_transcript_here(tmp_path: Path) -> None:
    settings = _settings(transcript_mode=TranscriptMode.OFF)
    audio = await _start_audio_call(settings, folder_exporter(tmp_path), "AJ_transcript_off")
    try:
        options = audio.call.session.options.recording_options
        await audio.caller.say([Segment("we are a team of twelve", 0.5)])
        await audio.call.session.aclose()
        await audio.call.export_once.wait()
    finally:
        await audio.caller.stop()

    assert options["transcript"] is False and options["audio"] is False
    assert options["traces"] is False and options["logs"] is False
    record = read_record(stored_objects(tmp_path / "out")[0])
    assert record["transcript_mode"] == "off" and record["transcript"] == []
