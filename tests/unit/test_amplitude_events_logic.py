from __future__ import annotations

import hashlib
import hmac

import pytest

from functions.amplitude_events.logic import (
    CALL_ENDED,
    KNOWLEDGE_SEARCHED,
    LEAD_SCORED,
    MEETING_BOOKED,
    build_events,
)
from functions.common.amplitude import AmplitudeCredentials, amplitude_user_id, is_retryable_code
from functions.common.events import ToolCallSummary
from functions.common.secrets import SecretInvalidError, parse_secret
from tests.unit.details import detail_for

KEY = "k" * 40  # the Amplitude secret's user_id_key


def test_a_call_with_a_search_and_a_booking_gives_four_events_with_deterministic_insert_ids() -> None:
    events = build_events(detail_for(), KEY)

    assert [event.event_type for event in events] == [CALL_ENDED, LEAD_SCORED, MEETING_BOOKED, KNOWLEDGE_SEARCHED]
    assert [event.insert_id for event in events] == [
        "trial-call-0001:Voice Call Ended:0",
        "trial-call-0001:Voice Lead Scored:0",
        "trial-call-0001:Sales Meeting Booked:0",
        "trial-call-0001:Knowledge Searched:0",
    ]
    assert build_events(detail_for(), KEY) == events


def test_events_carry_call_time_user_and_session() -> None:
    detail = detail_for()
    ended, scored, booked, searched = build_events(detail, KEY)

    assert ended.time_ms == int(detail.ended_at.timestamp() * 1000)
    assert booked.time_ms == int(detail.tool_calls[1].started_at.timestamp() * 1000)
    assert searched.time_ms == int(detail.tool_calls[0].started_at.timestamp() * 1000)
    assert {event.user_id for event in (ended, scored, booked, searched)} == {amplitude_user_id(detail.lead_key, KEY)}
    assert ended.session_id_ms == int(detail.started_at.timestamp() * 1000)
    assert searched.event_properties["query"] == "salesforce integration"
    assert scored.event_properties["grade"] == "A"
    assert ended.event_properties["meeting_booked"] is True


def test_call_without_tools_gives_only_call_ended_and_lead_scored() -> None:
    events = build_events(detail_for(tool_calls=[]), KEY)

    assert [event.event_type for event in events] == [CALL_ENDED, LEAD_SCORED]


def test_throttling_and_server_errors_are_retryable_but_invalid_events_are_not() -> None:
    assert is_retryable_code(429) and is_retryable_code(503) and is_retryable_code(0)
    assert not is_retryable_code(400)


def test_the_user_id_is_a_keyed_hmac_of_the_lead_key_never_the_plain_hash_of_the_email() -> None:
    detail = detail_for()
    [ended, *_] = build_events(detail, KEY)
    [other_key, *_] = build_events(detail, "another-key-" + "x" * 30)

    expected = hmac.new(KEY.encode(), detail.lead_key.encode(), hashlib.sha256).hexdigest()
    assert ended.user_id == expected and len(expected) == 64
    assert ended.user_id != detail.lead_key  # the former id: sha256 of the email, computable by anyone
    assert ended.user_id != hashlib.sha256(str(detail.contact and detail.contact.email).encode()).hexdigest()
    assert other_key.user_id != ended.user_id  # meaningless without the key


def test_free_text_sent_to_amplitude_is_masked_like_a_log_line() -> None:
    detail = detail_for()
    search = detail.tool_calls[0].model_copy(
        update={"query": "is dana.lee@example.com on +1 415 555 0123 covered", "error": "no hit for 415-555-0123"}
    )
    detail = detail.model_copy(
        update={
            "tool_calls": [ToolCallSummary.model_validate(search.model_dump())],
            "reasons": ["call me at 4155550123"],
        }
    )

    events = build_events(detail, KEY)

    searched = events[-1].event_properties
    assert searched["query"] == "is [email] on [phone] covered" and searched["error"] == "no hit for [phone]"
    assert events[1].event_properties["reasons"] == ["call me at [phone]"]


@pytest.mark.parametrize(
    ("secret", "field"),
    [
        ({"api_key": "k", "user_id_key": "short"}, "user_id_key"),
        ({"api_key": "k"}, "user_id_key"),
        ({"api_key": "k", "user_id_key": KEY, "server_url": "http://api2.amplitude.com/2/httpapi"}, "server_url"),
        ({"api_key": "k", "user_id_key": KEY, "privacy_url": "amplitude.com/api/2/deletions/users"}, "privacy_url"),
        ({"user_id_key": KEY}, "api_key"),
    ],
)
def test_an_amplitude_secret_missing_a_field_or_naming_plain_http_is_refused_by_field(
    secret: dict[str, str], field: str
) -> None:
    with pytest.raises(SecretInvalidError) as refused:
        parse_secret(AmplitudeCredentials, secret, "voice-analytics/amplitude")

    message = str(refused.value)
    assert f"field '{field}'" in message and "voice-analytics/amplitude" in message and "retried" in message
    assert KEY not in message  # values are never quoted


def test_an_https_amplitude_secret_and_a_loopback_emulator_are_accepted() -> None:
    eu = parse_secret(
        AmplitudeCredentials,
        {"api_key": "k", "user_id_key": KEY, "server_url": "https://api.eu.amplitude.com/2/httpapi"},
        "s",
    )
    local = parse_secret(
        AmplitudeCredentials, {"api_key": "k", "user_id_key": KEY, "server_url": "http://127.0.0.1:8080/2/httpapi"}, "s"
    )

    assert eu.server_url == "https://api.eu.amplitude.com/2/httpapi" and local.privacy_url.startswith("https://")
