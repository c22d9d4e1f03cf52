from __future__ import annotations

from functions.amplitude_events.logic import (
    CALL_ENDED,
    KNOWLEDGE_SEARCHED,
    LEAD_SCORED,
    MEETING_BOOKED,
    build_events,
)
from functions.common.amplitude import is_retryable_code
from tests.unit.details import detail_for


def test_a_call_with_a_search_and_a_booking_gives_four_events_with_deterministic_insert_ids() -> None:
    events = build_events(detail_for())

    assert [event.event_type for event in events] == [CALL_ENDED, LEAD_SCORED, MEETING_BOOKED, KNOWLEDGE_SEARCHED]
    assert [event.insert_id for event in events] == [
        "trial-call-0001:Voice Call Ended:0",
        "trial-call-0001:Voice Lead Scored:0",
        "trial-call-0001:Sales Meeting Booked:0",
        "trial-call-0001:Knowledge Searched:0",
    ]
    assert build_events(detail_for()) == events


def test_events_carry_call_time_user_and_session() -> None:
    detail = detail_for()
    ended, scored, booked, searched = build_events(detail)

    assert ended.time_ms == int(detail.ended_at.timestamp() * 1000)
    assert booked.time_ms == int(detail.tool_calls[1].started_at.timestamp() * 1000)
    assert searched.time_ms == int(detail.tool_calls[0].started_at.timestamp() * 1000)
    assert {event.user_id for event in (ended, scored, booked, searched)} == {detail.lead_key}
    assert len(detail.lead_key) >= 5
    assert ended.session_id_ms == int(detail.started_at.timestamp() * 1000)
    assert searched.event_properties["query"] == "salesforce integration"
    assert scored.event_properties["grade"] == "A"
    assert ended.event_properties["meeting_booked"] is True


def test_call_without_tools_gives_only_call_ended_and_lead_scored() -> None:
    events = build_events(detail_for(tool_calls=[]))

    assert [event.event_type for event in events] == [CALL_ENDED, LEAD_SCORED]


def test_throttling_and_server_errors_are_retryable_but_invalid_events_are_not() -> None:
    assert is_retryable_code(429) and is_retryable_code(503) and is_retryable_code(0)
    assert not is_retryable_code(400)
