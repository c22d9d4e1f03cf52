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


def _scored(thresholds: HotThresholds = THRESHOLDS, **signals: object) -> tuple[int, list[str]]:
    result = score_by_rules(example_record(signals=signals, tool_calls=[], contact=None), thresholds)
    return result.score, result.reasons


def test_every_point_of_the_example_call_has_its_reason_in_order() -> None:
    result = score_by_rules(example_record(), THRESHOLDS)

    assert result.reasons == [
        "hot: team size >= 5 or monthly volume >= 100",
        "team of 12: +20",
        "300 documents a month: +22",
        "integrations: salesforce: +5",
        "urgency: asap: +10",
        "industry: legal: +5",
        "booked a sales meeting: +10",
        "left an email address: +5",
    ]
    assert result.method == "rules"


@pytest.mark.parametrize(
    ("team_size", "points"),
    [(1, 3), (2, 10), (4, 10), (5, 20), (49, 20), (50, 30), (5000, 30)],
)
def test_team_points_at_each_boundary(team_size: int, points: int) -> None:
    """1 person: 3; 2 or more: 10; the hot threshold (5): 20; ten times it (50): 30."""
    score, reasons = _scored(team_size=team_size)

    assert score == points
    assert reasons[-1] == f"team of {team_size}: +{points}"


@pytest.mark.parametrize(
    ("volume", "points"),
    [(1, 5), (19, 5), (20, 12), (99, 12), (100, 22), (999, 22), (1000, 30)],
)
def test_volume_points_at_each_boundary(volume: int, points: int) -> None:
    """Any volume: 5; a fifth of the hot threshold (20): 12; the threshold (100): 22; ten times it (1,000): 30."""
    score, reasons = _scored(monthly_volume=volume)

    assert score == points
    assert reasons[-1] == f"{volume} documents a month: +{points}"


def test_a_volume_of_zero_earns_nothing_and_says_so() -> None:
    assert _scored(monthly_volume=0) == (0, ["no buying signals in the call"])


def test_the_fifth_of_the_volume_threshold_rounds_down_and_is_at_least_one() -> None:
    # 102 // 5 = 20: a volume of 20 earns the 12 points (20.4 would not).
    assert _scored(HotThresholds(team_size=5, monthly_volume=102), monthly_volume=20)[0] == 12
    # 4 // 5 = 0, raised to 1: a volume of 1 is already a fifth of the threshold.
    assert _scored(HotThresholds(team_size=5, monthly_volume=4), monthly_volume=1)[0] == 12


@pytest.mark.parametrize(
    ("integrations", "points"),
    [(["salesforce"], 5), (["salesforce", "hubspot"], 10), (["salesforce", "hubspot", "slack"], 10)],
)
def test_integrations_earn_five_points_each_up_to_ten(integrations: list[str], points: int) -> None:
    assert _scored(integrations=integrations) == (points, [f"integrations: {', '.join(integrations)}: +{points}"])


def test_urgency_and_industry_points_and_a_long_urgency_quoted_to_80_characters() -> None:
    urgency = "we need this before the audit " * 4

    score, reasons = _scored(urgency=urgency, industry="legal")

    assert score == 15
    assert reasons == [f"urgency: {urgency[:80]}: +10", "industry: legal: +5"]


def test_hot_reason_comes_first_with_the_callers_thresholds() -> None:
    _, reasons = _scored(HotThresholds(team_size=8, monthly_volume=400), team_size=9, urgency="asap")

    assert reasons == ["hot: team size >= 8 or monthly volume >= 400", "team of 9: +20", "urgency: asap: +10"]


def test_a_score_below_zero_is_grade_d() -> None:
    assert grade_for(-1) == "D"
