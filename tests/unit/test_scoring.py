from __future__ import annotations

import pytest

from functions.common.scoring import HotThresholds, grade_for, score_by_rules
from tests.samples import example_record

THRESHOLDS = HotThresholds(team_size=5, monthly_volume=100)


def test_example_call_scores_as_hot_grade_a_with_a_reason_for_every_point() -> None:
    result = score_by_rules(example_record(), THRESHOLDS)

    assert result.hot is True
    assert result.grade == "A"
    assert result.score == 77
    awarded = sum(int(reason.rsplit(": +", 1)[1]) for reason in result.reasons if ": +" in reason)
    assert awarded == result.score
    assert any("team of 12" in reason for reason in result.reasons)
    assert any("booked a sales meeting" in reason for reason in result.reasons)


def test_call_without_signals_is_grade_d_not_hot_and_says_why() -> None:
    record = example_record(signals={}, tool_calls=[], contact=None)

    result = score_by_rules(record, THRESHOLDS)

    assert (result.score, result.grade, result.hot) == (0, "D", False)
    assert result.reasons == ["no buying signals in the call"]


@pytest.mark.parametrize(
    ("signals", "hot"),
    [
        ({"team_size": 5}, True),
        ({"team_size": 4}, False),
        ({"monthly_volume": 100}, True),
        ({"monthly_volume": 99}, False),
        ({"team_size": 4, "monthly_volume": 99}, False),
    ],
)
def test_hot_flag_follows_the_team_size_and_volume_thresholds(signals: dict[str, int], hot: bool) -> None:
    record = example_record(signals=signals, tool_calls=[], contact=None)

    assert score_by_rules(record, THRESHOLDS).hot is hot


def test_thresholds_come_from_the_caller_not_from_constants() -> None:
    record = example_record(signals={"team_size": 12}, tool_calls=[], contact=None)

    assert score_by_rules(record, HotThresholds(team_size=20, monthly_volume=1000)).hot is False


def test_failed_meeting_booking_earns_no_meeting_points() -> None:
    data_calls = example_record().model_dump(mode="json")["tool_calls"]
    data_calls[1].update(success=False, error="calendar unavailable")
    record = example_record(tool_calls=data_calls)

    result = score_by_rules(record, THRESHOLDS)

    assert not any("meeting" in reason for reason in result.reasons)


@pytest.mark.parametrize(
    ("score", "grade"), [(100, "A"), (75, "A"), (74, "B"), (50, "B"), (49, "C"), (25, "C"), (24, "D"), (0, "D")]
)
def test_grade_boundaries(score: int, grade: str) -> None:
    assert grade_for(score) == grade


def test_score_never_exceeds_100() -> None:
    record = example_record(
        signals={
            "team_size": 5000,
            "monthly_volume": 100000,
            "integrations": ["salesforce", "hubspot", "slack"],
            "urgency": "today",
            "industry": "legal",
        }
    )

    assert score_by_rules(record, THRESHOLDS).score == 100
