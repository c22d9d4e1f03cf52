"""`voice-analytics demo`: the whole system on this machine, ending in a report.

1. `LocalStack` brings up moto from template.yaml; the Salesforce and Amplitude emulators start on loopback and
   the two secrets the template names are created pointing at them.
2. `LambdaRunner` polls every SQS event source of the template and invokes the real handlers.
3. Every conversation script is replayed through the real agent exactly as `voice-analytics simulate` does
   (`agent.simulate.run_script`), exporting with the real exporter to the stack's bucket.
4. The runner drains every queue (or the demo fails naming the stuck queue), then the report is built from what
   the far ends hold: scored/ objects in S3, the emulators' records, the SNS emails read back through an SQS
   outbox, DLQ depths, quarantine/ objects; DuckDB runs the example queries over the downloaded records.
5. `build/demo/report.json` (and `report.html` when `local.demo.report_html` exists) is written; any inconsistency
   (a session not exported or not scored, alerts != hot leads, anything in a DLQ or quarantine, duplicates)
   is listed and makes the demo fail.
6. The emulators' records (Salesforce Leads and Tasks, Amplitude events) are kept between runs in
   `<report dir>/state/` (`salesforce.json`, `amplitude.json`): loaded at the start, saved at the end, like the
   real far ends that outlive a run (`fresh=True` / `--fresh` starts clean). moto starts empty every run, so the
   idempotency table is empty too: a second run re-delivers everything, and only the Salesforce upsert by
   external id and Amplitude's insert_id deduplication keep it from creating duplicates (the report shows
   `salesforce_created_this_run` and `amplitude_duplicates_dropped`).
"""

from __future__ import annotations

import asyncio
import gzip
import importlib
import importlib.util
import json
import logging
import shutil
import time
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from agent.percentile import percentile
from local.aws.stack import REPO_ROOT, LocalStack
from local.environment import environment, loopback_without_proxy

logger = logging.getLogger("local.demo.run")

DEFAULT_CONVERSATIONS = REPO_ROOT / "conversations"
# Used while the bundled conversations folder does not exist yet.
FALLBACK_CONVERSATIONS = (
    REPO_ROOT / "tests" / "fixtures" / "agent" / "conversation.json",
    REPO_ROOT.parent / "shared" / "examples" / "conversation.json",
)
DEFAULT_REPORT = REPO_ROOT / "build" / "demo" / "report.json"
DRAIN_TIMEOUT_SECONDS = 90.0
EMAILS_SHOWN_IN_FULL = 3
# The emails' "From" line: SNS email notifications come from this address.
SNS_SENDER = "no-reply@sns.amazonaws.com"


class DemoError(RuntimeError):
    """The demo could not finish or its report is inconsistent; the message lists why."""


@dataclass
class DemoResult:
    report: dict[str, Any]
    report_path: Path
    html_path: Path | None
    problems: list[str] = field(default_factory=list)


def find_scripts(conversations: Path | None) -> list[Path]:
    """The scripts of a folder (sorted), the bundled `conversations/`, or the two examples until it exists."""
    if conversations is not None:
        paths = sorted(conversations.glob("*.json")) if conversations.is_dir() else [conversations]
        if not paths or not all(path.is_file() for path in paths):
            raise DemoError(f"no conversation scripts (*.json) in {conversations}")
        return paths
    if DEFAULT_CONVERSATIONS.is_dir() and any(DEFAULT_CONVERSATIONS.glob("*.json")):
        return sorted(DEFAULT_CONVERSATIONS.glob("*.json"))
    return [path for path in FALLBACK_CONVERSATIONS if path.is_file()]


class _TimedSink:
    """Wraps the exporter's sink to note when each object was stored: the start of every latency figure."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.stored_at: dict[str, float] = {}

    def describe(self, key: str) -> str:
        return str(self.inner.describe(key))

    def put(self, key: str, body: bytes, *, schema_version: str) -> Any:
        outcome = self.inner.put(key, body, schema_version=schema_version)
        self.stored_at.setdefault(key, time.time())
        return outcome

    def read(self, key: str) -> bytes | None:
        result: bytes | None = self.inner.read(key)
        return result


def percentiles(values: list[float]) -> dict[str, float | int | None]:
    """p50 / p95 (the project's one definition, agent/percentile.py), plus count and max."""
    if not values:
        return {"p50": None, "p95": None, "max": None, "count": 0}
    p50, p95 = (round(percentile(values, fraction), 1) for fraction in (0.5, 0.95))
    return {"p50": p50, "p95": p95, "max": round(max(values), 1), "count": len(values)}


def _salesforce_time(value: str | None) -> float | None:
    if not value:
        return None
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


def _read_ndjson_gz(body: bytes) -> dict[str, Any]:
    first = gzip.decompress(body).split(b"\n", 1)[0]
    loaded = json.loads(first)
    if not isinstance(loaded, dict):
        raise ValueError("record is not a JSON object")
    return loaded


def _session_line(body: str) -> str | None:
    for line in body.splitlines():
        if line.startswith("Session:"):
            return line.split(":", 1)[1].strip()
    return None


class Demo:
    def __init__(
        self,
        scripts: list[Path],
        report_path: Path = DEFAULT_REPORT,
        *,
        console: Console | None = None,
        drain_timeout_s: float = DRAIN_TIMEOUT_SECONDS,
        state_dir: Path | None = None,
        fresh: bool = False,
        duplicate_deliveries: int = 1,
        extra_objects: Path | None = None,
    ) -> None:
        if not scripts:
            raise DemoError("no conversation scripts to replay")
        self.scripts = scripts
        self.report_path = report_path
        self.out_dir = report_path.parent
        self.console = console or Console()
        self.drain_timeout_s = drain_timeout_s
        self.state_dir = state_dir or self.out_dir / "state"
        self.fresh = fresh
        # Operator/test switches: every SQS batch delivered N times; extra files put under sessions/ first.
        self.duplicate_deliveries = max(1, duplicate_deliveries)
        self.extra_objects = extra_objects
        self.extra_keys: list[str] = []
        self.state_loaded: dict[str, bool] = {}
        self.before: dict[str, Any] = {}
        self.timings: dict[str, float] = {}
        self.init_ms: dict[str, float] = {}

    # -- the run ---------------------------------------------------------------------------------------------

    def run(self) -> DemoResult:
        from local.aws.runner import LambdaRunner
        from local.emulators.amplitude import AmplitudeEmulator
        from local.emulators.salesforce import SalesforceEmulator

        started = time.monotonic()
        self.out_dir.mkdir(parents=True, exist_ok=True)
        progress = Progress(
            SpinnerColumn(),
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
        )
        with ExitStack() as stack_of, progress:
            stack_of.enter_context(loopback_without_proxy())
            step = progress.add_task("Local AWS from template.yaml (moto)", total=1)
            stack = stack_of.enter_context(LocalStack())
            stack_of.enter_context(environment(stack.aws_environment()))
            progress.update(step, completed=1)
            self.timings["stack_s"] = time.monotonic() - started

            salesforce = stack_of.enter_context(SalesforceEmulator())
            amplitude = stack_of.enter_context(AmplitudeEmulator())
            self._load_state(salesforce, amplitude)
            stack_of.callback(self._save_state, salesforce, amplitude)
            self._create_secrets(stack, salesforce, amplitude)

            calls = {source.function.logical_id: 0 for source in stack.event_sources()}
            tasks = {name: progress.add_task(f"λ {name}: records processed", total=None, start=True) for name in calls}

            def on_invocation(source: Any, records: int, failed: int) -> None:
                progress.advance(tasks[source.function.logical_id], records - failed)

            runner = LambdaRunner(
                stack,
                extra_env=self._local_function_env(salesforce),
                log_dir=self.out_dir / "logs",
                on_invocation=on_invocation,
                deliveries=self.duplicate_deliveries,
                # Each function in its own process, as in Lambda: its own environment, interpreter and timeout.
                isolation="process",
            )
            # Init phases run before the first call (cold starts are reported apart, not inside the latencies).
            runner.start(warm_up=True)
            stack_of.callback(runner.stop)
            self.init_ms = runner.init_ms

            self.extra_keys = self._put_extra_objects(stack)
            replay_started = time.monotonic()
            replay = progress.add_task("Replaying conversations through the agent", total=len(self.scripts))
            outcomes, sink = self._replay(stack, lambda: progress.advance(replay))
            self.timings["replay_s"] = time.monotonic() - replay_started

            drain_started = time.monotonic()
            drain = progress.add_task("Draining queues", total=1)
            try:
                runner.drain(self.drain_timeout_s)
            except Exception as error:
                raise DemoError(str(error)) from error
            progress.update(drain, completed=1)
            self.timings["drain_s"] = time.monotonic() - drain_started

            report = self._build_report(stack, runner, salesforce, amplitude, outcomes, sink)
        self.timings["total_s"] = time.monotonic() - started
        report["timings_s"] = {key: round(value, 2) for key, value in self.timings.items()}
        problems = check_report(report)
        report["problems"] = problems
        self.report_path.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
        html_path = self._write_html(report)
        return DemoResult(report=report, report_path=self.report_path, html_path=html_path, problems=problems)

    # -- emulator state kept between runs -----------------------------------------------------------------------

    def _state_files(self) -> dict[str, Path]:
        return {"salesforce": self.state_dir / "salesforce.json", "amplitude": self.state_dir / "amplitude.json"}

    def _load_state(self, salesforce: Any, amplitude: Any) -> None:
        """The far ends as the previous run left them (unless fresh); notes what was there before this run."""
        for name, path in self._state_files().items():
            if self.fresh:
                path.unlink(missing_ok=True)
            self.state_loaded[name] = path.is_file()
            if path.is_file():
                try:
                    state = json.loads(path.read_text(encoding="utf-8"))
                except ValueError as error:
                    raise DemoError(
                        f"{path} is not readable JSON ({error}); run with --fresh to start clean"
                    ) from error
                (salesforce if name == "salesforce" else amplitude).load_state(state)
        self.before = {
            "Lead": {record["Id"] for record in salesforce.records("Lead")},
            "Task": {record["Id"] for record in salesforce.records("Task")},
            "amplitude_events": len(amplitude.events),
        }

    def _save_state(self, salesforce: Any, amplitude: Any) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        for name, path in self._state_files().items():
            state = (salesforce if name == "salesforce" else amplitude).export_state()
            temporary = path.with_suffix(".json.tmp")
            temporary.write_text(json.dumps(state, indent=1, default=str) + "\n", encoding="utf-8")
            temporary.replace(path)

    def _put_extra_objects(self, stack: LocalStack) -> list[str]:
        """`--extra-objects DIR`: each file, as-is, under today's (UTC) sessions/ partition; returns the keys."""
        if self.extra_objects is None:
            return []
        from agent.settings import AgentSettings

        files = sorted(p for p in self.extra_objects.iterdir() if p.is_file() and not p.name.startswith("."))
        if not files:
            raise DemoError(f"no files in {self.extra_objects} (--extra-objects)")
        partition = datetime.now(UTC).strftime(f"{AgentSettings.from_env().analytics_prefix}/year=%Y/month=%m/day=%d")
        s3, bucket = stack.client("s3"), stack.output("SessionsBucketName")
        keys = []
        for path in files:
            key = f"{partition}/{path.name}"
            s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
            keys.append(key)
        return keys

    @staticmethod
    def _local_function_env(salesforce: Any) -> dict[str, str]:
        """What the functions get locally on top of their template environment. The ONE place for such additions."""
        return {
            # Trust the emulator's self-signed certificate (the setting exists for exactly this; unset in AWS).
            "SALESFORCE_CA_BUNDLE": salesforce.ca_bundle,
            # No X-Ray daemon here.
            "POWERTOOLS_TRACE_DISABLED": "true",
        }

    @staticmethod
    def _create_secrets(stack: LocalStack, salesforce: Any, amplitude: Any) -> None:
        """The template names the secrets (parameters) but does not create them; locally they point at the
        emulators. Their names are read from the functions' environments, as the handlers read them."""
        values = {"SALESFORCE_SECRET_NAME": salesforce.secret(), "AMPLITUDE_SECRET_NAME": amplitude.secret()}
        secrets: dict[str, dict[str, Any]] = {}
        for spec in stack.functions().values():
            for variable, value in values.items():
                if variable in spec.environment:
                    secrets[spec.environment[variable]] = value
        stack.create_secrets(secrets)

    def _replay(self, stack: LocalStack, advance: Callable[[], None]) -> tuple[list[Any], _TimedSink]:
        """Each script through the real AgentSession, exported by the real exporter to the stack's bucket."""
        from agent.exporter import Exporter, s3_sink_from_settings
        from agent.scripted_llm import ConversationScript
        from agent.settings import AgentSettings
        from agent.simulate import run_script

        # The agent's own settings; the endpoint is the stack's (aws_environment() is applied).
        settings = AgentSettings.from_env()
        sink = _TimedSink(s3_sink_from_settings(settings, bucket=stack.output("SessionsBucketName")))
        spool_dir = self.out_dir / "spool"
        exporter = Exporter(
            sink, spool_dir=spool_dir, budget_s=settings.export_budget_s, prefix=settings.analytics_prefix
        )

        async def replay_all() -> list[Any]:
            outcomes = []
            for path in self.scripts:
                outcome = await run_script(ConversationScript.load(path), exporter, settings=settings)
                outcomes.append((path, outcome))
                advance()
            return outcomes

        return asyncio.run(replay_all()), sink

    # -- the report ------------------------------------------------------------------------------------------

    def _build_report(
        self, stack: LocalStack, runner: Any, salesforce: Any, amplitude: Any, outcomes: list[Any], sink: _TimedSink
    ) -> dict[str, Any]:
        from functions.common.settings import SalesforceSyncSettings, ScoreLeadSettings

        score_settings = ScoreLeadSettings()
        sf_settings = SalesforceSyncSettings()
        bucket = stack.output("SessionsBucketName")
        s3 = stack.client("s3")

        # Replay outcomes, by session id.
        exports: dict[str, Any] = {}
        replayed_ids: list[str] = []
        for _path, outcome in outcomes:
            session_id = outcome.collector.session_id
            replayed_ids.append(session_id)
            previous = exports.get(session_id)
            if previous is None or previous.status == "spooled":
                exports[session_id] = outcome.export
        exported = {sid: export for sid, export in exports.items() if export.status != "spooled"}
        stored_at = {sid: sink.stored_at.get(export.key) for sid, export in exported.items()}

        # Records downloaded for DuckDB: build/demo/sessions/... and build/demo/scored/..., like the bucket.
        sessions_prefix = score_settings.sessions_prefix.rstrip("/")
        scored_prefix = score_settings.scored_prefix.rstrip("/")
        for prefix in (sessions_prefix, scored_prefix):
            shutil.rmtree(self.out_dir / prefix, ignore_errors=True)
        records = self._download(s3, bucket, sessions_prefix)
        scored = self._download(s3, bucket, scored_prefix)
        scored_keys = self._keys(s3, bucket, scored_prefix)
        quarantined = [
            key for key in self._keys(s3, bucket, score_settings.quarantine_prefix) if not key.endswith(".reason.json")
        ]

        emails = self._read_emails(stack)
        hot_topic = self._hot_lead_topic(stack)
        alerts = [email for email in emails if email["topic_arn"] == hot_topic]
        alerted_at: dict[str, float] = {}
        for email in alerts:
            if email["session_id"]:
                alerted_at.setdefault(email["session_id"], email["received_at"])

        tasks = salesforce.records("Task")
        leads = salesforce.records("Lead")
        task_key = sf_settings.salesforce_task_key_field
        task_by_session = {task[task_key]: task for task in tasks if task.get(task_key)}

        dlq_depths = self._dlq_depths(stack)
        sessions = []
        alert_latency, salesforce_latency = [], []
        for session_id in sorted(scored):
            record = scored[session_id]
            scoring = record.get("scoring") or {}
            task = task_by_session.get(session_id)
            raw = records.get(session_id, record)
            sent = stored_at.get(session_id)
            to_alert = to_sf = None
            if sent is not None and session_id in alerted_at:
                to_alert = (alerted_at[session_id] - sent) * 1000
                alert_latency.append(to_alert)
            # When this run wrote the Task: created now, or (a Task kept from an earlier run) its last upsert.
            written_field = "LastModifiedDate" if task and task["Id"] in self.before.get("Task", ()) else "CreatedDate"
            task_written = _salesforce_time(task.get(written_field)) if task else None
            if sent is not None and task_written is not None and task_written >= sent:
                to_sf = (task_written - sent) * 1000
                salesforce_latency.append(to_sf)
            sessions.append(
                {
                    "session_id": session_id,
                    "score": scoring.get("score"),
                    "grade": scoring.get("grade"),
                    "hot": bool(scoring.get("hot")),
                    "salesforce_lead_id": task.get("WhoId") if task else None,
                    "alerted": session_id in alerted_at,
                    # Extras for the HTML report and for reading the console table.
                    "reasons": scoring.get("reasons", []),
                    "started_at": raw.get("started_at"),
                    "duration_s": raw.get("duration_s"),
                    "end_reason": raw.get("end_reason"),
                    "meeting_booked": any(
                        call.get("name") == "book_sales_meeting" and call.get("success")
                        for call in raw.get("tool_calls") or []
                    ),
                    "signals": {
                        name: value
                        for name, value in (raw.get("signals") or {}).items()
                        if name != "evidence" and value not in (None, [], "")
                    },
                    "tool_calls": [
                        {
                            "name": call.get("name"),
                            "success": call.get("success"),
                            "duration_ms": call.get("duration_ms"),
                        }
                        for call in raw.get("tool_calls") or []
                    ],
                    "latency_ms": {
                        "to_alert": round(to_alert, 1) if to_alert is not None else None,
                        "to_salesforce": round(to_sf, 1) if to_sf is not None else None,
                    },
                }
            )

        from local.demo.queries import QueryError, run_queries

        try:  # the template's named Athena queries, as `voice-analytics query --preset all` runs them
            queries = [result.as_dict() for result in run_queries(self.out_dir, as_of="latest")]
        except QueryError as error:
            raise DemoError(str(error)) from error
        hot_ids = sorted(entry["session_id"] for entry in sessions if entry["hot"])
        return {
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "scripts": [str(path) for path, _ in outcomes],
            "sessions_replayed": len(outcomes),
            "distinct_sessions_replayed": len(set(replayed_ids)),
            "sessions_exported": len(exported),
            "sessions_spooled": sorted(sid for sid, export in exports.items() if export.status == "spooled"),
            "sessions_scored": len(scored),
            "hot_leads": len(hot_ids),
            "hot_session_ids": hot_ids,
            "alerted_session_ids": sorted(alerted_at),
            "unscored_session_ids": sorted(set(exported) - set(scored)),
            "grades": dict(sorted(Counter(str(entry["grade"]) for entry in sessions).items())),
            "salesforce_created_this_run": {
                "leads": sum(1 for lead in leads if lead["Id"] not in self.before["Lead"]),
                "tasks": sum(1 for task in tasks if task["Id"] not in self.before["Task"]),
            },
            "salesforce": {
                "leads": len(leads),
                "tasks": len(tasks),
                "duplicate_task_sessions": sorted(
                    k for k, n in Counter(t.get(task_key) for t in tasks).items() if n > 1
                ),
                "records": {"Lead": leads, "Task": tasks},
            },
            "amplitude_events": len(amplitude.events),
            "amplitude_duplicates_dropped": amplitude.duplicates_dropped,
            "amplitude": {
                "events": len(amplitude.events),
                "stored_this_run": len(amplitude.events) - self.before["amplitude_events"],
                "received": amplitude.received_count,
                "duplicates_dropped": amplitude.duplicates_dropped,
                "event_types": dict(sorted(Counter(e.get("event_type") for e in amplitude.events).items())),
            },
            "sns_alerts": len(alerts),
            "emails": emails,
            "dlq_messages": sum(dlq_depths.values()),
            "dlq_depths": dlq_depths,
            "quarantined": len(quarantined),
            "quarantined_keys": quarantined,
            "quarantined_objects": self._quarantine_reasons(s3, bucket, quarantined, score_settings.quarantine_prefix),
            "duplicate_deliveries": self.duplicate_deliveries,
            "extra_objects": self.extra_keys,
            "extra_objects_scored": sorted(
                key for key in self.extra_keys if key.rsplit("/", 1)[-1] in {k.rsplit("/", 1)[-1] for k in scored_keys}
            ),
            "latency_ms": {
                "session_end_to_alert": percentiles(alert_latency),
                "session_end_to_salesforce": percentiles(salesforce_latency),
            },
            "functions": {
                name: {
                    "invocations": stat.invocations,
                    "records": stat.records,
                    "failed_records": stat.failed_records,
                    "errors": stat.errors,
                    "duration_ms": percentiles(stat.durations_ms),
                    "init_ms": self.init_ms.get(name),
                }
                for name, stat in runner.stats.items()
            },
            "state": {
                "dir": str(self.state_dir),
                "fresh": self.fresh,
                "loaded": self.state_loaded,
            },
            "stack": {
                "template": str(stack.template_path),
                "endpoint": stack.endpoint_url,
                "skipped_resources": stack.skipped_resources,
            },
            "queries": queries,
            "sessions": sessions,
        }

    @staticmethod
    def _quarantine_reasons(s3: Any, bucket: str, keys: list[str], prefix: str) -> list[dict[str, str]]:
        """{key (the original sessions/ key), quarantine_key, reason} of each quarantined object, from its sidecar."""
        found = []
        for key in keys:
            try:
                sidecar = json.loads(s3.get_object(Bucket=bucket, Key=f"{key}.reason.json")["Body"].read())
                reason = str(sidecar.get("reason", ""))
            except Exception as error:  # a missing or unreadable sidecar is reported, not fatal
                reason = f"(no readable reason sidecar: {error})"
            found.append({"key": key.removeprefix(prefix.rstrip("/") + "/"), "quarantine_key": key, "reason": reason})
        return found

    def _keys(self, s3: Any, bucket: str, prefix: str) -> list[str]:
        keys: list[str] = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix.rstrip("/") + "/"):
            keys.extend(item["Key"] for item in page.get("Contents", []))
        return keys

    def _download(self, s3: Any, bucket: str, prefix: str) -> dict[str, dict[str, Any]]:
        """Download every record under `prefix` to out_dir (same layout); returns them by session id."""
        found: dict[str, dict[str, Any]] = {}
        for key in self._keys(s3, bucket, prefix):
            if not key.endswith(".json.gz"):
                continue
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            try:
                record = _read_ndjson_gz(body)
            except (OSError, EOFError, ValueError):
                continue  # not a record (score_lead quarantined it): kept out of the DuckDB folder too
            target = self.out_dir / key
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(body)
            found[str(record.get("session_id"))] = record
        return found

    @staticmethod
    def _read_emails(stack: LocalStack) -> list[dict[str, Any]]:
        """Every SNS message delivered to the email outbox, as the email it would be."""
        sqs = stack.client("sqs")
        emails: list[dict[str, Any]] = []
        recipients = ", ".join(sorted(set(stack.email_subscriptions.values())))
        while True:
            messages = sqs.receive_message(
                QueueUrl=stack.alerts_queue_url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=0,
                MessageSystemAttributeNames=["SentTimestamp"],
            ).get("Messages", [])
            if not messages:
                break
            for message in messages:
                envelope = json.loads(message["Body"])
                emails.append(
                    {
                        "from": SNS_SENDER,
                        "to": recipients,
                        "subject": envelope.get("Subject") or "",
                        "body": envelope.get("Message") or "",
                        "topic_arn": envelope.get("TopicArn"),
                        "session_id": _session_line(envelope.get("Message") or ""),
                        "received_at": int(message["Attributes"]["SentTimestamp"]) / 1000,
                    }
                )
            sqs.delete_message_batch(
                QueueUrl=stack.alerts_queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )
        return sorted(emails, key=lambda email: email["received_at"])

    @staticmethod
    def _hot_lead_topic(stack: LocalStack) -> str | None:
        """The topic the alert function publishes to, read from its environment (as the handler reads it)."""
        for spec in stack.functions().values():
            if "HOT_LEAD_TOPIC_ARN" in spec.environment:
                return spec.environment["HOT_LEAD_TOPIC_ARN"]
        return None

    @staticmethod
    def _dlq_depths(stack: LocalStack) -> dict[str, int]:
        sqs = stack.client("sqs")
        depths = {}
        for logical, url in stack.dead_letter_queues().items():
            attributes = sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
            )["Attributes"]
            depths[logical] = sum(int(value) for value in attributes.values())
        return depths

    def _write_html(self, report: dict[str, Any]) -> Path | None:
        if importlib.util.find_spec("local.demo.report_html") is None:
            self.console.print("[yellow]local/report_html.py is not there yet: report.html skipped[/yellow]")
            return None
        render = importlib.import_module("local.demo.report_html").render_report_html
        path = self.report_path.with_suffix(".html")
        path.write_text(render(report), encoding="utf-8")
        return path


def check_report(report: dict[str, Any]) -> list[str]:
    """Everything that makes a report inconsistent, in words; empty when the run was clean."""
    problems = []
    if report["sessions_spooled"]:
        problems.append(f"sessions spooled instead of exported: {report['sessions_spooled']}")
    if report["sessions_exported"] != report["distinct_sessions_replayed"]:
        problems.append(
            f"sessions_exported ({report['sessions_exported']}) != distinct sessions replayed "
            f"({report['distinct_sessions_replayed']})"
        )
    extra_keys = set(report.get("extra_objects", []))
    extra_scored = len(report.get("extra_objects_scored", []))
    if report["sessions_scored"] != report["sessions_exported"] + extra_scored:
        problems.append(
            f"sessions_scored ({report['sessions_scored']}) != sessions_exported ({report['sessions_exported']}); "
            f"not scored: {report['unscored_session_ids']}"
        )
    if report["hot_session_ids"] != report["alerted_session_ids"] or report["sns_alerts"] != report["hot_leads"]:
        problems.append(
            f"alerts do not match hot leads: {report['sns_alerts']} alerts for {report['hot_leads']} hot leads "
            f"(hot, not alerted: {sorted(set(report['hot_session_ids']) - set(report['alerted_session_ids']))}; "
            f"alerted, not hot: {sorted(set(report['alerted_session_ids']) - set(report['hot_session_ids']))})"
        )
    if report["dlq_messages"]:
        problems.append(f"messages in dead-letter queues: {report['dlq_depths']}")
    quarantined = report.get("quarantined_objects") or [{"key": key} for key in report["quarantined_keys"]]
    # Objects put with --extra-objects are expected in quarantine (or scored, when valid); anything else is not.
    unexpected = [item["key"] for item in quarantined if item["key"] not in extra_keys]
    if unexpected:
        problems.append(f"session objects quarantined: {unexpected}")
    unaccounted = extra_keys - {item["key"] for item in quarantined} - set(report.get("extra_objects_scored", []))
    if unaccounted:
        problems.append(f"extra objects neither quarantined nor scored: {sorted(unaccounted)}")
    if report["salesforce"]["duplicate_task_sessions"]:
        problems.append(f"several Salesforce Tasks for one session: {report['salesforce']['duplicate_task_sessions']}")
    if report["sessions_scored"] and not report["amplitude_events"]:
        problems.append("no Amplitude event was stored")
    failing = {name: stat["errors"] for name, stat in report["functions"].items() if stat["errors"]}
    if failing:
        problems.append(f"handlers raised (batches retried): {failing}")
    return problems


# ---------------------------------------------------------------------------------------------------- console


def print_report(console: Console, result: DemoResult) -> None:
    report = result.report
    summary = Table(title="voice-analytics demo", show_header=False, title_style="bold")
    summary.add_column("what", style="bold")
    summary.add_column("value", justify="right")
    latency = report["latency_ms"]
    rows = [
        ("conversations replayed", report["sessions_replayed"]),
        ("sessions exported to S3", report["sessions_exported"]),
        ("sessions scored", report["sessions_scored"]),
        ("grades", ", ".join(f"{grade}: {count}" for grade, count in report["grades"].items())),
        ("hot leads", report["hot_leads"]),
        (
            "Salesforce Leads / Tasks (created this run)",
            f"{report['salesforce']['leads']} / {report['salesforce']['tasks']} "
            f"({report['salesforce_created_this_run']['leads']} / {report['salesforce_created_this_run']['tasks']})",
        ),
        (
            "Amplitude events (duplicates dropped)",
            f"{report['amplitude_events']} ({report['amplitude_duplicates_dropped']})",
        ),
        ("hot-lead alert emails (SNS)", report["sns_alerts"]),
        ("messages in DLQs", report["dlq_messages"]),
        ("quarantined objects", report["quarantined"]),
        (
            "session stored -> alert p50 / p95 (ms)",
            f"{latency['session_end_to_alert']['p50']} / {latency['session_end_to_alert']['p95']}",
        ),
        (
            "session stored -> Salesforce p50 / p95 (ms)",
            f"{latency['session_end_to_salesforce']['p50']} / {latency['session_end_to_salesforce']['p95']}",
        ),
        ("wall time (s)", report["timings_s"]["total_s"]),
    ]
    for name, value in rows:
        summary.add_row(name, str(value))

    sessions = Table(title="Sessions (by score)", title_style="bold")
    for column in ("session", "score", "grade", "hot", "meeting", "Salesforce Lead", "alerted"):
        sessions.add_column(column)
    for entry in sorted(report["sessions"], key=lambda item: -(item["score"] or 0)):
        sessions.add_row(
            entry["session_id"],
            str(entry["score"]),
            str(entry["grade"]),
            "[red]hot[/red]" if entry["hot"] else "",
            "booked" if entry["meeting_booked"] else "",
            entry["salesforce_lead_id"] or "-",
            "yes" if entry["alerted"] else "",
        )
    console.print(sessions)

    emails = [email for email in report["emails"] if email["session_id"]]
    for email in emails[:EMAILS_SHOWN_IN_FULL]:
        header = Text.assemble(
            ("From: ", "bold"), email["from"], "\n", ("To: ", "bold"), email["to"], "\n",
            ("Subject: ", "bold"), email["subject"], "\n",
        )  # fmt: skip
        console.print(Panel(Group(header, Text(email["body"])), title="alert email", expand=False))
    if len(emails) > EMAILS_SHOWN_IN_FULL:
        console.print(f"... and {len(emails) - EMAILS_SHOWN_IN_FULL} more alert emails (all in the report):")
        for email in emails[EMAILS_SHOWN_IN_FULL:]:
            console.print(f"  Subject: {email['subject']}")

    from local.demo.queries import CONSOLE_ROWS, print_results

    print_results(console, report["queries"], max_rows=CONSOLE_ROWS)

    console.print(summary)
    console.print(f"Report: {result.report_path}" + (f" and {result.html_path}" if result.html_path else ""))
    state = report.get("state") or {}
    if state:
        kept = (
            "started clean (--fresh)"
            if state.get("fresh")
            else ("continued from the previous run" if any(state.get("loaded", {}).values()) else "first run")
        )
        console.print(f"Salesforce and Amplitude emulator records: {kept}; kept in {state.get('dir')}/")
    if report.get("quarantined_objects"):
        console.print(f"Quarantined ({len(report['quarantined_objects'])}), with the reason from each .reason.json:")
        for item in report["quarantined_objects"]:
            console.print(f"  {item['key']}: {item['reason']}", markup=False)
    if result.problems:
        console.print(Panel("\n".join(f"- {problem}" for problem in result.problems), title="[red]inconsistent"))
    else:
        console.print("[green]Consistent: every session exported and scored, one alert per hot lead, DLQs empty.")
