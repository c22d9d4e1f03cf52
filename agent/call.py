"""One call's analytics wiring, shared by the live entrypoint (agent/main.py) and the audio tests.

`open_call` puts the collector on a new AgentSession and arms the export; each ending then exports through the
same `SessionExportOnce`, so one call gives one record whichever endings fire, in any order:
- the session's `close` event (the caller hung up, the agent ended the call, a timeout, an error);
- LiveKit's `on_session_end` callback (`export_at_session_end`), the primary one: it runs after the session is
  closed, with its own timeout (`session_end_timeout`), and tags the LiveKit session;
- the job's shutdown callback (`export_at_shutdown`) and the entrypoint failing (`export_after_failure`), fallbacks.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from livekit import rtc
from livekit.agents import AgentSession
from livekit.agents.observability import Tagger

from agent.collector import CallIds, Channel, Clock, SessionCollector
from agent.exporter import Exporter, ExportResult, SessionExportOnce, log_task_outcome
from agent.pipeline import build_session
from agent.settings import AgentSettings
from functions.common.record import EndReason

# Ends of the agent's room connection that mean the caller is gone. CLIENT_INITIATED is not one of them: it is
# our own side disconnecting, which LiveKit does at every job shutdown, after the session has closed.
_HANGUP_DISCONNECTS = {
    rtc.DisconnectReason.ROOM_DELETED,
    rtc.DisconnectReason.ROOM_CLOSED,
    rtc.DisconnectReason.PARTICIPANT_REMOVED,
    rtc.DisconnectReason.USER_UNAVAILABLE,
    rtc.DisconnectReason.USER_REJECTED,
}
_NOT_AN_ENDING = {rtc.DisconnectReason.CLIENT_INITIATED, rtc.DisconnectReason.SERVER_SHUTDOWN}


@dataclass
class Call:
    collector: SessionCollector
    session: AgentSession[Any]
    export_once: SessionExportOnce


def open_call(
    settings: AgentSettings, ids: CallIds, exporter: Exporter, models: dict[str, Any], *, clock: Clock | None = None
) -> Call:
    """A new session for one call with its collector attached and the export armed on its `close` event."""
    collector = SessionCollector(
        session_id=ids.session_id,
        room=ids.room,
        agent_name=settings.agent_name,
        agent_version=settings.agent_version,
        transcript_mode=settings.transcript_mode,
        caller_salt=settings.caller_salt,
        clock=clock,
    )
    session = build_session(settings, models)
    collector.attach(session)
    export_once = SessionExportOnce(exporter, collector.build_record)
    collector.on_end(lambda: log_task_outcome(export_once.trigger()))
    return Call(collector=collector, session=session, export_once=export_once)


async def export_at_session_end(call: Call, tagger: Tagger) -> ExportResult:
    """LiveKit's on_session_end: wait for the export, then tag the LiveKit session (Cloud insights) with its end.

    Only plain tags: `tagger.success()`/`fail()` would make LiveKit upload a session report even when recording
    is off (see agent/pipeline.py `recording_options`).
    """
    result = await call.export_once.wait()
    tagger.add(f"end_reason:{call.collector.end_reason().value}")
    tagger.add(f"analytics_export:{result.status}")
    return result


async def export_at_shutdown(call: Call, reason: str) -> ExportResult:
    """The job's shutdown callback: LiveKit's free-text reason is the end reason if the session never closed."""
    call.collector.note_shutdown(reason)
    return await call.export_once.wait()


def export_after_failure(call: Call) -> asyncio.Task[ExportResult]:
    """The entrypoint failed (the session did not start, or the caller never joined): export what was collected."""
    call.collector.mark_end_reason(EndReason.ERROR)
    task = call.export_once.trigger()
    log_task_outcome(task)
    return task


def participant_channel(participant: rtc.RemoteParticipant) -> Channel:
    return "sip" if participant.kind == rtc.ParticipantKind.PARTICIPANT_KIND_SIP else "web"


def on_participant_disconnected(call: Call, participant: rtc.RemoteParticipant) -> None:
    if participant.kind != rtc.ParticipantKind.PARTICIPANT_KIND_AGENT:
        hangup = EndReason.SIP_HANGUP if participant_channel(participant) == "sip" else EndReason.CALLER_HANGUP
        call.collector.mark_end_reason(hangup)


def on_room_disconnected(call: Call, reason: rtc.DisconnectReason.ValueType) -> None:
    """The agent's room connection ended; once the session has closed, its own reason stands."""
    collector = call.collector
    if collector.ended_at is not None or reason in _NOT_AN_ENDING:
        return
    if reason in _HANGUP_DISCONNECTS:
        collector.mark_end_reason(EndReason.SIP_HANGUP if collector.channel == "sip" else EndReason.CALLER_HANGUP)
    else:
        collector.mark_end_reason(EndReason.ERROR)
