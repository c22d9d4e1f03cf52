"""The agent server: `python -m agent.main start` (production), `lk agent console` / `python -m agent.main console`.

One job per call. The voice pipeline comes from the environment (`agent.settings`). Analytics never sit on the
call path: the collector only appends, and the export starts when the session closes. Every ending exports,
exactly once, from whichever of these fires first: the session's `close` event, the job's shutdown callback
(which LiveKit does not always run, livekit/agents#4152), or the entrypoint failing.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from dotenv import load_dotenv
from livekit import rtc
from livekit.agents import AgentServer, AgentSession, JobContext, JobProcess, cli

from agent.assistant import Assistant
from agent.clients import (
    FakeKnowledgeSearchClient,
    FakeMeetingBookingClient,
    HttpKnowledgeSearchClient,
    HttpMeetingBookingClient,
    KnowledgeSearchClient,
    MeetingBookingClient,
)
from agent.collector import Channel, SessionCollector
from agent.endings import install_call_timeouts
from agent.exporter import Exporter, S3Sink, SessionExportOnce, flush_spool, log_task_outcome, make_s3_client
from agent.settings import DEV_CALLER_SALT, AgentSettings, SettingsError
from functions.common.record import EndReason

logger = logging.getLogger("agent")

load_dotenv(Path(".env"))
SETTINGS = AgentSettings.from_env()

GREETING = (
    "Greet the caller in one short sentence, say you can answer questions about the trial, and ask how you can help."
)

# Ends of the room connection that mean the caller is gone (rather than our side failing).
_HANGUP_DISCONNECTS = {
    rtc.DisconnectReason.CLIENT_INITIATED,
    rtc.DisconnectReason.ROOM_DELETED,
    rtc.DisconnectReason.ROOM_CLOSED,
    rtc.DisconnectReason.PARTICIPANT_REMOVED,
    rtc.DisconnectReason.USER_UNAVAILABLE,
    rtc.DisconnectReason.USER_REJECTED,
}


def build_exporter(settings: AgentSettings) -> Exporter:
    client = make_s3_client(
        endpoint_url=settings.aws_endpoint_url,
        connect_timeout_s=settings.s3_connect_timeout_s,
        read_timeout_s=settings.s3_read_timeout_s,
        max_attempts=settings.s3_max_attempts,
    )
    sink = S3Sink(settings.analytics_bucket, client, sse=settings.s3_sse, kms_key_id=settings.s3_kms_key_id)
    return Exporter(
        sink, spool_dir=settings.spool_dir, budget_s=settings.export_budget_s, prefix=settings.analytics_prefix
    )


def build_tool_clients(settings: AgentSettings) -> tuple[KnowledgeSearchClient, MeetingBookingClient]:
    if settings.uses_fake_tools:
        return FakeKnowledgeSearchClient(), FakeMeetingBookingClient()
    return (
        HttpKnowledgeSearchClient(
            base_url=settings.knowledge_base_url,
            api_key=settings.knowledge_api_key,
            timeout_s=settings.knowledge_timeout_s,
        ),
        HttpMeetingBookingClient(
            base_url=settings.booking_base_url, api_key=settings.booking_api_key, timeout_s=settings.booking_timeout_s
        ),
    )


def build_models(settings: AgentSettings, vad: Any) -> dict[str, Any]:
    """STT/LLM/TTS for AgentSession: plugin objects (our provider keys) or LiveKit Inference model strings."""
    if settings.model_backend == "inference":
        voice = f":{settings.tts_voice}" if settings.tts_voice else ""
        return {"stt": settings.stt_model, "llm": settings.llm_model, "tts": settings.tts_model + voice, "vad": vad}
    from livekit.plugins import cartesia, deepgram, openai

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


_startup_task: asyncio.Task[None] | None = None


async def _check_and_flush(exporter: Exporter) -> None:
    sink = exporter.sink
    if isinstance(sink, S3Sink):
        check = await asyncio.to_thread(sink.check_write, exporter.prefix)
        if check.ok:
            logger.info("analytics export ready: %s", check.detail)
        else:
            # Loud on purpose: the seed deployment lost days of records to a missing s3:PutObject, only logged.
            logger.critical(
                "ANALYTICS RECORDS CANNOT BE WRITTEN to bucket '%s': %s. Every call will be spooled to %s "
                "until this is fixed; then run `voice-analytics spool flush`.",
                sink.bucket,
                check.detail,
                exporter.spool_dir,
            )
            return
    report = await asyncio.to_thread(flush_spool, sink, exporter.spool_dir)
    if report.uploaded or report.already_present or report.failed:
        logger.info("spool flush at start: %s", report.as_dict())


def start_background_checks(exporter: Exporter) -> None:
    """Once per process: the write check, then a flush of anything spooled earlier (off the call path)."""
    global _startup_task
    if _startup_task is None:
        _startup_task = asyncio.create_task(_check_and_flush(exporter), name="analytics-startup")


def participant_channel(participant: rtc.RemoteParticipant) -> Channel:
    return "sip" if participant.kind == rtc.ParticipantKind.PARTICIPANT_KIND_SIP else "web"


def prewarm(proc: JobProcess) -> None:
    from livekit.plugins import silero

    proc.userdata["vad"] = silero.VAD.load()


server = AgentServer(shutdown_process_timeout=SETTINGS.shutdown_timeout_s, setup_fnc=prewarm)


@server.rtc_session(agent_name=SETTINGS.livekit_agent_name)
async def entrypoint(ctx: JobContext) -> None:
    settings = SETTINGS
    ctx.log_context_fields = {"room": ctx.room.name}
    if settings.caller_salt == DEV_CALLER_SALT:
        logger.warning("ANALYTICS_CALLER_SALT is not set: caller keys use the public development salt")
    exporter = build_exporter(settings)
    start_background_checks(exporter)

    collector = SessionCollector(
        session_id=ctx.room.name,
        agent_name=settings.agent_name,
        agent_version=settings.agent_version,
        transcript_mode=settings.transcript_mode,
        caller_salt=settings.caller_salt,
    )
    export_once = SessionExportOnce(exporter, collector.build_record)

    async def on_shutdown(reason: str) -> None:
        collector.note_shutdown(reason)
        result = await export_once.wait()
        logger.info("session %s exported at shutdown: %s", collector.session_id, result.status)

    ctx.add_shutdown_callback(on_shutdown)

    knowledge, booking = build_tool_clients(settings)
    session: AgentSession[Any] = AgentSession(
        **build_models(settings, ctx.proc.userdata.get("vad")),
        turn_handling={"turn_detection": settings.turn_detection},
        user_away_timeout=settings.user_away_timeout_s,
    )
    collector.attach(session)

    def on_session_end() -> None:
        log_task_outcome(export_once.trigger())
        if collector.end_reason() in (EndReason.AGENT_ENDED, EndReason.TIMEOUT):
            # Our side ended the call: delete the room so a SIP caller is hung up too.
            ctx.delete_room()
        ctx.shutdown(reason=f"session ended: {collector.end_reason().value}")

    collector.on_end(on_session_end)

    @ctx.room.on("participant_disconnected")
    def on_participant_disconnected(participant: rtc.RemoteParticipant) -> None:
        if participant.kind != rtc.ParticipantKind.PARTICIPANT_KIND_AGENT:
            channel = participant_channel(participant)
            collector.mark_end_reason(EndReason.SIP_HANGUP if channel == "sip" else EndReason.CALLER_HANGUP)

    @ctx.room.on("disconnected")
    def on_room_disconnected(reason: rtc.DisconnectReason.ValueType) -> None:
        if reason in _HANGUP_DISCONNECTS:
            collector.mark_end_reason(EndReason.SIP_HANGUP if collector.channel == "sip" else EndReason.CALLER_HANGUP)
        elif reason != rtc.DisconnectReason.SERVER_SHUTDOWN:
            collector.mark_end_reason(EndReason.ERROR)

    try:
        await session.start(
            agent=Assistant(knowledge=knowledge, booking=booking, collector=collector),
            room=ctx.room,
        )
        install_call_timeouts(session, collector, max_call_duration_s=settings.max_call_duration_s)
        participant = await ctx.wait_for_participant()
        collector.set_caller(participant.identity, participant_channel(participant))
        session.generate_reply(instructions=GREETING)
    except Exception:
        logger.exception("session %s failed to start; exporting what was collected", collector.session_id)
        collector.mark_end_reason(EndReason.ERROR)
        log_task_outcome(export_once.trigger())
        raise


if __name__ == "__main__":
    cli.run_app(server)
