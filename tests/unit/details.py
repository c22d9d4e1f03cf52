"""Building "Lead Scored" details for consumer tests, from the example record."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from functions.common.events import LeadScoredDetail, S3Location, build_lead_scored_detail
from functions.common.scoring import HotThresholds, score_by_rules
from tests.samples import example_record

SESSION = S3Location(bucket="bucket", key="sessions/year=2026/month=11/day=20/trial-call-0001.json.gz")
SCORED = S3Location(bucket="bucket", key="scored/year=2026/month=11/day=20/trial-call-0001.json.gz")


def detail_for(**record_changes: Any) -> LeadScoredDetail:
    record = example_record(**record_changes)
    return build_lead_scored_detail(
        record, score_by_rules(record, HotThresholds()), SESSION, SCORED, scored_at=datetime(2026, 11, 20, tzinfo=UTC)
    )
