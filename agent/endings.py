"""Endings the agent decides on: the caller went silent, or the call ran past its maximum length.

Both mark `timeout` on the collector before closing the session, so the close maps to the right end reason.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from livekit.agents import AgentSession, UserStateChangedEvent

from agent.collector import SessionCollector
from functions.common.record import EndReason

logger = logging.getLogger("agent.endings")

GOODBYE_ON_TIMEOUT = "The caller has been silent for a while. Say one short, friendly goodbye sentence."


def end_with_timeout(session: AgentSession[Any], collector: SessionCollector, why: str) -> None:
    if collector.ended_at is not None:
        return
    logger.info("session %s: ending the call, %s", collector.session_id, why)
    collector.mark_end_reason(EndReason.TIMEOUT)
    try:
        session.generate_reply(instructions=GOODBYE_ON_TIMEOUT)
    except RuntimeError as error:
        # The activity may already be gone (closing); the session still has to close.
        logger.debug("no goodbye for session %s: %s", collector.session_id, error)
    session.shutdown(drain=True)


def install_call_timeouts(
    session: AgentSession[Any], collector: SessionCollector, *, max_call_duration_s: float
) -> asyncio.TimerHandle:
    """End on `user_state_changed` to "away" (AgentSession's user_away_timeout) and after the maximum length."""

    def on_user_state_changed(event: UserStateChangedEvent) -> None:
        if event.new_state == "away":
            end_with_timeout(session, collector, "the caller stopped responding")

    session.on("user_state_changed", on_user_state_changed)
    timer = asyncio.get_running_loop().call_later(
        max_call_duration_s, end_with_timeout, session, collector, f"the call reached {max_call_duration_s:.0f} s"
    )
    collector.on_end(timer.cancel)
    return timer
