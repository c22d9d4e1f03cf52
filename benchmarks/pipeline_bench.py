"""The backend on the local stack: throughput in a burst, and end-to-end latency at a steady rate.

Everything is what `make demo` runs: moto server set up from template.yaml, the real handlers invoked by the
local Lambda runner, the Salesforce and Amplitude emulators. Sessions are synthetic copies of
`events/session_record_example.json` (new session ids and start times, validated and encoded by the agent's
exporter code), written with the exporter's S3 sink, so the agent's LLM loop is not part of these figures.

- burst: N objects written as fast as a few writer threads can, timed from the first put until every queue
  is drained; `sessions_per_s` = N / that time. Counts are checked after the drain (every session scored,
  one Salesforce Task per session, one alert per hot session, nothing dead-lettered), so a fast but lossy run
  cannot pass as a figure. `salesforce_api_calls_per_session`: the data calls the Salesforce emulator answered
  during the burst (its request log, not our code's count), per session.
- steady: `rate` sessions per second for `seconds`, every session hot; latency = the alert's delivery
  (SentTimestamp of the SNS message in the email outbox queue) minus the moment the put returned, and
  `salesforce`: the Lead's write time at the emulator (its LastModifiedDate) minus the same moment.

The Salesforce emulator answers each data call in the time a real org takes (`SALESFORCE_SERVICE_MS`; the
emulator answers at once in the tests). This matters for one figure above all: whether a burst backs up the
Salesforce queue, so that a poll finds a batch of several sessions (one pair of collection calls for all of them),
depends on how long each call takes; a far end that answers in a millisecond keeps the queue empty and every
batch at one session, which no real org does. It also makes the steady Lead latency include the calls' time.

Every synthetic session has a caller of its own (its own email, so its own Lead), except in a burst every
`REPEAT_CALLER_EVERY`-th, which is a second call of the caller before it: one Lead, two Tasks.
"""

from __future__ import annotations

import copy
import json
import statistics
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from agent.percentile import percentile
from functions.common.settings import ScoreLeadSettings

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "events" / "session_record_example.json"
# Execution environments per function (Lambda scales SQS consumers out; here, processes on this machine's cores).
CONCURRENCY = 2
# score_lead's default prefix for scored objects, which the local stack runs with (the template does not set it).
SCORED_PREFIX: str = ScoreLeadSettings.model_fields["scored_prefix"].default
# Unscored sessions named (and checked for their session object) in a burst's figures.
MAX_UNSCORED_CHECKED = 50
# The org's service time per data call. Salesforce publishes its platform's average transaction time
# (trust.salesforce.com, for years under 300 ms); a call from Lambda adds a round trip on a kept-alive TLS
# connection. Taken as 200 ms per call plus 10 ms per record written (a collection of 10: 300 ms). A faster org
# batches less in a burst: docs/performance.md has the calls per session measured from 0 to 300 ms per call.
SALESFORCE_SERVICE_MS = (200.0, 10.0)
# In a burst, every tenth session is a second call of the caller before it (the same email: the same Lead).
REPEAT_CALLER_EVERY = 10


def _records(count: int, prefix: str, hot_every: int, repeat_every: int = 0) -> Iterator[tuple[str, str, bytes]]:
    """(key, key of its scored object, gzip body) for synthetic sessions; every `hot_every`-th one is hot (team of
    12), others cold. Each has a caller of its own, except every `repeat_every`-th (0: none), which is the caller of
    the session before it. The scored key comes from the record, as score_lead derives it."""
    from agent.exporter import encode_record
    from functions.common.record import parse_record

    base = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    for index in range(count):
        raw = copy.deepcopy(base)
        raw["session_id"] = f"{prefix}-{index:06d}"
        started = start + timedelta(seconds=index)
        raw["started_at"] = started.isoformat()
        raw["ended_at"] = (started + timedelta(seconds=raw["duration_s"])).isoformat()
        caller = index - 1 if repeat_every and index and index % repeat_every == 0 else index
        raw["contact"] = {**raw["contact"], "email": f"caller-{prefix}-{caller:06d}@example.com"}
        if index % hot_every:
            raw["signals"] = {**raw["signals"], "team_size": 2, "monthly_volume": 10, "evidence": []}
        record = parse_record(raw, source=raw["session_id"])
        yield record.object_key(), record.object_key(SCORED_PREFIX), encode_record(record)


@contextmanager
def _local_pipeline(
    concurrency: int, salesforce_ms: tuple[float, float] = SALESFORCE_SERVICE_MS
) -> Iterator[tuple[Any, Any, Any, Any]]:
    from local.aws.runner import LambdaRunner
    from local.aws.stack import LocalStack
    from local.demo.run import Demo
    from local.emulators.amplitude import AmplitudeEmulator
    from local.emulators.salesforce import SalesforceEmulator, ServiceTime
    from local.environment import environment, loopback_without_proxy

    with ExitStack() as stack_of:
        stack_of.enter_context(loopback_without_proxy())
        stack = stack_of.enter_context(LocalStack(server="processes"))
        stack_of.enter_context(environment(stack.aws_environment()))
        salesforce = stack_of.enter_context(SalesforceEmulator(service_time=ServiceTime(*salesforce_ms)))
        amplitude = stack_of.enter_context(AmplitudeEmulator())
        Demo._create_secrets(stack, salesforce, amplitude)
        runner = LambdaRunner(
            stack,
            extra_env=Demo._local_function_env(salesforce),
            log_dir=ROOT / "build" / "bench" / "logs",
            isolation="process",
            concurrency=concurrency,
        )
        runner.start(warm_up=True)
        stack_of.callback(runner.stop)
        yield stack, runner, salesforce, amplitude


def _sink(stack: Any) -> Any:
    """The agent's sink, from its settings (the environment points them at the stack)."""
    from agent.exporter import s3_sink_from_settings
    from agent.settings import AgentSettings

    return s3_sink_from_settings(AgentSettings.from_env(), bucket=stack.physical_id("SessionsBucket"))


def _alerts(stack: Any) -> dict[str, float]:
    """Session id -> delivery time of its alert, read (and removed) from the email outbox queue."""
    from local.demo.report import read_emails

    return {email["session_id"]: email["received_at"] for email in read_emails(stack) if email["session_id"]}


def _scored_sessions(stack: Any, prefix: str) -> set[str]:
    """Keys of this burst's scored objects (distinct: a redelivered session is scored once)."""
    bucket = stack.physical_id("SessionsBucket")
    pages = stack.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{SCORED_PREFIX}/")
    return {item["Key"] for page in pages for item in page.get("Contents", []) if f"/{prefix}-" in item["Key"]}


def _unscored(stack: Any, expected: list[tuple[str, str]], scored_keys: set[str]) -> dict[str, Any]:
    """The sessions written but never scored, and whether each one's session object exists: tells a write that
    never landed apart from an object whose event or message went missing on the way to score_lead. `expected`:
    (session key, scored key) of every session written."""
    missing = [key for key, scored_key in expected if scored_key not in scored_keys]
    bucket = stack.physical_id("SessionsBucket")
    s3 = stack.client("s3")
    present = [key for key in missing[:MAX_UNSCORED_CHECKED] if _exists(s3, bucket, key)]
    return {"count": len(missing), "keys": missing[:MAX_UNSCORED_CHECKED], "with_session_object": present}


def _dlq_depths(stack: Any) -> dict[str, int]:
    from local.demo.report import dlq_depths

    return dlq_depths(stack)


def _exists(s3: Any, bucket: str, key: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError:
        return False
    return True


def burst(
    pipeline: tuple[Any, ...], count: int, writers: int = 4, hot_every: int = 2, label: str = ""
) -> dict[str, Any]:
    stack, runner, salesforce, _amplitude = pipeline
    score = runner.stats[_logical(stack, "score_lead")]
    scored_before, failed_before = score.records, score.failed_records
    tasks_before = len(salesforce.records("Task"))
    requests_before = len(salesforce.request_log)
    dead_before = _dlq_depths(stack)
    sink = _sink(stack)
    prefix = f"burst{count}{label}"
    payloads = list(_records(count, prefix, hot_every, REPEAT_CALLER_EVERY))
    started = time.monotonic()
    with ThreadPoolExecutor(writers) as pool:
        outcomes = list(pool.map(lambda item: sink.put(item[0], item[2], schema_version="1"), payloads))
    written_s = time.monotonic() - started
    runner.drain(max(600.0, float(count)))
    elapsed = time.monotonic() - started
    hot = len([index for index in range(count) if index % hot_every == 0])
    handled = (score.records - scored_before) - (score.failed_records - failed_before)
    scored_keys = _scored_sessions(stack, prefix)
    scored = len(scored_keys)
    alerts = len(_alerts(stack))
    tasks = len(salesforce.records("Task")) - tasks_before
    salesforce_calls = _data_calls(salesforce, requests_before)
    dead_lettered = {name: depth - dead_before.get(name, 0) for name, depth in _dlq_depths(stack).items()}
    dead_lettered = {name: count for name, count in dead_lettered.items() if count}
    return {
        "sessions": count,
        "writers": writers,
        "write_s": round(written_s, 2),
        "elapsed_s": round(elapsed, 2),
        "sessions_per_s": round(count / elapsed, 1),
        "hot": hot,
        "alerts": alerts,
        "salesforce_tasks": tasks,
        "salesforce_api_calls": salesforce_calls,
        "salesforce_api_calls_per_session": round(salesforce_calls / count, 3),
        "scored": scored,
        "unscored": _unscored(stack, [(key, scored_key) for key, scored_key, _ in payloads], scored_keys),
        # A put whose first attempt timed out and whose retry found the object there (412: the first one landed).
        "puts_found_existing": sum(outcome.name == "ALREADY_EXISTS" for outcome in outcomes),
        # Deliveries score_lead handled beyond one per session: at-least-once duplicates (e.g. a put the writer
        # retried), answered from the idempotency record; one still in progress fails and comes back after the
        # queue's visibility timeout (6 min), which then ends the burst.
        "redelivered": handled - scored,
        # Messages this burst moved to a dead-letter queue (after maxReceiveCount receives), by DLQ: none expected.
        "dead_lettered": dead_lettered,
        "consistent": scored == count and alerts == hot and tasks == count and not dead_lettered,
        "handlers": _handler_figures(stack, runner, salesforce),
    }


def _data_calls(salesforce: Any, since: int) -> int:
    """Data API calls the Salesforce emulator answered since request `since` (logins are not data calls)."""
    return sum(1 for _method, path, _status in salesforce.request_log[since:] if path.startswith("/services/data/"))


def _lead_written(salesforce: Any, session_ids: set[str]) -> dict[str, float]:
    """Session id -> when the emulator last wrote the Lead that session upserted (epoch seconds)."""
    from local.demo.report import salesforce_time

    written = {}
    for lead in salesforce.records("Lead"):
        session_id = lead.get("Voice_Last_Session_Id__c")
        moment = salesforce_time(lead.get("LastModifiedDate"))
        if session_id in session_ids and moment is not None:
            written[session_id] = moment
    return written


def _salesforce_event_source(stack: Any) -> dict[str, Any]:
    """salesforce_sync's SQS event source as the template sets it (what these figures were measured with)."""
    [source] = [source for source in stack.event_sources() if "salesforce_sync" in source.function.handler]
    return {
        "batch_size": source.batch_size,
        "maximum_batching_window_s": source.batching_window_s,
        "maximum_concurrency": source.maximum_concurrency,
    }


def _handler_figures(stack: Any, runner: Any, salesforce: Any) -> dict[str, dict[str, float]]:
    """Warm invocation time per function (the runner's own clock around each handler call), by package name.
    salesforce_sync's includes the emulator's service time (a far end's latency, not the function's compute);
    `salesforce_service_ms_per_record` is that part, so the cost model does not count it twice."""
    figures = {}
    for logical, spec in stack.functions().items():
        stats = runner.stats.get(logical)
        if not stats or not stats.durations_ms:
            continue
        package = spec.handler.split(".")[1]
        figures[package] = {
            "warm_p50_ms": round(statistics.median(stats.durations_ms), 1),
            "records_per_invocation": round(stats.records / max(1, stats.invocations), 1),
            "warm_p50_ms_per_record": round(
                statistics.median(stats.durations_ms) / max(1.0, stats.records / max(1, stats.invocations)), 1
            ),
        }
        if package == "salesforce_sync":
            served_ms = salesforce.service_time_served_s * 1000
            figures[package]["salesforce_service_ms_per_record"] = round(served_ms / max(1, stats.records), 1)
    return figures


def _logical(stack: Any, package: str) -> str:
    for logical, spec in stack.functions().items():
        if f"functions.{package}." in spec.handler:
            return str(logical)
    raise LookupError(f"no function with handler in functions.{package}")


def steady(pipeline: tuple[Any, ...], rate: float = 5.0, seconds: float = 60.0) -> dict[str, Any]:
    stack, runner, salesforce = pipeline[0], pipeline[1], pipeline[2]
    requests_before = len(salesforce.request_log)
    sink = _sink(stack)
    count = int(rate * seconds)
    payloads = list(_records(count, "steady", hot_every=1))
    stored_at: dict[str, float] = {}
    lock = threading.Lock()

    def write(key: str, body: bytes) -> None:
        sink.put(key, body, schema_version="1")
        with lock:
            stored_at[key.rsplit("/", 1)[1].removesuffix(".json.gz")] = time.time()

    started = time.monotonic()
    with ThreadPoolExecutor(4) as pool:
        for index, (key, _scored_key, body) in enumerate(payloads):
            delay = started + index / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            pool.submit(write, key, body)
    runner.drain(600)
    alerts = _alerts(stack)
    latencies = [(alerts[sid] - stored) * 1000 for sid, stored in stored_at.items() if sid in alerts]
    leads = _lead_written(salesforce, set(stored_at))
    to_lead = [(leads[sid] - stored) * 1000 for sid, stored in stored_at.items() if sid in leads]
    return {
        "rate_per_s": rate,
        "sessions": count,
        "alerts": len(alerts),
        "end_to_end_p50_ms": round(statistics.median(latencies), 1) if latencies else None,
        "end_to_end_p95_ms": round(percentile(latencies, 0.95), 1) if latencies else None,
        "end_to_end_max_ms": round(max(latencies), 1) if latencies else None,
        "consistent": len(alerts) == count and len(leads) == count,
        # Session stored -> its Lead written at the emulator (the emulator's clock: the same machine's).
        "salesforce": {
            "leads": len(leads),
            "end_to_end_p50_ms": round(statistics.median(to_lead), 1) if to_lead else None,
            "end_to_end_p95_ms": round(percentile(to_lead, 0.95), 1) if to_lead else None,
            "end_to_end_max_ms": round(max(to_lead), 1) if to_lead else None,
            "api_calls_per_session": round(_data_calls(salesforce, requests_before) / count, 3),
        },
    }


def run(
    burst_sizes: tuple[int, ...] = (1000,),
    rate: float = 5.0,
    seconds: float = 60.0,
    concurrency: int = CONCURRENCY,
    repeats: int = 3,
    salesforce_ms: tuple[float, float] = SALESFORCE_SERVICE_MS,
) -> dict[str, Any]:
    """The first burst size runs `repeats` times (this machine's timings vary run to run; the figure is their
    median, every run is kept); the others once."""
    # One local stack for every phase: moto's backends are per process, so a second stack would collide.
    with _local_pipeline(concurrency, salesforce_ms) as pipeline:
        first_size, *other_sizes = burst_sizes
        runs = [burst(pipeline, first_size, label=f"r{index}") for index in range(max(1, repeats))]
        bursts = {str(first_size): sorted(runs, key=lambda one: one["sessions_per_s"])[len(runs) // 2]}
        bursts.update({str(size): burst(pipeline, size) for size in other_sizes})
        figures = steady(pipeline, rate, seconds)
        event_source = _salesforce_event_source(pipeline[0])
    first = bursts[str(first_size)]
    return {
        "sessions": [int(size) for size in bursts],
        "concurrency_per_function": concurrency,
        "bursts": bursts,
        "sessions_per_s": bursts[str(first_size)]["sessions_per_s"],
        "sessions_per_s_runs": [one["sessions_per_s"] for one in runs],
        # Every burst, of every size: one that lost an effect is not a figure to quote.
        "consistent_runs": all(one["consistent"] for one in [*runs, *bursts.values()]),
        "steady": figures,
        "end_to_end_p50_ms": figures["end_to_end_p50_ms"],
        "end_to_end_p95_ms": figures["end_to_end_p95_ms"],
        # Salesforce: stored -> Lead written at steady load, and the data calls per session of the (median) burst.
        "salesforce": {
            "end_to_end_p50_ms": figures["salesforce"]["end_to_end_p50_ms"],
            "end_to_end_p95_ms": figures["salesforce"]["end_to_end_p95_ms"],
            "api_calls_per_session": first["salesforce_api_calls_per_session"],
            "api_calls_per_session_runs": [one["salesforce_api_calls_per_session"] for one in runs],
            "api_calls_per_session_steady": figures["salesforce"]["api_calls_per_session"],
            "event_source": event_source,
            "service_time_ms": {"per_call": salesforce_ms[0], "per_record": salesforce_ms[1]},
        },
    }


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--burst", type=int, nargs="+", default=[1000])
    parser.add_argument("--rate", type=float, default=5.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--salesforce-ms",
        type=float,
        nargs=2,
        metavar=("PER_CALL", "PER_RECORD"),
        default=list(SALESFORCE_SERVICE_MS),
        help="the Salesforce emulator's service time per data call and per record (0 0: answer at once)",
    )
    args = parser.parse_args()
    figures = run(tuple(args.burst), args.rate, args.seconds, args.concurrency, args.repeats, tuple(args.salesforce_ms))
    print(json.dumps(figures, indent=2))
