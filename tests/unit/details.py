"""Building "Lead Scored" details for consumer tests, from the example record (or a call of the test's own), with
the insights score_lead's local provider builds for it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from functions.common.events import LeadScoredDetail, S3Location, build_lead_scored_detail
from functions.common.record import SessionRecord
from functions.common.scoring import HotThresholds, score_by_rules
from functions.common.settings import ScoreLeadSettings
from functions.score_lead.insights import build_insights
from tests.samples import example_record

SESSION = S3Location(bucket="bucket", key="sessions/year=2026/month=11/day=20/trial-call-0001.json.gz")
SCORED = S3Location(bucket="bucket", key="scored/year=2026/month=11/day=20/trial-call-0001.json.gz")


def detail_of(record: SessionRecord, *, with_insights: bool = True) -> LeadScoredDetail:
    insights = build_insights(record, ScoreLeadSettings()).for_event() if with_insights else None
    return build_lead_scored_detail(
        record,
        score_by_rules(record, HotThresholds()),
        SESSION,
        SCORED,
        scored_at=datetime(2026, 11, 20, tzinfo=UTC),
        insights=insights,
    )


def detail_for(**record_changes: Any) -> LeadScoredDetail:
    return detail_of(example_record(**record_changes))
