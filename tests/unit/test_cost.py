"""The cost model: published prices, counts from the template, both bases (list price and always-free), and what
each line is made of."""

from __future__ import annotations

import ast
import dataclasses
import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from voice_analytics.cli import app
from voice_analytics.cost import (
    BASIS_ALWAYS_FREE,
    BASIS_LIST,
    CUSTOM_METRICS,
    MINUTES_PER_MONTH,
    REFERENCE_MONTHLY_USD,
    TARGET_MONTHLY_USD,
    TARGET_SESSIONS_PER_DAY,
    Assumptions,
    CustomMetric,
    _alarm_metrics,
    assumptions_from_template,
    both_bases,
    custom_metric_months,
    load_prices,
    monthly_cost,
    target_verdict,
)

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("score_lead", "salesforce_sync", "amplitude_events", "hot_lead_alert")


def test_prices_name_their_region_date_and_only_always_free_allowances() -> None:
    prices = load_prices()
    assert prices["region"] == "us-east-1"
    assert prices["as_of"]
    assert prices["prices"]["lambda_arm64_gb_second"] > 0
    # 12-month offers and trials are never modelled: S3, Secrets Manager, Athena, EventBridge have no allowance.
    assert not {key for key in prices["always_free"] if key.startswith(("s3", "secrets", "athena", "eventbridge"))}
    assert "never expire" in prices["always_free_note"] and "Organization" in prices["always_free_note"]


def test_counts_come_from_the_template_as_deployed_with_default_parameters() -> None:
    template_text = (ROOT / "template.yaml").read_text(encoding="utf-8")
    assumptions = assumptions_from_template(ROOT / "template.yaml")
    assert assumptions.alarm_metrics == template_text.count("Type: AWS::CloudWatch::Alarm")  # one metric each
    assert assumptions.dashboards == template_text.count("Type: AWS::CloudWatch::Dashboard")
    assert assumptions.kms_keys == 0  # no customer managed key unless an organisation key is passed in
    assert assumptions.secrets == 2 and assumptions.secret_readers == 2  # Salesforce, Amplitude
    assert assumptions.event_source_mappings == template_text.count("Type: SQS")
    assert assumptions.batching_window_s == {
        "score_lead": 0.0,
        "salesforce_sync": 0.0,
        "amplitude_events": 5.0,
        "hot_lead_alert": 0.0,
    }
    assert assumptions.hot_lead_topic_kms  # alias/aws/sns by default
    assert assumptions.bucket_sse_kms  # aws/s3 with a Bucket Key
    assert assumptions.memory_mb >= 128
    # The per-session functions' memory, not the compaction's (2 GB, its own line).
    assert assumptions.memory_mb == 512 and assumptions.compaction_memory_mb == 2048
    assert assumptions.compaction and not assumptions.tracing_active  # TracingMode defaults to PassThrough


def test_a_metric_math_alarm_costs_one_alarm_metric_per_metric_it_reads() -> None:
    assert _alarm_metrics({"MetricName": "Errors"}) == 1
    stats = [{"Id": f"m{index}", "MetricStat": {}} for index in range(4)]
    assert _alarm_metrics({"Metrics": [*stats, {"Id": "total", "Expression": "SUM(METRICS())"}]}) == 4


def _metric_names_in(node: ast.AST) -> set[str]:
    return {item.value for item in ast.walk(node) if isinstance(item, ast.Constant) and isinstance(item.value, str)}


def test_custom_metrics_are_exactly_what_the_functions_emit() -> None:
    """Every add_metric call in functions/, by service (functions/common/failures.py is every handler's
    dead_letter): the model must bill what the code sends, no more, no less. No ColdStart metric is sent."""
    emitted: set[tuple[str, str]] = set()
    for path in (ROOT / "functions").rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        assert "capture_cold_start_metric" not in source, path  # would add a ColdStart metric per service
        package = path.parent.name
        services = SERVICES if package == "common" else (package,)
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "add_metric":
                [name] = [keyword.value for keyword in node.keywords if keyword.arg == "name"]
                emitted |= {(metric, service) for metric in _metric_names_in(name) for service in services}
    assert emitted == {(metric.name, metric.service) for metric in CUSTOM_METRICS}


def test_the_functions_send_custom_metrics_only_on_failures() -> None:
    """The happy path is counted by AWS's free metrics and the logs (docs/backend.md): every metric the functions
    send is failure-only, so at 1,000 sessions a day custom metrics cost the assumed share of failure hours."""
    assert CUSTOM_METRICS and all(metric.sent_with == "failure" for metric in CUSTOM_METRICS)
    busy = custom_metric_months(1000, Assumptions())
    assert busy["session"] == busy["hot lead"] == 0
    assert math.isclose(busy["failure"], len(CUSTOM_METRICS) * Assumptions().failure_metric_hour_share)


def test_custom_metrics_are_billed_for_the_hours_they_are_sent_in() -> None:
    """A metric sent with every session or hot lead costs nearly a metric-month once there is traffic every hour,
    less when hours go by without one; failure-only metrics cost the assumed share of hours with a failure."""
    metrics = (
        CustomMetric("PerSession", "score_lead", "session"),
        CustomMetric("PerHotLead", "score_lead", "hot lead"),
        CustomMetric("OnFailure", "score_lead", "failure"),
    )
    busy = custom_metric_months(1000, Assumptions(), metrics)
    assert math.isclose(busy["session"] + busy["hot lead"], 2, rel_tol=1e-6)
    assert math.isclose(busy["failure"], Assumptions().failure_metric_hour_share)
    quiet = custom_metric_months(12, Assumptions(), metrics)  # one session every two hours
    assert 0 < quiet["session"] < 0.5 and quiet["hot lead"] < quiet["session"]
    assert custom_metric_months(0, Assumptions(), metrics)["session"] == 0


def test_athena_bills_compressed_bytes_and_one_s3_get_per_object_read() -> None:
    """gzip objects are scanned (and billed) at their stored size, at least 10 MB a query; every object read is a
    GET, which dominates with one small object per session (without compaction)."""
    assumptions = Assumptions(compaction=False)
    figures = monthly_cost(10_000, assumptions)
    prices = load_prices()["prices"]
    queries = assumptions.analyst_queries_per_day * 30.4
    objects = 10_000 * assumptions.analyst_days_scanned_per_query
    scanned_tb = queries * objects * assumptions.scored_object_bytes / 1024**4
    lists = queries * assumptions.analyst_days_scanned_per_query * 10
    expected = (
        scanned_tb * prices["athena_tb_scanned"]
        + queries * objects * prices["s3_get_per_1000"] / 1000
        + lists * prices["s3_list_per_1000"] / 1000
    )
    assert figures["variable_usd"]["athena"] == pytest.approx(expected, abs=1e-3)
    assert figures["athena_s3_gets"] == round(queries * objects)
    assert figures["variable_usd"]["compaction"] == 0
    tiny = monthly_cost(10, assumptions)["variable_usd"]["athena"]
    assert tiny >= queries * 10 / 1024**2 * prices["athena_tb_scanned"]  # the 10 MB minimum


def test_idle_polling_is_five_long_polls_a_minute_per_poller_on_every_event_source() -> None:
    assumptions = Assumptions()
    receives = 4 * 5 * 3 * MINUTES_PER_MONTH
    assert monthly_cost(0, assumptions)["sqs_requests"] == round(receives)
    assert monthly_cost(0, assumptions)["fixed_usd"]["sqs_idle_polling"] == pytest.approx(
        receives * 0.40 / 1e6, abs=1e-4
    )


def test_per_session_cost_grows_with_volume_and_fixed_cost_does_not() -> None:
    low = monthly_cost(100, Assumptions())
    high = monthly_cost(100_000, Assumptions())
    assert high["variable_total_usd"] > 100 * low["variable_total_usd"]
    assert high["fixed_total_usd"] == low["fixed_total_usd"]
    assert high["total_usd"] == pytest.approx(high["variable_total_usd"] + high["fixed_total_usd"], abs=0.011)


def test_always_free_allowances_only_lower_the_lines_that_have_one() -> None:
    listed = monthly_cost(1000, Assumptions())
    free = monthly_cost(1000, Assumptions(), free_tier=True)
    assert (listed["basis"], free["basis"]) == (BASIS_LIST, BASIS_ALWAYS_FREE)
    assert free["total_usd"] < listed["total_usd"]
    for line in ("s3", "eventbridge", "dynamodb", "athena", "secrets_manager_reads"):
        assert free["variable_usd"][line] == listed["variable_usd"][line], line
    assert free["fixed_usd"]["secrets_manager_secrets"] == listed["fixed_usd"]["secrets_manager_secrets"] > 0
    assert free["fixed_usd"]["cloudwatch_dashboard"] == 0  # 3 dashboards free
    assert free["fixed_usd"]["cloudwatch_alarms"] == pytest.approx((14 - 10) * 0.10)


def test_each_allowance_is_spent_once_across_lines() -> None:
    """Idle polling uses up the free SQS requests, so traffic pays in full; one allowance is never counted twice."""
    free = monthly_cost(1000, Assumptions(), free_tier=True)
    listed = monthly_cost(1000, Assumptions())
    assert free["variable_usd"]["sqs"] == listed["variable_usd"]["sqs"]
    assert free["fixed_usd"]["sqs_idle_polling"] == pytest.approx(listed["fixed_usd"]["sqs_idle_polling"] - 0.40)


def test_a_customer_managed_key_costs_a_dollar_a_month() -> None:
    with_keys = dataclasses.replace(Assumptions(), kms_keys=3)
    assert monthly_cost(1000, with_keys)["fixed_usd"]["kms_keys"] == 3.0
    assert monthly_cost(1000, Assumptions())["fixed_usd"]["kms_keys"] == 0.0


def test_reference_figures_are_reported_beside_ours() -> None:
    for volume, reference in REFERENCE_MONTHLY_USD.items():
        assert monthly_cost(volume, Assumptions())["reference_usd"] == reference


def test_both_bases_and_the_target_verdict_are_reported() -> None:
    bases = both_bases([1000], Assumptions())
    assert set(bases) == {"list_price", "with_always_free_allowances"}
    assert not bases["list_price"]["1000"]["free_tier"] and bases["with_always_free_allowances"]["1000"]["free_tier"]
    verdict = target_verdict(Assumptions())
    assert verdict["sessions_per_day"] == TARGET_SESSIONS_PER_DAY and verdict["target_usd"] == TARGET_MONTHLY_USD
    assert verdict["met_at_list_price"] == (verdict["list_price_usd"] <= TARGET_MONTHLY_USD)
    assert verdict["met_with_always_free_allowances"] == (
        verdict["with_always_free_allowances_usd"] <= TARGET_MONTHLY_USD
    )


def test_the_flow_floor_is_the_flows_own_lines_on_the_always_free_basis() -> None:
    verdict = target_verdict(Assumptions())
    free = monthly_cost(TARGET_SESSIONS_PER_DAY, Assumptions(), free_tier=True)
    lines = {**free["variable_usd"], **free["fixed_usd"]}
    assert set(verdict["flow_floor_items"]) <= set(lines)
    # Operating choices (dashboard, alarms, tracing, secrets, Athena) are not part of the floor.
    assert not {"cloudwatch_dashboard", "cloudwatch_alarms", "xray", "secrets_manager_secrets", "athena"} & set(
        verdict["flow_floor_items"]
    )
    floor = verdict["flow_floor_with_always_free_allowances_usd"]
    assert floor == round(sum(lines[name] for name in verdict["flow_floor_items"]), 2)
    assert 0 < floor < free["total_usd"]
    assert verdict["reachable_without_changing_the_flow"] == (floor <= TARGET_MONTHLY_USD)


def test_cost_command_shows_both_bases_and_says_which_is_which() -> None:
    result = CliRunner().invoke(app, ["cost", "-n", "1000"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "LIST PRICE TOTAL" in result.output and "ALWAYS FREE TOTAL" in result.output
    assert f"Target <= ${TARGET_MONTHLY_USD:.2f}/month at {TARGET_SESSIONS_PER_DAY:,} sessions/day" in result.output
    assert "The flow alone" in result.output
    assert BASIS_LIST in result.output and BASIS_ALWAYS_FREE in result.output
    assert "never expire" in result.output and "only user" in result.output
    assert "1,000/day: $0.0" in result.output and "per 1,000 sessions" in result.output
    assert "(PassThrough)" in result.output and "API calls a session" in result.output


def test_compacted_days_are_read_as_a_few_parquet_files_and_only_recent_days_as_objects() -> None:
    assumptions = Assumptions()
    prices = load_prices()["prices"]
    figures = monthly_cost(100_000, assumptions)
    queries = assumptions.analyst_queries_per_day * 30.4
    raw_objects = 100_000 * assumptions.raw_days_per_query  # today (half over on average) and yesterday until 01:15
    parquet_gets = 7 * 2 * assumptions.athena_gets_per_parquet_file  # 6.45 compacted days, 2 files of 50,000 a day
    assert figures["athena_s3_gets"] == round(queries * (raw_objects + parquet_gets))
    raw = monthly_cost(100_000, Assumptions(compaction=False))
    assert figures["variable_usd"]["athena"] < raw["variable_usd"]["athena"] / 5
    # What compaction costs itself: every raw object read once (sessions/ and scored/), and the Parquet copy.
    compaction = figures["compaction_usd"]
    assert compaction["s3_requests"] >= 2 * 100_000 * 30.4 * prices["s3_get_per_1000"] / 1000
    assert compaction["parquet_storage"] > 0 and compaction["lambda"] > 0
    assert figures["variable_usd"]["compaction"] == pytest.approx(sum(compaction.values()), abs=1e-3)


def test_xray_costs_nothing_unless_tracing_is_active() -> None:
    assert monthly_cost(100_000, Assumptions())["variable_usd"]["xray"] == 0
    assert monthly_cost(100_000, Assumptions())["xray_traces"] == 0
    active = monthly_cost(100_000, Assumptions(tracing_active=True))
    assert active["xray_traces"] > 0 and active["variable_usd"]["xray"] > 20


def test_salesforce_sends_two_collection_calls_per_batch_not_two_per_session() -> None:
    windowed = Assumptions(batching_window_s={**Assumptions().batching_window_s, "salesforce_sync": 5.0})
    figures = monthly_cost(100_000, windowed)
    batch = 100_000 / 86_400 * 5.0  # sessions arriving in the 5 s window
    assert figures["salesforce_api_calls_per_session"] == pytest.approx(2 / batch, abs=1e-3)
    # A full batch caps it; no window at a trickle: one record a batch, two calls a session.
    assert monthly_cost(10_000_000, windowed)["salesforce_api_calls_per_session"] == pytest.approx(0.2)
    unwindowed = Assumptions(batching_window_s={**Assumptions().batching_window_s, "salesforce_sync": 0.0})
    assert monthly_cost(1000, unwindowed)["salesforce_api_calls_per_session"] == 2


def test_the_salesforce_batching_window_is_read_from_its_parameter(tmp_path: Path) -> None:
    """The window is `!Ref SalesforceBatchWindowSeconds`: the model uses that parameter's default, as deployed."""
    text = (ROOT / "template.yaml").read_text(encoding="utf-8")
    parameter = "  SalesforceBatchWindowSeconds:\n    Type: Number\n    Default: 0\n"
    assert parameter in text
    widened = tmp_path / "template.yaml"
    widened.write_text(text.replace(parameter, parameter.replace("Default: 0", "Default: 5")), encoding="utf-8")

    assert assumptions_from_template(ROOT / "template.yaml").batching_window_s["salesforce_sync"] == 0.0
    assumptions = assumptions_from_template(widened)
    assert assumptions.batching_window_s["salesforce_sync"] == 5.0
    # At 100,000 sessions a day a 5 s window gathers about 5.8 sessions: two calls a batch.
    assert monthly_cost(100_000, assumptions)["salesforce_api_calls_per_session"] == pytest.approx(
        2 / (100_000 / 86_400 * 5.0), abs=1e-3
    )


def test_measured_compute_leaves_out_the_salesforce_emulators_service_time(tmp_path: Path) -> None:
    """The benchmark's Salesforce emulator answers in a real org's time; FAR_END_MS already bills that wait."""
    bench = tmp_path / "bench.json"
    bench.write_text(
        json.dumps(
            {
                "handlers": {
                    "score_lead": {"warm_p50_ms_per_record": 40.0},
                    "salesforce_sync": {"warm_p50_ms_per_record": 84.0, "salesforce_service_ms_per_record": 66.0},
                    "amplitude_events": {"warm_p50_ms_per_record": 0.4, "salesforce_service_ms_per_record": 9.0},
                }
            }
        ),
        encoding="utf-8",
    )

    compute = assumptions_from_template(ROOT / "template.yaml", bench).compute_ms

    assert (compute["score_lead"], compute["salesforce_sync"]) == (40.0, 18.0)
    assert compute["amplitude_events"] == 1.0  # never below a millisecond once a far end is taken out
    assert compute["hot_lead_alert"] == 5.0  # not measured: the default


def test_the_session_log_line_is_billed_and_the_firehose_copy_only_when_switched_on() -> None:
    prices = load_prices()["prices"]
    off = monthly_cost(100_000, Assumptions())
    line_gb = 100_000 * 30.4 * Assumptions().session_log_line_bytes / 1024**3
    ingest = line_gb * (prices["cloudwatch_logs_ingest_gb"] + prices["cloudwatch_logs_storage_gb_month"])
    assert off["variable_usd"]["session_analytics_logs"] > ingest  # plus the Logs Insights scans
    on = monthly_cost(100_000, Assumptions(firehose_stream=True))
    firehose = off["optional_usd"]["firehose_stream"]
    assert firehose > 0
    assert on["variable_usd"]["session_analytics_logs"] == pytest.approx(
        off["variable_usd"]["session_analytics_logs"] + firehose, abs=1e-3
    )


def test_the_template_costs_at_most_five_cents_per_thousand_sessions_at_100000_a_day() -> None:
    result = CliRunner().invoke(app, ["cost", "-n", "100000", "--json"])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)["list_price"]["100000"]
    assert listed["per_1000_sessions_usd"] <= 0.05
    assert listed["variable_usd"]["xray"] == 0 and listed["variable_usd"]["compaction"] > 0
