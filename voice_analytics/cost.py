"""Monthly AWS cost of the backend, from published unit prices (`data/aws_prices.json`) and the template.

What the model counts, per session: two S3 puts (the session and the scored record) and one get, one custom
"Lead Scored" event (+ archive), SQS send/receive/delete on the score queue and on each consumer queue (the
alert queue only for hot leads), Lambda requests and GB-seconds (measured compute time from `make bench`
when available, plus the far ends' network latency, at the template's memory size), DynamoDB idempotency
writes, SNS publish + email for hot leads, CloudWatch Logs, X-Ray traces and Athena scans. What it counts
per month whatever the volume: alarms, the dashboard, custom metrics, KMS keys (counted from the template)
and the SQS polling that Lambda's event source mappings do while queues are idle.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

DAYS_PER_MONTH = 30.4
MINUTES_PER_MONTH = DAYS_PER_MONTH * 24 * 60
GB = 1024**3

# The reference design (Firehose + CloudWatch ingestion), as published, in USD per month.
REFERENCE_MONTHLY_USD = {100: 7.60, 1000: 76.28, 10000: 762.75, 100000: 7627.50}

# Local measurements cannot see the far ends' real latency; these are typical in-region figures.
FAR_END_MS = {
    "score_lead": 80.0,  # S3 get + 2 puts + PutEvents + 2 DynamoDB writes
    "salesforce_sync": 500.0,  # Lead upsert + Task upsert over the internet
    "amplitude_events": 150.0,  # one HTTP API v2 batch
    "hot_lead_alert": 40.0,  # SNS publish + 2 DynamoDB writes
}
DEFAULT_COMPUTE_MS = {"score_lead": 15.0, "salesforce_sync": 10.0, "amplitude_events": 10.0, "hot_lead_alert": 5.0}


@dataclass(frozen=True)
class Assumptions:
    """What a session looks like to the bill; defaults are the demo's averages rounded up."""

    session_object_bytes: int = 3_000
    scored_object_bytes: int = 3_500
    event_detail_bytes: int = 4_000
    hot_share: float = 0.4
    log_bytes_per_message: int = 1_500
    log_bytes_per_invocation: int = 400
    idempotency_writes_per_consumer: int = 2
    analyst_queries_per_day: int = 20
    analyst_days_scanned_per_query: int = 7  # queries filter on the year/month/day partitions
    esm_pollers: int = 5
    esm_idle_receives_per_poller_per_minute: float = 3.0  # 20-second long polls
    memory_mb: int = 512
    compute_ms: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_COMPUTE_MS))
    batching_window_s: dict[str, float] = field(
        default_factory=lambda: {
            "score_lead": 0.0,
            "salesforce_sync": 5.0,
            "amplitude_events": 5.0,
            "hot_lead_alert": 0.0,
        }
    )
    custom_metrics: int = 17
    alarms: int = 14
    dashboards: int = 1
    kms_keys: int = 1


@cache
def load_prices() -> dict[str, Any]:
    text = resources.files("voice_analytics").joinpath("data/aws_prices.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def assumptions_from_template(template_path: Path, bench_path: Path | None = None) -> Assumptions:
    """Count alarms, dashboards, KMS keys and memory from the template; compute times from `make bench`."""
    from cfnlint.decode import decode

    template, errors = decode(str(template_path))
    if errors or template is None:
        raise ValueError(f"cannot read {template_path}: {errors}")
    resources_by_type: dict[str, int] = {}
    for body in template.get("Resources", {}).values():
        resources_by_type[body["Type"]] = resources_by_type.get(body["Type"], 0) + 1
    memory = int(template.get("Globals", {}).get("Function", {}).get("MemorySize", 128))
    compute = dict(DEFAULT_COMPUTE_MS)
    if bench_path is not None and bench_path.exists():
        handlers = json.loads(bench_path.read_text(encoding="utf-8")).get("handlers", {})
        for name, figures in handlers.items():
            # Per record: a batch invocation's time divided by the records it carried. It includes the loopback
            # calls to moto and the emulators, and FAR_END_MS is added on top: a conservative upper bound.
            if name in compute and isinstance(figures, dict) and figures.get("warm_p50_ms_per_record"):
                compute[name] = float(figures["warm_p50_ms_per_record"])
    return Assumptions(
        alarms=resources_by_type.get("AWS::CloudWatch::Alarm", 0),
        dashboards=resources_by_type.get("AWS::CloudWatch::Dashboard", 0),
        kms_keys=resources_by_type.get("AWS::KMS::Key", 0),
        memory_mb=memory,
        compute_ms=compute,
    )


def _after_free(quantity: float, allowance: float, free_tier: bool) -> float:
    return max(0.0, quantity - allowance) if free_tier else quantity


def monthly_cost(sessions_per_day: float, assumptions: Assumptions, free_tier: bool = False) -> dict[str, Any]:
    """Line items in USD per month, split into per-session (variable) and fixed costs."""
    price = load_prices()["prices"]
    free = load_prices()["free_tier"]
    sessions = sessions_per_day * DAYS_PER_MONTH
    hot = sessions * assumptions.hot_share
    per_second = sessions_per_day / 86_400
    messages = {
        "score_lead": sessions,
        "salesforce_sync": sessions,
        "amplitude_events": sessions,
        "hot_lead_alert": hot,
    }
    invocations = {}
    gb_seconds = 0.0
    for name, count in messages.items():
        batch = min(10.0, max(1.0, per_second * assumptions.batching_window_s[name]))
        invocations[name] = count / batch
        per_message_s = (assumptions.compute_ms[name] + FAR_END_MS[name]) / 1000
        gb_seconds += count * per_message_s * assumptions.memory_mb / 1024
    total_invocations = sum(invocations.values())
    total_messages = sum(messages.values())
    stored_gb = sessions * (assumptions.session_object_bytes + assumptions.scored_object_bytes) / GB
    event_gb = sessions * assumptions.event_detail_bytes / GB
    log_gb = (
        total_messages * assumptions.log_bytes_per_message + total_invocations * assumptions.log_bytes_per_invocation
    ) / GB
    idle_receives = (
        4 * assumptions.esm_pollers * assumptions.esm_idle_receives_per_poller_per_minute * MINUTES_PER_MONTH
    )
    sqs_requests = total_messages * 3 + idle_receives  # send, receive, delete per message
    # A query reads the scored records of the days it filters on; the JSON SerDe reads them uncompressed (~4x).
    scanned_mb = sessions_per_day * assumptions.analyst_days_scanned_per_query * assumptions.scored_object_bytes * 4
    athena_mb = max(float(price["athena_min_mb_per_query"]), scanned_mb / 1024**2)
    athena_tb = assumptions.analyst_queries_per_day * DAYS_PER_MONTH * athena_mb / 1024**2

    variable = {
        "s3": sessions * 2 * price["s3_put_per_1000"] / 1000
        + sessions * price["s3_get_per_1000"] / 1000
        + stored_gb * price["s3_standard_gb_month"],
        "eventbridge": sessions * price["eventbridge_custom_events_per_million"] / 1e6
        + event_gb * (price["eventbridge_archive_gb_processed"] + price["eventbridge_archive_gb_month"]),
        "sqs": total_messages * 3 * price["sqs_requests_per_million"] / 1e6,
        "lambda": _after_free(total_invocations, free["lambda_requests_month"], free_tier)
        * price["lambda_requests_per_million"]
        / 1e6
        + _after_free(gb_seconds, free["lambda_gb_seconds_month"], free_tier) * price["lambda_arm64_gb_second"],
        "dynamodb": (total_messages * assumptions.idempotency_writes_per_consumer)
        * price["dynamodb_on_demand_write_units_per_million"]
        / 1e6,
        "sns": _after_free(hot, free["sns_publish_month"], free_tier) * price["sns_publish_per_million"] / 1e6
        + _after_free(hot, free["sns_email_month"], free_tier) * price["sns_email_per_100000"] / 1e5,
        "cloudwatch_logs": _after_free(log_gb, free["cloudwatch_logs_gb_month"], free_tier)
        * (price["cloudwatch_logs_ingest_gb"] + price["cloudwatch_logs_storage_gb_month"]),
        "xray": _after_free(total_invocations, free["xray_traces_month"], free_tier)
        * price["xray_traces_recorded_per_million"]
        / 1e6,
        "athena": athena_tb * price["athena_tb_scanned"],
    }
    # Idle polling is paid whatever the traffic; the free SQS allowance is spent on it first.
    idle_billable = _after_free(idle_receives, free["sqs_requests_month"], free_tier)
    if free_tier:
        spare_allowance = max(0.0, free["sqs_requests_month"] - idle_receives)
        variable["sqs"] = max(0.0, total_messages * 3 - spare_allowance) * price["sqs_requests_per_million"] / 1e6
    fixed = {
        "sqs_idle_polling": idle_billable * price["sqs_requests_per_million"] / 1e6,
        "cloudwatch_alarms": _after_free(assumptions.alarms, free["cloudwatch_alarms"], free_tier)
        * price["cloudwatch_standard_alarm_month"],
        "cloudwatch_dashboard": _after_free(assumptions.dashboards, free["cloudwatch_dashboards"], free_tier)
        * price["cloudwatch_dashboard_month"],
        "cloudwatch_custom_metrics": _after_free(
            assumptions.custom_metrics, free["cloudwatch_custom_metrics"], free_tier
        )
        * price["cloudwatch_custom_metric_month"],
        "kms_keys": assumptions.kms_keys * price["kms_key_month"],
    }
    variable_total = sum(variable.values())
    fixed_total = sum(fixed.values())
    return {
        "sessions_per_day": sessions_per_day,
        "sessions_per_month": round(sessions),
        "free_tier": free_tier,
        "variable_usd": {name: round(value, 4) for name, value in variable.items()},
        "fixed_usd": {name: round(value, 4) for name, value in fixed.items()},
        "variable_total_usd": round(variable_total, 2),
        "fixed_total_usd": round(fixed_total, 2),
        "total_usd": round(variable_total + fixed_total, 2),
        "per_1000_sessions_usd": round(variable_total / sessions * 1000, 4) if sessions else 0.0,
        "reference_usd": REFERENCE_MONTHLY_USD.get(int(sessions_per_day)),
        "lambda_gb_seconds": round(gb_seconds),
        "sqs_requests": round(sqs_requests),
        "region": load_prices()["region"],
        "prices_as_of": load_prices()["as_of"],
    }


def cost_table(volumes: list[int], assumptions: Assumptions, free_tier: bool = False) -> dict[str, dict[str, Any]]:
    return {str(volume): monthly_cost(volume, assumptions, free_tier) for volume in volumes}


def ratio(ours: float, reference: float | None) -> float | None:
    if not reference or not ours or math.isclose(ours, 0.0):
        return None
    return round(reference / ours, 1)
