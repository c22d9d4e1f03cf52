from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

from functions.common.events import (
    MAX_DETAIL_BYTES,
    LeadScoredEvent,
    S3Location,
    build_lead_scored_detail,
    lead_key,
)
from functions.common.record import Contact
from functions.common.scoring import HotThresholds, score_by_rules
from tests.samples import example_record, load_event

SESSION = S3Location(bucket="b", key="sessions/year=2026/month=11/day=20/trial-call-0001.json.gz")
SCORED = S3Location(bucket="b", key="scored/year=2026/month=11/day=20/trial-call-0001.json.gz")


def test_lead_key_is_the_hash_of_the_normalised_email() -> None:
    key = lead_key(Contact(email="  Dana.Lee@Example.com "), "f" * 64)

    assert key == hashlib.sha256(b"dana.lee@example.com").hexdigest()


def test_lead_key_falls_back_to_the_caller_key_hash_without_an_email() -> None:
    assert lead_key(Contact(name="Dana"), "f" * 64) == hashlib.sha256(b"f" * 64).hexdigest()
    assert lead_key(None, "f" * 64) == hashlib.sha256(b"f" * 64).hexdigest()


def test_detail_carries_what_consumers_need() -> None:
    record = example_record()
    detail = build_lead_scored_detail(record, score_by_rules(record, HotThresholds()), SESSION, SCORED)

    assert detail.session_id == "trial-call-0001"
    assert detail.hot is True
    assert detail.meeting.booked is True
    assert detail.meeting.meeting_id == "mtg-trial-call-0001"
    assert detail.tool_call_counts == {"unleash_search_knowledge": 1, "book_sales_meeting": 1}
    assert detail.tool_calls[0].query == "salesforce integration"
    assert detail.signals.evidence[0].quote == "We're a team of 12"
    assert detail.contact is not None and detail.contact.email == "dana.lee@example.com"
    assert detail.session_object.uri == f"s3://b/{SESSION.key}"
    assert detail.usage.llm_input_tokens == 5120


def test_largest_possible_record_gives_a_detail_within_budget() -> None:
    record = example_record()
    long_text = "x" * 500
    evidence = [{"field": "urgency", "value": long_text, "turn_index": i, "text": long_text} for i in range(500)]
    calls = [
        {
            "name": f"tool_{i:03d}_" + "n" * 90,
            "arguments": {"query": long_text},
            "started_at": "2026-11-20T15:04:14Z",
            "duration_ms": 1.0,
            "success": False,
            "error": long_text,
        }
        for i in range(500)
    ]
    big = example_record(
        signals={"urgency": long_text, "integrations": [f"i{i}" for i in range(300)], "evidence": evidence},
        tool_calls=calls,
        contact={"name": "n" * 200, "email": "e" * 254, "company": "c" * 255, "preferred_time": "t" * 200},
    )

    detail = build_lead_scored_detail(big, score_by_rules(record, HotThresholds()), SESSION, SCORED)

    assert len(detail.model_dump_json().encode()) < MAX_DETAIL_BYTES


def test_sample_lead_scored_event_parses_as_the_envelope_consumers_use() -> None:
    sqs_event = load_event("lead_scored_sqs_event.json")

    event = LeadScoredEvent.model_validate_json(sqs_event["Records"][0]["body"])

    assert event.detail_type == "Lead Scored"
    assert event.source == "voice-analytics.scoring"
    assert event.detail.hot is True


def test_detail_round_trips_through_json() -> None:
    record = example_record()
    detail = build_lead_scored_detail(
        record, score_by_rules(record, HotThresholds()), SESSION, SCORED, scored_at=datetime(2026, 11, 20, tzinfo=UTC)
    )

    assert type(detail).model_validate(json.loads(detail.model_dump_json())) == detail
