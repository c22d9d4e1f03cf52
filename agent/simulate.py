"""Replay conversation scripts through the real AgentSession in text mode and export each record.

No network, audio or LiveKit server: the LLM is `ScriptedLLM`, the tool backends are the in-process fakes,
and the record goes through the real exporter to a local directory (mirroring the S3 layout) or a bucket.
Session times come from the script's `started_at` and advance per turn, so keys and records are deterministic.
A script without `session_id` gets one as a live call does (`call_ids`: room label plus call id), with a call id
derived from the script's content in place of LiveKit's job id.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from livekit.agents import AgentSession, RunResult

from agent.assistant import Assistant
from agent.clients import FailureSwitch, FakeKnowledgeSearchClient, FakeMeetingBookingClient
from agent.collector import CallIds, Channel, SessionCollector, SimulatedClock, call_ids, safe_session_id
from agent.exporter import Exporter, ExportResult, SessionExportOnce, log_task_outcome
from agent.scripted_llm import ConversationScript, ScriptedLLM
from agent.settings import AgentSettings
from functions.common.record import TranscriptMode
from functions.common.redaction import install_log_masking

logger = logging.getLogger("agent.simulate")


@dataclass
class SimulationOutcome:
    script: ConversationScript
    export: ExportResult
    collector: SessionCollector
    session: AgentSession[Any]
    replies: list[str]


# The room of a script that names none (a live call always has one).
DEFAULT_ROOM = "simulated"


def script_call_ids(script: ConversationScript, started_at: datetime, salt: str) -> CallIds:
    """The script's own session id if it has one (contact data in it hashed, as for a room name), else the id a
    live call in the script's room would get, with a call id that is a hash of the script's content and start (a
    script without `started_at` starts now, so each run of it is a call of its own)."""
    room = safe_session_id(script.room, salt) if script.room else None
    if script.session_id is not None:
        return CallIds(session_id=safe_session_id(script.session_id, salt), room=room)
    content = f"{script.model_dump_json()}|{started_at.isoformat()}"
    digest = hashlib.sha256(content.encode()).hexdigest()[:12]
    return call_ids(script.room or DEFAULT_ROOM, f"SJ_{digest}", salt)


def caller_channel(identity: str | None) -> Channel:
    if not identity:
        return "unknown"
    # LiveKit SIP participants are named sip_<number> by default.
    return "sip" if identity.startswith("sip_") else "web"


async def run_script(
    script: ConversationScript,
    exporter: Exporter,
    *,
    settings: AgentSettings | None = None,
    transcript_mode: TranscriptMode | None = None,
) -> SimulationOutcome:
    """Run one script through a real AgentSession and export its record (exactly once).

    The agent runs in this process, so its log lines are masked as in the agent's own (agent/main.py)."""
    install_log_masking()
    settings = settings or AgentSettings()
    clock = SimulatedClock(script.start_time())
    ids = script_call_ids(script, clock.current, settings.caller_salt)
    collector = SessionCollector(
        session_id=ids.session_id,
        room=ids.room,
        agent_name=settings.agent_name,
        agent_version=settings.agent_version,
        transcript_mode=transcript_mode or script.transcript or settings.transcript_mode,
        caller_salt=settings.caller_salt,
        clock=clock,
        record_timings=False,
    )
    collector.set_caller(script.caller.identity, caller_channel(script.caller.identity))
    failures = script.failure_plan()
    knowledge = FakeKnowledgeSearchClient(FailureSwitch())
    knowledge.failures.plan(failures.get("unleash_search_knowledge", []))
    booking = FakeMeetingBookingClient(FailureSwitch())
    booking.failures.plan(failures.get("book_sales_meeting", []))

    session: AgentSession[Any] = AgentSession(llm=ScriptedLLM(script))
    collector.attach(session)
    export_once = SessionExportOnce(exporter, collector.build_record)
    collector.on_end(lambda: log_task_outcome(export_once.trigger()))
    await session.start(Assistant(knowledge=knowledge, booking=booking, collector=collector))

    replies: list[str] = []
    for text in script.user_texts():
        if collector.end_requested:
            break
        clock.advance(script.seconds_per_turn)
        try:
            result: RunResult[None] = await session.run(user_input=text)
        except RuntimeError as error:
            # The agent ended the call (end_call) while this turn was answered.
            logger.info("session %s closed during a turn: %s", collector.session_id, error)
            break
        replies.extend(
            event.item.text_content or ""
            for event in result.events
            if event.type == "message" and event.item.role == "assistant"
        )

    if collector.ended_at is None:
        collector.mark_end_reason(script.end_reason)
        clock.advance(script.seconds_per_turn)
    await session.aclose()
    export = await export_once.wait()
    return SimulationOutcome(script=script, export=export, collector=collector, session=session, replies=replies)


async def simulate_files(paths: list[Path], exporter: Exporter, settings: AgentSettings) -> list[ExportResult]:
    results = []
    for path in paths:
        outcome = await run_script(ConversationScript.load(path), exporter, settings=settings)
        results.append(outcome.export)
    return results


def run(paths: list[Path], exporter: Exporter, settings: AgentSettings) -> list[ExportResult]:
    return asyncio.run(simulate_files(paths, exporter, settings))
