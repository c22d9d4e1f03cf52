"""Monthly AWS cost of the backend, from published unit prices (`data/aws_prices.json`) and the template.

Two bases, always reported side by side:
- list price: every request, metric, alarm and dashboard paid for, no allowance of any kind;
- with AWS's always-free allowances: only the Free Tier offers that never expire (12-month offers and trials are
  never applied), on the assumption that this stack is their only user. They are per payer account: every other
  stack or stage in the account, and every account of an AWS Organization, draws on the same allowances.

Per session: two S3 puts (the session and the scored record) and one get, one custom "Lead Scored" event
(+ archive), SQS send/receive/delete on the score queue and on each consumer queue (the alert queue only for hot
leads), Lambda requests and GB-seconds (measured compute time from `make bench` when available, plus the far
ends' latency, at the template's memory size), DynamoDB idempotency writes, SNS publish + email for hot leads,
CloudWatch Logs, X-Ray traces, KMS requests to AWS managed keys, Secrets Manager reads, the custom metrics sent on
the happy path (billed for the hours in which they are sent) and Athena (bytes scanned, compressed as stored, plus
the S3 GET of every object a query reads). Per month whatever the volume: alarm metrics, dashboards, KMS keys and
secrets (counted from the template), custom metrics sent only on failures, and the SQS polling that Lambda's event
source mappings do while queues are idle.

Analytics at scale (see docs/backend.md "Compaction" and "Cost"):
- X-Ray follows the template's TracingMode (default PassThrough: nothing in this flow arrives sampled, no trace).
- The daily compaction rewrites finished days as Parquet, so an analyst's query reads a few files per compacted day
  and one object per session only for the days not compacted yet (today, and yesterday until the run); the
  compaction's own reads, writes, compute and the Parquet copy are their own line.
- The agent's one `session_analytics` log line per session into CloudWatch Logs, and the analysts' Logs Insights
  queries over it; the optional Firehose copy to S3 (off by default) is reported beside the total, not in it.
- Salesforce calls: salesforce_sync sends one Lead and one Task collection call per SQS batch.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from voice_analytics.template import deployed_resources, load_template, parameter_values

DAYS_PER_MONTH = 30.4
HOURS_PER_MONTH = DAYS_PER_MONTH * 24
MINUTES_PER_MONTH = HOURS_PER_MONTH * 60
SECONDS_PER_MONTH = MINUTES_PER_MONTH * 60
GB = 1024**3
MB = 1024**2
# SNS reuses a data key for up to 5 minutes per publishing principal (SNS developer guide, "Estimating AWS KMS
# costs": R = B / D * 2P); the same period is assumed for S3 Bucket Keys and for the functions' secret cache.
KEY_REUSE_WINDOWS_PER_MONTH = MINUTES_PER_MONTH / 5
# Lambda samples traces at 1 request per second plus 5% of the rest (X-Ray's default rule), here per function.
XRAY_RESERVOIR_PER_SECOND = 1.0
XRAY_FIXED_RATE = 0.05

# The target, and the reference design (Firehose + CloudWatch ingestion) as published, USD per month.
TARGET_SESSIONS_PER_DAY = 1000
TARGET_MONTHLY_USD = 1.0
REFERENCE_MONTHLY_USD = {100: 7.60, 1000: 76.28, 10000: 762.75, 100000: 7627.50}

# What the flow of DESIGN.md costs by itself: two S3 objects per session, the EventBridge events, one polled SQS
# queue per consumer (its traffic and Lambda's idle polling), Lambda, the DynamoDB idempotency writes, SNS for hot
# leads. Every other line (dashboard, alarms, tracing, logs, metrics, KMS, secrets, analysts' Athena queries) is an
# operating choice that could be $0; these could not, without changing the flow.
FLOW_ITEMS = ("s3", "eventbridge", "sqs", "sqs_idle_polling", "lambda", "dynamodb", "sns")

BASIS_LIST = "list price (no allowances)"
BASIS_ALWAYS_FREE = "with AWS always-free allowances"

# Local measurements cannot see the far ends' real latency; these are typical in-region figures.
FAR_END_MS = {
    "score_lead": 80.0,  # S3 get + 2 puts + PutEvents + 2 DynamoDB writes
    "salesforce_sync": 500.0,  # Lead upsert + Task upsert over the internet
    "amplitude_events": 150.0,  # one HTTP API v2 batch
    "hot_lead_alert": 40.0,  # SNS publish + 2 DynamoDB writes
}
# The least compute a measured figure can leave once the emulated far end is taken out (a median minus a mean).
MIN_COMPUTE_MS = 1.0
DEFAULT_COMPUTE_MS = {"score_lead": 15.0, "salesforce_sync": 10.0, "amplitude_events": 10.0, "hot_lead_alert": 5.0}
DEFAULT_BATCHING_WINDOW_S = {"score_lead": 0.0, "salesforce_sync": 5.0, "amplitude_events": 5.0, "hot_lead_alert": 0.0}

SentWith = Literal["session", "hot lead", "failure"]


@dataclass(frozen=True)
class CustomMetric:
    """One billed custom metric: a name under one dimension set (Powertools: `service` and `stage`)."""

    name: str
    service: str
    sent_with: SentWith


# What the functions emit (Powertools EMF, namespace VoiceAnalytics, dimensions service + stage; no ColdStart metric:
# capture_cold_start_metric is off). tests/unit/test_cost.py checks this list against the add_metric calls in
# functions/. CloudWatch bills a custom metric by the hour, only for hours in which it is sent.
CUSTOM_METRICS: tuple[CustomMetric, ...] = (
    # Failures only. The happy path had seven metrics (sessions received, leads scored, hot leads, Salesforce
    # synced/skipped, Amplitude events, alerts sent): $2.10 a month at list price that no alarm and no dashboard
    # read. AWS's free metrics count the same (SQS messages sent/deleted per queue, SNS messages published) and
    # each is a log line, counted by the template's Logs Insights query OutcomesPerHourQuery.
    CustomMetric("ObjectsMissing", "score_lead", "failure"),
    CustomMetric("RecordsQuarantined", "score_lead", "failure"),
    CustomMetric("LlmScoringFallbacks", "score_lead", "failure"),
    *(
        CustomMetric("PermanentFailures", service, "failure")
        for service in ("score_lead", "salesforce_sync", "amplitude_events", "hot_lead_alert")
    ),
)


@dataclass(frozen=True)
class Assumptions:
    """What a session looks like to the bill, and what the template deploys; defaults match the template."""

    # Stored (gzip) sizes. The demo's means are about 1.0 KB (session) and 1.1 KB (scored); real calls carry longer
    # transcripts, so these are kept about 3x higher.
    session_object_bytes: int = 3_000
    scored_object_bytes: int = 3_500
    event_detail_bytes: int = 4_000
    hot_share: float = 0.4
    log_bytes_per_message: int = 1_500
    log_bytes_per_invocation: int = 400
    idempotency_writes_per_consumer: int = 2
    analyst_queries_per_day: int = 20
    analyst_days_scanned_per_query: int = 7  # queries filter on the year/month/day partitions
    # The bill of month 12: a year of records in S3 Standard (objects under 128 KB never transition, see the template).
    months_of_records_stored: int = 12
    # Lambda long-polls each SQS source with 5 pollers (20-second waits) while idle; the documented low-traffic
    # reduction to 2 is not available when the event source has a maximum concurrency, which all of ours have.
    event_source_mappings: int = 4
    esm_pollers: int = 5
    esm_idle_receives_per_poller_per_minute: float = 3.0
    # A failure-only metric is assumed sent in 1% of the month's hours (about 7 hours) on a healthy month.
    failure_metric_hour_share: float = 0.01
    memory_mb: int = 512
    compute_ms: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_COMPUTE_MS))
    batching_window_s: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_BATCHING_WINDOW_S))
    alarm_metrics: int = 14
    dashboards: int = 1
    kms_keys: int = 0
    secrets: int = 2
    secret_readers: int = 2
    hot_lead_topic_kms: bool = True
    bucket_sse_kms: bool = True
    # --- analytics at scale --------------------------------------------------------------------------------------
    # The template's TracingMode: Active traces what Lambda samples; PassThrough only requests that arrive sampled,
    # and S3 event notifications, EventBridge rules and SQS carry no sampled trace header here: none.
    tracing_active: bool = False
    compaction: bool = True
    compaction_objects_per_file: int = 50_000
    compaction_memory_mb: int = 2048
    # Wall time per raw object in the function: 32 concurrent GETs of ~20 ms (0.6 ms each), gunzip and DuckDB's
    # conversion (about 0.1 ms an object measured by `make bench`); rounded up to allow for slow GETs.
    compaction_ms_per_object: float = 2.0
    # Parquet (zstd) bytes per gzip JSON byte of the same records; `make bench` measures it on generated sessions.
    parquet_share_of_gzip: float = 0.5
    # Range GETs Athena makes per Parquet file read (footer, then the column chunks a query needs): kept high.
    athena_gets_per_parquet_file: int = 20
    # Of the days a query scans, the share read from raw objects: today's (half over, on average) and yesterday's
    # until the 01:15 UTC run (1.25 h of 24). The rest is read from Parquet.
    raw_days_per_query: float = 0.5 + 1.25 / 24
    # The agent's structured session_analytics line (one per session, no PII), and Logs Insights queries over it.
    session_log_line_bytes: int = 800
    logs_insights_queries_per_day: int = 20
    logs_insights_days_scanned_per_query: int = 1
    # The optional subscription filter -> Firehose -> S3 copy of that line (a template condition, off by default).
    firehose_stream: bool = False
    firehose_buffer_seconds: int = 60
    # salesforce_sync: a Lead collection upsert and a Task collection call per batch (up to 200 records each).
    salesforce_calls_per_batch: int = 2
    sqs_batch_size: dict[str, int] = field(default_factory=lambda: dict.fromkeys(DEFAULT_COMPUTE_MS, 10))


@cache
def load_prices() -> dict[str, Any]:
    text = resources.files("voice_analytics").joinpath("data/aws_prices.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


# ---------------------------------------------------------------------------------------------------- template


def _alarm_metrics(properties: dict[str, Any]) -> int:
    """CloudWatch bills an alarm per metric it watches: 1, or each MetricStat of a metric-math alarm."""
    if "MetricName" in properties:
        return 1
    return sum(1 for query in properties.get("Metrics", []) if "MetricStat" in query)


def assumptions_from_template(template_path: Path, bench_path: Path | None = None) -> Assumptions:
    """Alarms, dashboards, keys, secrets, event sources, batching windows and memory from the template as deployed
    with its default parameters; compute times from `make bench`."""
    template = load_template(template_path)
    deployed = deployed_resources(template)  # every parameter at its default
    by_type: dict[str, list[dict[str, Any]]] = {}
    for name, body in deployed.items():
        by_type.setdefault(body["Type"], []).append({"name": name, **body.get("Properties", {})})
    global_function = template.get("Globals", {}).get("Function", {})
    memory = int(global_function.get("MemorySize", 128))
    windows = dict(DEFAULT_BATCHING_WINDOW_S)
    batch_sizes = dict.fromkeys(DEFAULT_COMPUTE_MS, 10)
    event_sources = 0
    secret_names: set[str] = set()
    secret_readers = 0
    hot_lead_topic_kms = False
    topics = {body["name"]: body for body in by_type.get("AWS::SNS::Topic", [])}
    for function in by_type.get("AWS::Serverless::Function", []):
        service = str(function["Handler"]).split(".")[1]
        sqs_events = [event for event in function.get("Events", {}).values() if event["Type"] == "SQS"]
        if sqs_events:  # the per-session functions (the daily compaction has its own memory size and line)
            memory = int(function.get("MemorySize", memory))
        for event in sqs_events:
            event_sources += 1
            window = event["Properties"].get("MaximumBatchingWindowInSeconds", 0)
            if isinstance(window, dict) and "Ref" in window:  # a parameter: its default, as deployed
                window = parameter_values(template)[window["Ref"]]
            windows[service] = float(window)
            batch_sizes[service] = int(event["Properties"].get("BatchSize", 10))
        variables = function.get("Environment", {}).get("Variables", {})
        secrets = {json.dumps(value) for key, value in variables.items() if key.endswith("_SECRET_NAME")}
        secret_names |= secrets
        secret_readers += bool(secrets)
        topic = variables.get("HOT_LEAD_TOPIC_ARN")
        if isinstance(topic, dict) and topic.get("Ref") in topics:
            hot_lead_topic_kms = "KmsMasterKeyId" in topics[topic["Ref"]]
    compute = dict(DEFAULT_COMPUTE_MS)
    if bench_path is not None and bench_path.exists():
        handlers = json.loads(bench_path.read_text(encoding="utf-8")).get("handlers", {})
        for name, figures in handlers.items():
            # Per record: a batch invocation's time divided by the records it carried. It includes the loopback
            # calls to moto and the emulators, and FAR_END_MS is added on top: a conservative upper bound. The
            # Salesforce emulator's service time (a far end's latency, given by the benchmark) is FAR_END_MS's part,
            # so it is taken out.
            if name in compute and isinstance(figures, dict) and figures.get("warm_p50_ms_per_record"):
                far_end = float(figures.get("salesforce_service_ms_per_record", 0.0))
                compute[name] = max(MIN_COMPUTE_MS, float(figures["warm_p50_ms_per_record"]) - far_end)
    tracing = global_function.get("Tracing", "PassThrough")
    if isinstance(tracing, dict) and "Ref" in tracing:
        tracing = parameter_values(template)[tracing["Ref"]]
    compact = next(
        (
            function
            for function in by_type.get("AWS::Serverless::Function", [])
            if function["name"] == "CompactFunction"
        ),
        None,
    )
    bucket_sse_kms = any(
        rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"].startswith("aws:kms")
        for bucket in by_type.get("AWS::S3::Bucket", [])
        for rule in bucket.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", [])
    )
    return Assumptions(
        alarm_metrics=sum(_alarm_metrics(alarm) for alarm in by_type.get("AWS::CloudWatch::Alarm", [])),
        dashboards=len(by_type.get("AWS::CloudWatch::Dashboard", [])),
        kms_keys=len(by_type.get("AWS::KMS::Key", [])),
        secrets=len(secret_names),
        secret_readers=secret_readers,
        event_source_mappings=event_sources,
        hot_lead_topic_kms=hot_lead_topic_kms,
        bucket_sse_kms=bucket_sse_kms,
        memory_mb=memory,
        compute_ms=compute,
        batching_window_s=windows,
        sqs_batch_size=batch_sizes,
        tracing_active=tracing == "Active",
        compaction=compact is not None,
        compaction_memory_mb=int(compact.get("MemorySize", memory)) if compact else Assumptions.compaction_memory_mb,
    )


# ---------------------------------------------------------------------------------------------------- the model


def _share_of_periods_with_one(expected_per_period: float) -> float:
    """Share of periods (hours, 5-minute windows) in which at least one of Poisson-arriving events happens."""
    return 1.0 - math.exp(-expected_per_period) if expected_per_period > 0 else 0.0


def custom_metric_months(
    sessions_per_day: float, assumptions: Assumptions, metrics: tuple[CustomMetric, ...] = CUSTOM_METRICS
) -> dict[SentWith, float]:
    """Billed metric-months by how the metric is sent: each metric costs the share of hours in which it is sent.
    (The functions send failure-only metrics today; a metric sent per session or per hot lead would cost nearly a
    metric-month once every hour has traffic.)"""
    per_hour = {
        "session": sessions_per_day / 24,
        "hot lead": sessions_per_day * assumptions.hot_share / 24,
    }
    months: dict[SentWith, float] = {"session": 0.0, "hot lead": 0.0, "failure": 0.0}
    for metric in metrics:
        if metric.sent_with == "failure":
            months["failure"] += assumptions.failure_metric_hour_share
        else:
            months[metric.sent_with] += _share_of_periods_with_one(per_hour[metric.sent_with])
    return months


class _Allowances:
    """Always-free allowances, each spent once across the lines that draw on it (or none on list price)."""

    def __init__(self, apply: bool) -> None:
        self._left = {key: float(value) for key, value in load_prices()["always_free"].items()} if apply else {}

    def billable(self, quantity: float, allowance: str) -> float:
        free = min(quantity, self._left.get(allowance, 0.0))
        if allowance in self._left:
            self._left[allowance] -= free
        return quantity - free


def monthly_cost(sessions_per_day: float, assumptions: Assumptions, free_tier: bool = False) -> dict[str, Any]:
    """Line items in USD per month, split into per-session (variable) and fixed costs.

    `free_tier` applies the always-free allowances only (see the module docstring); off, it is the list price.
    """
    price = load_prices()["prices"]
    allowances = _Allowances(free_tier)
    sessions = sessions_per_day * DAYS_PER_MONTH
    hot = sessions * assumptions.hot_share
    per_second = sessions_per_day / 86_400
    messages = {
        "score_lead": sessions,
        "salesforce_sync": sessions,
        "amplitude_events": sessions,
        "hot_lead_alert": hot,
    }
    invocations: dict[str, float] = {}
    xray_traces = 0.0
    gb_seconds = 0.0
    reservoir = XRAY_RESERVOIR_PER_SECOND * SECONDS_PER_MONTH
    for name, count in messages.items():
        rate = per_second * (assumptions.hot_share if name == "hot_lead_alert" else 1.0)
        largest = float(assumptions.sqs_batch_size.get(name, 10))
        batch = min(largest, max(1.0, rate * assumptions.batching_window_s.get(name, 0.0)))
        invocations[name] = count / batch
        if assumptions.tracing_active:
            xray_traces += min(invocations[name], reservoir) + XRAY_FIXED_RATE * max(0.0, invocations[name] - reservoir)
        # Salesforce's far end is per batch (two collection calls), the others' per message.
        far_end_ms = FAR_END_MS[name] / batch if name == "salesforce_sync" else FAR_END_MS[name]
        per_message_s = (assumptions.compute_ms[name] + far_end_ms) / 1000
        gb_seconds += count * per_message_s * assumptions.memory_mb / 1024
    salesforce_calls = invocations["salesforce_sync"] * assumptions.salesforce_calls_per_batch
    total_invocations = sum(invocations.values())
    total_messages = sum(messages.values())

    monthly_gb = sessions * (assumptions.session_object_bytes + assumptions.scored_object_bytes) / GB
    stored_gb = monthly_gb * assumptions.months_of_records_stored
    event_gb = sessions * assumptions.event_detail_bytes / GB
    log_gb = (
        total_messages * assumptions.log_bytes_per_message + total_invocations * assumptions.log_bytes_per_invocation
    ) / GB

    # Athena bills the bytes it reads from S3, i.e. gzip objects at their compressed (stored) size, at least 10 MB
    # a query; and every object a query reads is one S3 GET (plus one LIST page per 1,000 keys of a partition).
    # With compaction, the days already compacted are a few Parquet files each (a few range GETs per file).
    queries = assumptions.analyst_queries_per_day * DAYS_PER_MONTH
    days_scanned = float(assumptions.analyst_days_scanned_per_query)
    raw_days = min(days_scanned, assumptions.raw_days_per_query) if assumptions.compaction else days_scanned
    compacted_days = days_scanned - raw_days
    files_per_day = max(1, math.ceil(sessions_per_day / assumptions.compaction_objects_per_file))
    objects_per_query = sessions_per_day * raw_days
    parquet_bytes_per_query = (
        sessions_per_day * compacted_days * assumptions.scored_object_bytes * assumptions.parquet_share_of_gzip
    )
    scanned_mb = max(
        float(price["athena_min_mb_per_query"]),
        (objects_per_query * assumptions.scored_object_bytes + parquet_bytes_per_query) / MB,
    )
    athena_tb = queries * scanned_mb / MB
    parquet_gets = math.ceil(compacted_days) * files_per_day * assumptions.athena_gets_per_parquet_file
    athena_gets = queries * (objects_per_query + parquet_gets)
    raw_partitions = math.ceil(raw_days)
    athena_lists = queries * (
        raw_partitions * max(1, math.ceil(objects_per_query / max(raw_partitions, 1) / 1000))
        + math.ceil(compacted_days)
    )

    # The compaction: once a day it lists the last lookback days of both raw prefixes, reads each new raw object
    # once (sessions/ and scored/), writes a few Parquet files and two small JSON files per view, and keeps the
    # Parquet copy as long as the raw objects are kept.
    compaction_usd: dict[str, float] = {}
    if assumptions.compaction:
        runs = DAYS_PER_MONTH
        raw_reads = 2 * sessions
        compaction_lists = runs * 2 * 7 * max(1, math.ceil(sessions_per_day / 1000))
        compaction_puts = runs * 2 * (files_per_day + 2)
        compaction_gb_seconds = (
            raw_reads * assumptions.compaction_ms_per_object / 1000 * (assumptions.compaction_memory_mb / 1024)
        )
        parquet_gb = (
            sessions
            * (assumptions.session_object_bytes + assumptions.scored_object_bytes)
            * assumptions.parquet_share_of_gzip
            / GB
            * assumptions.months_of_records_stored
        )
        compaction_usd = {
            "s3_requests": raw_reads * price["s3_get_per_1000"] / 1000
            + compaction_lists * price["s3_list_per_1000"] / 1000
            + compaction_puts * price["s3_put_per_1000"] / 1000,
            "lambda": runs * price["lambda_requests_per_million"] / 1e6
            + compaction_gb_seconds * price["lambda_arm64_gb_second"],
            "parquet_storage": parquet_gb * price["s3_standard_gb_month"],
        }

    # The session_analytics line: ingested and stored in CloudWatch Logs, scanned by the analysts' Logs Insights
    # queries. The Firehose copy bills every record rounded up to 5 KB (each line assumed its own record: an upper
    # bound, CloudWatch Logs batches them) plus one S3 PUT per buffer interval.
    session_log_gb = sessions * assumptions.session_log_line_bytes / GB
    insights_gb = (
        assumptions.logs_insights_queries_per_day
        * DAYS_PER_MONTH
        * sessions_per_day
        * assumptions.logs_insights_days_scanned_per_query
        * assumptions.session_log_line_bytes
        / GB
    )
    record_kb = max(float(price["firehose_record_rounding_kb"]), assumptions.session_log_line_bytes / 1024)
    firehose_usd = (
        sessions * record_kb * 1024 / GB * price["firehose_gb_ingested"]
        + SECONDS_PER_MONTH / assumptions.firehose_buffer_seconds * price["s3_put_per_1000"] / 1000
        + session_log_gb * price["s3_standard_gb_month"]
        if sessions
        else 0.0
    )

    # KMS requests to AWS managed keys (no KMS key of our own): the hot-lead topic's aws/sns key, 2 requests per
    # publisher per 5 minutes with a publish; the bucket's aws/s3 key with a Bucket Key, one request per writer per
    # 5 minutes with a write (assumed), and one per Athena query.
    windows = KEY_REUSE_WINDOWS_PER_MONTH
    sessions_per_window = sessions / windows
    kms_requests = 0.0
    if assumptions.hot_lead_topic_kms:
        kms_requests += 2 * windows * _share_of_periods_with_one(hot / windows)
    if assumptions.bucket_sse_kms:
        kms_requests += windows * _share_of_periods_with_one(sessions_per_window) + queries
    # Each secret reader caches its secret for 5 minutes (Powertools max_age=300): one read per active window.
    secret_reads = assumptions.secret_readers * windows * _share_of_periods_with_one(sessions_per_window)

    idle_receives = (
        assumptions.event_source_mappings
        * assumptions.esm_pollers
        * assumptions.esm_idle_receives_per_poller_per_minute
        * MINUTES_PER_MONTH
    )
    traffic_requests = total_messages * 3  # send, receive, delete per message
    metric_months = custom_metric_months(sessions_per_day, assumptions)
    happy_metric_months = metric_months["session"] + metric_months["hot lead"]

    # The order of these lines is the order the allowances are spent in: idle polling takes the free SQS requests
    # first (it happens whatever the traffic), happy-path metrics the free custom metrics.
    fixed = {
        "sqs_idle_polling": allowances.billable(idle_receives, "sqs_requests_month")
        * price["sqs_requests_per_million"]
        / 1e6,
        "cloudwatch_alarms": allowances.billable(assumptions.alarm_metrics, "cloudwatch_alarm_metrics")
        * price["cloudwatch_standard_alarm_metric_month"],
        "cloudwatch_dashboard": allowances.billable(assumptions.dashboards, "cloudwatch_dashboards")
        * price["cloudwatch_dashboard_month"],
        "kms_keys": assumptions.kms_keys * price["kms_key_month"],
        "secrets_manager_secrets": assumptions.secrets * price["secretsmanager_secret_month"],
    }
    variable = {
        "s3": sessions * 2 * price["s3_put_per_1000"] / 1000
        + sessions * price["s3_get_per_1000"] / 1000
        + stored_gb * price["s3_standard_gb_month"],
        "eventbridge": sessions * price["eventbridge_custom_events_per_million"] / 1e6
        + event_gb * (price["eventbridge_archive_gb_processed"] + price["eventbridge_archive_gb_month"]),
        "sqs": allowances.billable(traffic_requests, "sqs_requests_month") * price["sqs_requests_per_million"] / 1e6,
        "lambda": allowances.billable(total_invocations, "lambda_requests_month")
        * price["lambda_requests_per_million"]
        / 1e6
        + allowances.billable(gb_seconds, "lambda_gb_seconds_month") * price["lambda_arm64_gb_second"],
        "dynamodb": (total_messages * assumptions.idempotency_writes_per_consumer)
        * price["dynamodb_on_demand_write_units_per_million"]
        / 1e6,
        "sns": allowances.billable(hot, "sns_publish_month") * price["sns_publish_per_million"] / 1e6
        + allowances.billable(hot, "sns_email_month") * price["sns_email_per_100000"] / 1e5,
        "cloudwatch_logs": allowances.billable(log_gb, "cloudwatch_logs_gb_month")
        * (price["cloudwatch_logs_ingest_gb"] + price["cloudwatch_logs_storage_gb_month"]),
        "session_analytics_logs": allowances.billable(session_log_gb, "cloudwatch_logs_gb_month")
        * (price["cloudwatch_logs_ingest_gb"] + price["cloudwatch_logs_storage_gb_month"])
        + insights_gb * price["cloudwatch_logs_insights_gb_scanned"]
        + (firehose_usd if assumptions.firehose_stream else 0.0),
        "cloudwatch_custom_metrics": allowances.billable(happy_metric_months, "cloudwatch_custom_metrics")
        * price["cloudwatch_custom_metric_month"],
        "xray": allowances.billable(xray_traces, "xray_traces_month") * price["xray_traces_recorded_per_million"] / 1e6,
        "kms_requests": allowances.billable(kms_requests, "kms_requests_month") * price["kms_requests_per_10000"] / 1e4,
        "secrets_manager_reads": secret_reads * price["secretsmanager_api_calls_per_10000"] / 1e4,
        "athena": athena_tb * price["athena_tb_scanned"]
        + athena_gets * price["s3_get_per_1000"] / 1000
        + athena_lists * price["s3_list_per_1000"] / 1000,
        "compaction": sum(compaction_usd.values()),
    }
    fixed["cloudwatch_failure_metrics"] = (
        allowances.billable(metric_months["failure"], "cloudwatch_custom_metrics")
        * price["cloudwatch_custom_metric_month"]
    )
    variable_total = sum(variable.values())
    fixed_total = sum(fixed.values())
    return {
        "sessions_per_day": sessions_per_day,
        "sessions_per_month": round(sessions),
        "free_tier": free_tier,
        "basis": BASIS_ALWAYS_FREE if free_tier else BASIS_LIST,
        "variable_usd": {name: round(value, 4) for name, value in variable.items()},
        "fixed_usd": {name: round(value, 4) for name, value in fixed.items()},
        "variable_total_usd": round(variable_total, 2),
        "fixed_total_usd": round(fixed_total, 2),
        "total_usd": round(variable_total + fixed_total, 2),
        "per_1000_sessions_usd": round(variable_total / sessions * 1000, 4) if sessions else 0.0,
        "reference_usd": REFERENCE_MONTHLY_USD.get(int(sessions_per_day)),
        "lambda_gb_seconds": round(gb_seconds),
        "sqs_requests": round(traffic_requests + idle_receives),
        "xray_traces": round(xray_traces),
        "kms_requests": round(kms_requests),
        "custom_metric_months": {name: round(value, 3) for name, value in metric_months.items()},
        "athena_s3_gets": round(athena_gets),
        "xray_tracing": "Active" if assumptions.tracing_active else "PassThrough",
        "compaction_usd": {name: round(value, 4) for name, value in compaction_usd.items()},
        "salesforce_api_calls_per_day": round(salesforce_calls / DAYS_PER_MONTH),
        "salesforce_api_calls_per_session": round(salesforce_calls / sessions, 3) if sessions else 0.0,
        # Not in the totals unless the template's Firehose condition is on (Assumptions.firehose_stream).
        "optional_usd": {"firehose_stream": round(firehose_usd, 4)},
        "region": load_prices()["region"],
        "prices_as_of": load_prices()["as_of"],
    }


def cost_table(volumes: list[int], assumptions: Assumptions, free_tier: bool = False) -> dict[str, dict[str, Any]]:
    return {str(volume): monthly_cost(volume, assumptions, free_tier) for volume in volumes}


def both_bases(volumes: list[int], assumptions: Assumptions) -> dict[str, dict[str, dict[str, Any]]]:
    """The list price and the always-free figures, side by side, for each volume."""
    return {
        "list_price": cost_table(volumes, assumptions, free_tier=False),
        "with_always_free_allowances": cost_table(volumes, assumptions, free_tier=True),
    }


def target_verdict(assumptions: Assumptions) -> dict[str, Any]:
    """The issue's target (at most $1 a month at 1,000 sessions a day) on both bases."""
    list_price = monthly_cost(TARGET_SESSIONS_PER_DAY, assumptions)["total_usd"]
    free_figures = monthly_cost(TARGET_SESSIONS_PER_DAY, assumptions, free_tier=True)
    always_free = free_figures["total_usd"]
    items = {**free_figures["variable_usd"], **free_figures["fixed_usd"]}
    flow_floor = round(sum(items[name] for name in FLOW_ITEMS), 2)
    return {
        "sessions_per_day": TARGET_SESSIONS_PER_DAY,
        "target_usd": TARGET_MONTHLY_USD,
        "list_price_usd": list_price,
        "met_at_list_price": list_price <= TARGET_MONTHLY_USD,
        "with_always_free_allowances_usd": always_free,
        "met_with_always_free_allowances": always_free <= TARGET_MONTHLY_USD,
        # The lowest any operating choice reaches without changing the flow (always-free basis, FLOW_ITEMS only).
        "flow_floor_with_always_free_allowances_usd": flow_floor,
        "flow_floor_items": list(FLOW_ITEMS),
        "reachable_without_changing_the_flow": flow_floor <= TARGET_MONTHLY_USD,
    }


def ratio(ours: float, reference: float | None) -> float | None:
    if not reference or not ours or math.isclose(ours, 0.0):
        return None
    return round(reference / ours, 1)
