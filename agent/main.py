"""The agent server: one job per call.

Started with livekit-agents' own entry (the rich CLI of `python -m agent.main` is deprecated in 1.8):
    python -m livekit.agents start agent/main.py          production (the Dockerfile's command)
    python -m livekit.agents start agent/main.py --dev    development: joins rooms of your LiveKit project
    lk agent console / lk agent dev                        the LiveKit CLI, which finds main.py at the repo root

The voice pipeline comes from the environment (agent/settings.py, agent/pipeline.py). Analytics never sit on the
call path: the collector only appends, and the export starts when the session closes; on_session_end waits for it
(see agent/call.py for every ending and how one call still gives one record).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from dotenv import load_dotenv
from livekit import rtc
from livekit.agents import AgentServer, JobContext, JobProcess
from livekit.agents.worker import ServerEnvOption

# agent.pipeline imports every livekit.plugins module; importing it here, at module level, registers them on the
# main thread before `console` runs a job on a thread.
from agent import pipeline
from agent.analytics_log import install_session_analytics_log
from agent.assistant import GREETING, Assistant
from agent.call import (
    Call,
    export_after_failure,
    export_at_session_end,
    export_at_shutdown,
    on_participant_disconnected,
    on_room_disconnected,
    open_call,
    participant_channel,
)
from agent.clients import (
    FakeKnowledgeSearchClient,
    FakeMeetingBookingClient,
    HttpKnowledgeSearchClient,
    HttpMeetingBookingClient,
    KnowledgeSearchClient,
    MeetingBookingClient,
)
from agent.collector import call_ids
from agent.endings import install_call_timeouts
from agent.exporter import Exporter, S3Sink, flush_spool, s3_sink_from_settings
from agent.settings import DEV_CALLER_SALT, AgentSettings
from functions.common.record import EndReason
from functions.common.redaction import install_log_masking

logger = logging.getLogger("agent")

# Every process that loads this module (the server, each job process) masks email addresses and phone numbers in
# every log line, LiveKit's and botocore's included, and writes each session's analytics line as bare JSON.
install_log_masking()
install_session_analytics_log()
load_dotenv(Path(".env"))
SETTINGS = AgentSettings.from_env()


def build_exporter(settings: AgentSettings) -> Exporter:
    sink = s3_sink_from_settings(settings)
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
    if report.uploaded or report.already_present or report.collisions or report.failed:
        logger.info("spool flush at start: %s", report.as_dict())


def start_background_checks(exporter: Exporter) -> None:
    """Once per process: the write check, then a flush of anything spooled earlier (off the call path)."""
    global _startup_task
    if _startup_task is None:
        _startup_task = asyncio.create_task(_check_and_flush(exporter), name="analytics-startup")


def prewarm(proc: JobProcess) -> None:
    proc.userdata["vad"] = pipeline.load_vad()


# The calls of this process by LiveKit job id, for on_session_end (a process runs one job at a time; console runs
# it on a thread of the worker's process).
_calls: dict[str, Call] = {}


async def on_session_end(ctx: JobContext) -> None:
    """LiveKit calls this after the session closed, before its own report upload and the room disconnect."""
    call = _calls.pop(ctx.job.id, None)
    if call is None:
        return  # the entrypoint failed before the call was opened: nothing was collected
    result = await export_at_session_end(call, ctx.tagger)
    logger.info("session %s exported at session end: %s", call.collector.session_id, result.status)


server = AgentServer(
    shutdown_process_timeout=SETTINGS.shutdown_timeout_s,
    session_end_timeout=SETTINGS.session_end_timeout_s,
    port=ServerEnvOption(dev_default=0, prod_default=SETTINGS.health_port),
    setup_fnc=prewarm,
)


@server.rtc_session(agent_name=SETTINGS.livekit_agent_name, on_session_end=on_session_end)
async def entrypoint(ctx: JobContext) -> None:
    settings = SETTINGS
    if settings.caller_salt == DEV_CALLER_SALT:
        logger.warning("ANALYTICS_CALLER_SALT is not set: caller keys use the public development salt")
    exporter = build_exporter(settings)
    start_background_checks(exporter)

    # The job id is unique per call; the room name is not (every console session is in "console").
    ids = call_ids(ctx.room.name, ctx.job.id or ctx.job.room.sid, settings.caller_salt)
    ctx.log_context_fields = {"session_id": ids.session_id}
    call = open_call(settings, ids, exporter, pipeline.build_models(settings, ctx.proc.userdata.get("vad")))
    _calls[ctx.job.id] = call
    collector, session = call.collector, call.session

    async def on_shutdown(reason: str) -> None:
        result = await export_at_shutdown(call, reason)
        logger.info("session %s exported at shutdown: %s", collector.session_id, result.status)

    ctx.add_shutdown_callback(on_shutdown)

    def on_session_closed() -> None:
        if collector.end_reason() in (EndReason.AGENT_ENDED, EndReason.TIMEOUT):
            # Our side ended the call: delete the room so a SIP caller is hung up too.
            ctx.delete_room()
        ctx.shutdown(reason=f"session ended: {collector.end_reason().value}")

    collector.on_end(on_session_closed)

    @ctx.room.on("participant_disconnected")
    def _participant_left(participant: rtc.RemoteParticipant) -> None:
        on_participant_disconnected(call, participant)

    @ctx.room.on("disconnected")
    def _room_left(reason: rtc.DisconnectReason.ValueType) -> None:
        on_room_disconnected(call, reason)

    knowledge, booking = build_tool_clients(settings)
    try:
        await session.start(
            agent=Assistant(knowledge=knowledge, booking=booking, collector=collector),
            room=ctx.room,
            room_options=pipeline.room_options(settings),
            record=pipeline.recording_options(
                settings.transcript_mode,
                project_records=ctx.job.enable_recording,
                project_redacts=ctx.job.enable_redaction,
            ),
        )
        install_call_timeouts(session, collector, max_call_duration_s=settings.max_call_duration_s)
        participant = await ctx.wait_for_participant()
        collector.set_caller(participant.identity, participant_channel(participant))
        session.generate_reply(instructions=GREETING)
        logger.info("session %s started in room %s", collector.session_id, ids.room)
    except Exception:
        logger.exception("session %s failed to start; exporting what was collected", collector.session_id)
        export_after_failure(call)
        raise


if __name__ == "__main__":
    # livekit-agents 1.8 deprecates the rich CLI this module used to start (`cli.run_app`).
    raise SystemExit(
        "start the agent with `python -m livekit.agents start` (production), `... start --dev`, or "
        "`lk agent console` / `lk agent dev` from the repository root; see README, 'Run the agent'"
    )
