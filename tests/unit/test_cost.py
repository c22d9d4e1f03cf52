"""The cost model: published prices, counts from the template, and how it scales."""

from __future__ import annotations

from pathlib import Path

from voice_analytics.cost import (
    REFERENCE_MONTHLY_USD,
    Assumptions,
    assumptions_from_template,
    load_prices,
    monthly_cost,
)

ROOT = Path(__file__).resolve().parents[2]


def test_prices_name_their_region_and_date() -> None:
    prices = load_prices()
    assert prices["region"] == "us-east-1"
    assert prices["as_of"]
    assert prices["prices"]["lambda_arm64_gb_second"] > 0


def test_alarms_dashboards_keys_and_memory_are_counted_from_the_template() -> None:
    template_text = (ROOT / "template.yaml").read_text(encoding="utf-8")
    assumptions = assumptions_from_template(ROOT / "template.yaml")
    assert assumptions.alarms == template_text.count("Type: AWS::CloudWatch::Alarm")
    assert assumptions.dashboards == template_text.count("Type: AWS::CloudWatch::Dashboard")
    assert assumptions.kms_keys == template_text.count("Type: AWS::KMS::Key")
    assert assumptions.memory_mb >= 128


def test_per_session_cost_grows_with_volume_and_fixed_cost_does_not() -> None:
    low = monthly_cost(100, Assumptions())
    high = monthly_cost(100_000, Assumptions())
    assert high["variable_total_usd"] > 500 * low["variable_total_usd"]
    assert high["fixed_total_usd"] == low["fixed_total_usd"]
    assert high["total_usd"] == round(high["variable_total_usd"] + high["fixed_total_usd"], 2)


def test_free_tier_lowers_the_bill() -> None:
    assert (
        monthly_cost(1000, Assumptions(), free_tier=True)["total_usd"] < monthly_cost(1000, Assumptions())["total_usd"]
    )


def test_reference_figures_are_reported_beside_ours() -> None:
    for volume, reference in REFERENCE_MONTHLY_USD.items():
        assert monthly_cost(volume, Assumptions())["reference_usd"] == reference
