"""An offline audio path for the real AgentSession: a caller that speaks PCM in real time, and the far sides of a
voice pipeline written for tests (the scripted LLM is agent/scripted_llm.py).

- `Caller` is the audio input: a 16 kHz PCM stream paced by the event loop's clock (the framework measures turn
  timing on the wall clock), silence between utterances, and speech-like tones (harmonics under a syllable
  envelope) while the caller talks. It tells the STT where each spoken segment ends in the stream.
- `EnergyVAD` is a deterministic VAD over that audio (frame RMS against a threshold), with Silero's event
  semantics: START_OF_SPEECH after `min_speech_s` of voice, INFERENCE_DONE per frame, END_OF_SPEECH after
  `min_silence_s` of silence. Silero itself (in the wheel) does not take tones for speech.
- `ScriptedSTT` streams: it counts the samples it receives and, at the position where a segment of the current
  utterance has been heard, sends an interim transcript and then the final one (several finals per user turn, as
  Deepgram does), with start/end times relative to the stream and usage per final.
- `ToneTTS` synthesises a tone whose length follows the text (`seconds_per_char`).
- `PlayoutSink` is the audio output with a playout clock: playback starts at the first frame, ends when the audio
  pushed has had time to play (after `flush`), or at once, interrupted, on `clear_buffer`.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from livekit import rtc
from livekit.agents import APIConnectOptions, stt, tts, utils, vad
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, NOT_GIVEN, NotGivenOr
from livekit.agents.voice import io

SAMPLE_RATE = 16_000
FRAME_S = 0.02
FRAME_SAMPLES = int(SAMPLE_RATE * FRAME_S)
SPEECH_PEAK = 9_000  # int16
VOICE_RMS = 400.0


def speech_like(duration_s: float, pitch_hz: float = 140.0) -> np.ndarray:
    """A voiced tone (fundamental and two harmonics) under a four-syllables-a-second envelope."""
    t = np.arange(int(duration_s * SAMPLE_RATE)) / SAMPLE_RATE
    voice = (
        np.sin(2 * math.pi * pitch_hz * t)
        + 0.5 * np.sin(4 * math.pi * pitch_hz * t)
        + 0.25 * np.sin(6 * math.pi * pitch_hz * t)
    )
    envelope = 0.35 + 0.65 * np.abs(np.sin(math.pi * 4.0 * t))
    return (SPEECH_PEAK / 1.75 * voice * envelope).astype(np.int16)


@dataclass(frozen=True)
class Segment:
    """Words of one STT segment and how long the caller takes to say them."""

    text: str
    duration_s: float


@dataclass(order=True)
class _Due:
    at_sample: int
    order: int
    event: stt.SpeechEvent = field(compare=False)


class _Plan:
    """What the STT will hear: transcript events keyed by the stream position at which they are due."""

    def __init__(self) -> None:
        self.due: list[_Due] = []
        self._count = 0

    def add(self, at_sample: int, event: stt.SpeechEvent) -> None:
        self._count += 1
        self.due.append(_Due(at_sample, self._count, event))
        self.due.sort()

    def pop_due(self, position: int) -> list[stt.SpeechEvent]:
        ready = [item.event for item in self.due if item.at_sample <= position]
        self.due = [item for item in self.due if item.at_sample > position]
        return ready


# -- STT -----------------------------------------------------------------------------------------------------


class ScriptedSTT(stt.STT):
    def __init__(self, *, final_delay_s: float = 0.08) -> None:
        super().__init__(capabilities=stt.STTCapabilities(streaming=True, interim_results=True))
        self.plan = _Plan()
        self.final_delay_s = final_delay_s

    @property
    def model(self) -> str:
        return "scripted-stt"

    @property
    def provider(self) -> str:
        return "test"

    async def _recognize_impl(
        self, buffer: Any, *, language: NotGivenOr[str] = NOT_GIVEN, conn_options: APIConnectOptions
    ) -> stt.SpeechEvent:
        raise NotImplementedError("ScriptedSTT only streams")

    def stream(
        self, *, language: NotGivenOr[str] = NOT_GIVEN, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> stt.RecognizeStream:
        return _ScriptedSTTStream(stt=self, conn_options=conn_options)


class _ScriptedSTTStream(stt.RecognizeStream):
    def __init__(self, *, stt: ScriptedSTT, conn_options: APIConnectOptions) -> None:
        super().__init__(stt=stt, conn_options=conn_options)
        self._scripted = stt

    async def _run(self) -> None:
        position = 0
        billed = 0
        async for item in self._input_ch:
            if isinstance(item, self._FlushSentinel):
                continue
            position += item.samples_per_channel * SAMPLE_RATE // item.sample_rate
            for event in self._scripted.plan.pop_due(position):
                self._event_ch.send_nowait(event)
                if event.type is stt.SpeechEventType.FINAL_TRANSCRIPT:
                    usage = stt.RecognitionUsage(audio_duration=(position - billed) / SAMPLE_RATE)
                    billed = position
                    self._event_ch.send_nowait(
                        stt.SpeechEvent(type=stt.SpeechEventType.RECOGNITION_USAGE, recognition_usage=usage)
                    )


# -- VAD -----------------------------------------------------------------------------------------------------


class EnergyVAD(vad.VAD):
    def __init__(self, *, min_speech_s: float = 0.06, min_silence_s: float = 0.3) -> None:
        super().__init__(capabilities=vad.VADCapabilities(update_interval=FRAME_S))
        self.min_speech_s = min_speech_s
        self.min_silence_s = min_silence_s

    @property
    def model(self) -> str:
        return "energy"

    @property
    def provider(self) -> str:
        return "test"

    def stream(self) -> vad.VADStream:
        return _EnergyVADStream(self)


class _EnergyVADStream(vad.VADStream):
    def __init__(self, detector: EnergyVAD) -> None:
        super().__init__(detector)
        self._detector = detector

    async def _main_task(self) -> None:
        speaking = False
        speech_s = silence_s = 0.0  # of the current speech (VADEvent.speech_duration / silence_duration)
        raw_speech_s = raw_silence_s = 0.0  # consecutive voiced / unvoiced time
        samples = 0
        speech_frames: list[rtc.AudioFrame] = []
        async for frame in self._input_ch:
            if isinstance(frame, self._FlushSentinel):
                speaking, speech_s, silence_s, raw_speech_s, raw_silence_s = False, 0.0, 0.0, 0.0, 0.0
                speech_frames = []
                continue
            data = np.frombuffer(frame.data, dtype=np.int16).astype(np.float64)
            voiced = bool(data.size) and float(np.sqrt(np.mean(data * data))) >= VOICE_RMS
            duration = frame.samples_per_channel / frame.sample_rate
            samples += frame.samples_per_channel
            timestamp = samples / frame.sample_rate
            if speaking:
                speech_s += duration
                speech_frames.append(frame)
            else:
                silence_s += duration
            if voiced:
                raw_speech_s += duration
                raw_silence_s = 0.0
            else:
                raw_silence_s += duration
                raw_speech_s = 0.0
            self._event_ch.send_nowait(
                vad.VADEvent(
                    type=vad.VADEventType.INFERENCE_DONE,
                    samples_index=samples,
                    timestamp=timestamp,
                    speech_duration=speech_s,
                    silence_duration=silence_s,
                    probability=1.0 if voiced else 0.0,
                    speaking=speaking,
                    raw_accumulated_speech=raw_speech_s,
                    raw_accumulated_silence=raw_silence_s,
                    frames=[frame],
                )
            )
            if not speaking and raw_speech_s >= self._detector.min_speech_s:
                speaking, speech_s, silence_s, speech_frames = True, raw_speech_s, 0.0, [frame]
                self._event_ch.send_nowait(
                    vad.VADEvent(
                        type=vad.VADEventType.START_OF_SPEECH,
                        samples_index=samples,
                        timestamp=timestamp,
                        speech_duration=speech_s,
                        silence_duration=0.0,
                        frames=[frame],
                        speaking=True,
                    )
                )
            elif speaking and raw_silence_s >= self._detector.min_silence_s:
                speaking, silence_s = False, raw_silence_s
                self._event_ch.send_nowait(
                    vad.VADEvent(
                        type=vad.VADEventType.END_OF_SPEECH,
                        samples_index=samples,
                        timestamp=timestamp,
                        speech_duration=speech_s,
                        silence_duration=silence_s,
                        frames=[utils.combine_frames(speech_frames)],
                        speaking=False,
                    )
                )
                speech_s, speech_frames = 0.0, []


# -- TTS -----------------------------------------------------------------------------------------------------


class ToneTTS(tts.TTS):
    def __init__(self, *, seconds_per_char: float = 0.03, sample_rate: int = 24_000) -> None:
        super().__init__(capabilities=tts.TTSCapabilities(streaming=False), sample_rate=sample_rate, num_channels=1)
        self.seconds_per_char = seconds_per_char

    @property
    def model(self) -> str:
        return "tone-tts"

    @property
    def provider(self) -> str:
        return "test"

    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> tts.ChunkedStream:
        return _ToneStream(tts=self, input_text=text, conn_options=conn_options)


class _ToneStream(tts.ChunkedStream):
    async def _run(self, output_emitter: tts.AudioEmitter) -> None:
        engine = self._tts
        assert isinstance(engine, ToneTTS)
        samples = int(len(self.input_text) * engine.seconds_per_char * engine.sample_rate)
        t = np.arange(samples) / engine.sample_rate
        tone = (2_000 * np.sin(2 * math.pi * 220.0 * t)).astype(np.int16)
        output_emitter.initialize(
            request_id=utils.shortuuid("tone-"),
            sample_rate=engine.sample_rate,
            num_channels=1,
            mime_type="audio/pcm",
        )
        output_emitter.push(tone.tobytes())
        output_emitter.flush()


# -- audio I/O -----------------------------------------------------------------------------------------------


class PlayoutSink(io.AudioOutput):
    """Plays what it is given in real time, on a clock of its own (no device)."""

    def __init__(self) -> None:
        super().__init__(label="PlayoutSink", capabilities=io.AudioOutputCapabilities(pause=False))
        self._pushed_s = 0.0
        self._started_at: float | None = None
        self._finish: asyncio.TimerHandle | None = None
        self.segments: list[tuple[float, bool]] = []  # (seconds played, interrupted) per segment

    async def capture_frame(self, frame: rtc.AudioFrame) -> None:
        await super().capture_frame(frame)
        self._pushed_s += frame.duration
        if self._started_at is None:
            self._started_at = time.time()
            self.on_playback_started(created_at=self._started_at)

    def flush(self) -> None:
        super().flush()
        if self._started_at is None:
            return
        remaining = max(0.0, self._pushed_s - (time.time() - self._started_at))
        pushed = self._pushed_s
        if self._finish is not None:
            self._finish.cancel()
        self._finish = asyncio.get_running_loop().call_later(remaining, self._finished, pushed, False)

    def clear_buffer(self) -> None:
        if self._started_at is None:
            return
        if self._finish is not None:
            self._finish.cancel()
        self._finished(min(self._pushed_s, time.time() - self._started_at), True)

    def _finished(self, position: float, interrupted: bool) -> None:
        self._pushed_s, self._started_at, self._finish = 0.0, None, None
        self.segments.append((position, interrupted))
        self.on_playback_finished(playback_position=position, interrupted=interrupted)


class _PacedInput(io.AudioInput):
    def __init__(self) -> None:
        super().__init__(label="Caller")
        self.frames: asyncio.Queue[rtc.AudioFrame] = asyncio.Queue()

    async def __anext__(self) -> rtc.AudioFrame:
        return await self.frames.get()


class Caller:
    """The caller's microphone: one PCM frame every 20 ms of wall-clock time, speech when told to speak."""

    def __init__(self, stt_engine: ScriptedSTT) -> None:
        self.input = _PacedInput()
        self._stt = stt_engine
        self._pending = np.zeros(0, dtype=np.int16)
        self._position = 0  # samples sent
        self._sent = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._pace(), name="caller-microphone")

    async def stop(self) -> None:
        if self._task is not None:
            await utils.aio.cancel_and_wait(self._task)

    async def _pace(self) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        frames = 0
        while True:
            frames += 1
            chunk, self._pending = self._pending[:FRAME_SAMPLES], self._pending[FRAME_SAMPLES:]
            if chunk.size < FRAME_SAMPLES:
                chunk = np.concatenate([chunk, np.zeros(FRAME_SAMPLES - chunk.size, dtype=np.int16)])
            self.input.frames.put_nowait(
                rtc.AudioFrame(
                    data=chunk.tobytes(), sample_rate=SAMPLE_RATE, num_channels=1, samples_per_channel=FRAME_SAMPLES
                )
            )
            self._position += FRAME_SAMPLES
            if not self._pending.size:
                self._sent.set()
            await asyncio.sleep(max(0.0, started + frames * FRAME_S - loop.time()))

    async def say(self, segments: Sequence[Segment], *, pause_s: float = 0.12) -> None:
        """Speak `segments` with short pauses (shorter than the VAD's silence, so one user turn); return once said.

        The STT hears each segment's interim transcript mid-way and its final one `final_delay_s` after it ends.
        """
        pieces: list[np.ndarray] = []
        start = self._position + self._pending.size
        offset = start
        for index, segment in enumerate(segments):
            if index:
                pieces.append(np.zeros(int(pause_s * SAMPLE_RATE), dtype=np.int16))
                offset += int(pause_s * SAMPLE_RATE)
            audio = speech_like(segment.duration_s, pitch_hz=140.0 + 10 * index)
            pieces.append(audio)
            begin, end = offset / SAMPLE_RATE, (offset + audio.size) / SAMPLE_RATE
            words = segment.text.split()
            interim = " ".join(words[: max(1, len(words) // 2)])
            self._stt.plan.add(
                offset + audio.size // 2,
                stt.SpeechEvent(
                    type=stt.SpeechEventType.INTERIM_TRANSCRIPT,
                    alternatives=[stt.SpeechData(language="en", text=interim, start_time=begin, confidence=0.6)],
                ),
            )
            self._stt.plan.add(
                offset + audio.size + int(self._stt.final_delay_s * SAMPLE_RATE),
                stt.SpeechEvent(
                    type=stt.SpeechEventType.FINAL_TRANSCRIPT,
                    alternatives=[
                        stt.SpeechData(
                            language="en", text=segment.text, start_time=begin, end_time=end, confidence=0.95
                        )
                    ],
                ),
            )
            offset += audio.size
        self._sent.clear()
        self._pending = np.concatenate([self._pending, *pieces])
        await self._sent.wait()


class AgentStates:
    """The agent's state changes, to wait for it to start or stop speaking after a given point."""

    def __init__(self, session: Any) -> None:
        self.history: list[str] = []
        self._changed = asyncio.Event()
        session.on("agent_state_changed", self._on_change)

    def _on_change(self, event: Any) -> None:
        self.history.append(event.new_state)
        self._changed.set()

    def mark(self) -> int:
        return len(self.history)

    async def reach(self, state: str, *, since: int, timeout_s: float = 15.0) -> int:
        """Wait until the agent has been in `state` after mark `since`; returns the mark just after it."""

        async def wait() -> int:
            while True:
                for index in range(since, len(self.history)):
                    if self.history[index] == state:
                        return index + 1
                self._changed.clear()
                await self._changed.wait()

        return await asyncio.wait_for(wait(), timeout_s)
