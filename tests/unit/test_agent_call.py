"""A call's endings as LiveKit delivers them at a job shutdown, and the room disconnect our own side makes then."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from unittest.mock import create_autospec

import pytest
from livekit import rtc
from livekit.agents.observability import Tagger

from agent.assistant import Assistant
from agent.call import (
    Call,
    export_at_session_end,
    export_at_shutdown,
    on_participant_disconnected,
    on_room_disconnected,
    open_call,
)
from agent.clients import FakeKnowledgeSearchClient, FakeMeetingBookingClient
from agent.collector import call_ids
from agent.scripted_llm import ConversationScript, ScriptedLLM
from agent.settings import AgentSettings
from tests.agent_fixtures import folder_exporter, read_record, stored_objects

SETTINGS = AgentSettings(caller_salt="call-salt", turn_detection="vad")


async def _call(tmp_path: Path, channel: str = "web") -> Call:
    script = ConversationScript.model_validate({"turns": [{"role": "user", "text": "Hello"}]})
    call = open_call(
        SETTINGS, call_ids("console", "AJ_shutdown"), folder_exporter(tmp_path), {"llm": ScriptedLLM(script)}
    )
    call.collector.set_caller("sip_+14155550100" if channel == "sip" else "web-1", channel)  # type: ignore[arg-type]
    await call.session.start(
        Assistant(knowledge=FakeKnowledgeSearchClient(), booking=FakeMeetingBookingClient(), collector=call.collector)
    )
    return call


async def test_livekit_shutdown_order_exports_once_and_our_own_disconnect_is_no_hang_up(tmp_path: Path) -> None:
    call = await _call(tmp_path)
    tagger = Tagger()

    # job_proc_lazy_main._shutdown_job: session.aclose(), on_session_end, room.disconnect(), shutdown callbacks.
    await call.session.aclose()
    at_end = await export_at_session_end(call, tagger)
    on_room_disconnected(call, rtc.DisconnectReason.CLIENT_INITIATED)
    at_shutdown = await export_at_shutdown(call, "parent process shutdown")

    assert at_end is at_shutdown and at_end.status == "uploaded"
    (path,) = stored_objects(tmp_path / "out")
    assert read_record(path)["end_reason"] == "worker_shutdown"
    assert tagger.tags == {"end_reason:worker_shutdown", "analytics_export:uploaded"}


@pytest.mark.parametrize(
    ("reason", "channel", "expected"),
    [
        (rtc.DisconnectReason.CLIENT_INITIATED, "web", "worker_shutdown"),  # our side: not the caller
        (rtc.DisconnectReason.SERVER_SHUTDOWN, "web", "worker_shutdown"),
        (rtc.DisconnectReason.ROOM_DELETED, "web", "caller_hangup"),
        (rtc.DisconnectReason.ROOM_DELETED, "sip", "sip_hangup"),
        (rtc.DisconnectReason.JOIN_FAILURE, "web", "error"),
    ],
)
async def test_a_room_disconnect_before_the_session_closes_maps_to_its_end_reason(
    tmp_path: Path, reason: Any, channel: str, expected: str
) -> None:
    call = await _call(tmp_path, channel)
    on_room_disconnected(call, reason)
    await call.session.aclose()  # closed by the framework: USER_INITIATED, read as a shutdown when unmarked
    await export_at_shutdown(call, "room disconnected")

    assert read_record(stored_objects(tmp_path / "out")[0])["end_reason"] == expected


async def test_a_disconnect_after_the_session_closed_changes_nothing(tmp_path: Path) -> None:
    call = await _call(tmp_path)
    await call.session.aclose()
    on_room_disconnected(call, rtc.DisconnectReason.ROOM_DELETED)

    assert call.collector.end_reason().value == "worker_shutdown"


async def test_the_caller_leaving_is_a_hang_up_and_the_agent_leaving_is_not(tmp_path: Path) -> None:
    call = await _call(tmp_path)
    agent = create_autospec(rtc.RemoteParticipant, instance=True)
    agent.kind = rtc.ParticipantKind.PARTICIPANT_KIND_AGENT
    caller = create_autospec(rtc.RemoteParticipant, instance=True)
    caller.kind = rtc.ParticipantKind.PARTICIPANT_KIND_SIP

    on_participant_disconnected(call, agent)
    assert not call.collector.end_requested
    on_participant_disconnected(call, caller)
    await call.session.aclose()
    assert call.collector.end_reason().value == "sip_hangup"
