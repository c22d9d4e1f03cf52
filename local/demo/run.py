"""`voice-analytics demo`: the whole system on this machine, ending in a report.

1. `LocalStack` brings up moto from template.yaml; the Salesforce and Amplitude emulators start on loopback and
   the two secrets the template names are created pointing at them.
2. `LambdaRunner` polls every SQS event source of the template and invokes the real handlers.
3. Every conversation script is replayed through the real agent exactly as `voice-analytics simulate` does
   (`agent.simulate.run_script`), exporting with the real exporter to the stack's bucket.
4. The runner drains every queue (or the demo fails naming the stuck queue), then the report is built from what
   the far ends hold: scored/ objects in S3, the emulators' records, the SNS emails read back through an SQS
   outbox, DLQ depths, quarantine/ objects; DuckDB runs the example queries over the downloaded records.
5. `build/demo/report.json` and `report.html` (local/demo/report.py, report_html.py) are written; any inconsistency
   (a session not exported or not scored, alerts != hot or cancel-intent calls or without their types, anything in a
   DLQ or quarantine, duplicates) is listed and makes the demo fail.
6. The emulators' records (Salesforce Leads and Tasks, Amplitude events) are kept between runs in
   `<report dir>/state/` (`salesforce.json`, `amplitude.json`): loaded at the start, saved at the end, like the
   real far ends that outlive a run (`fresh=True` / `--fresh` starts clean). moto starts empty every run, so the
   idempotency table is empty too: a second run re-delivers everything, and only the Salesforce upsert by
   external id and Amplitude's insert_id deduplication keep it from creating duplicates (the report shows
   `salesforce_created_this_run` and `amplitude_duplicates_dropped`).
"""

from __future__ import annotations

import asyncio
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

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from local.aws.stack import REPO_ROOT, LocalStack
from local.demo.report import (
    ALERT_TYPES,
    check_report,
    dlq_depths,
    download_records,
    hot_lead_topic,
    insights_digest,
    object_keys,
    percentiles,
    quarantine_reasons,
    read_emails,
    salesforce_time,
)
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
        emulators. Their names are read from the functions' environments, as the handlers read them. Salesforce:
        the client-credentials flow, the one docs/backend.md recommends."""
        values = {
            "SALESFORCE_SECRET_NAME": salesforce.secret("client_credentials"),
            "AMPLITUDE_SECRET_NAME": amplitude.secret(),
        }
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
        # Every table's folder, the compacted ones too: an earlier run's `voice-analytics compact` output would be
        # read in place of this run's records.
        from local.demo.queries import athena_tables

        for table in athena_tables().values():
            if table.prefix:
                shutil.rmtree(self.out_dir / table.prefix, ignore_errors=True)
        records = download_records(s3, bucket, sessions_prefix, self.out_dir)
        scored = download_records(s3, bucket, scored_prefix, self.out_dir)
        scored_keys = object_keys(s3, bucket, scored_prefix)
        quarantined = [
            key for key in object_keys(s3, bucket, score_settings.quarantine_prefix) if not key.endswith(".reason.json")
        ]

        emails = read_emails(stack)
        hot_topic = hot_lead_topic(stack)
        alerts = [email for email in emails if email["topic_arn"] == hot_topic]
        alerted_at: dict[str, float] = {}
        alert_types: dict[str, list[str]] = {}
        for email in alerts:
            if email["session_id"]:
                alerted_at.setdefault(email["session_id"], email["received_at"])
                alert_types.setdefault(email["session_id"], email["alert_types"])

        tasks = salesforce.records("Task")
        leads = salesforce.records("Lead")
        task_key = sf_settings.salesforce_task_key_field
        task_by_session = {task[task_key]: task for task in tasks if task.get(task_key)}

        depths = dlq_depths(stack)
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
            task_written = salesforce_time(task.get(written_field)) if task else None
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
                    "alert_types": alert_types.get(session_id, []),
                    "insights": insights_digest(record),
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
        cancel_ids = sorted(e["session_id"] for e in sessions if e["insights"] and e["insights"]["cancel_intent"])
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
            "cancel_intent_session_ids": cancel_ids,
            "alerted_session_ids": sorted(alerted_at),
            # Per type: the sessions whose alert carries it (hot_lead_alert's `alert_type` attribute).
            "alerted_session_ids_by_type": {
                kind: sorted(sid for sid, types in alert_types.items() if kind in types) for kind in ALERT_TYPES
            },
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
            "alerts_by_type": {kind: sum(kind in email["alert_types"] for email in alerts) for kind in ALERT_TYPES},
            "alerts_without_type": [e["session_id"] for e in alerts if not set(e["alert_types"]) & set(ALERT_TYPES)],
            "emails": emails,
            "dlq_messages": sum(depths.values()),
            "dlq_depths": depths,
            "quarantined": len(quarantined),
            "quarantined_keys": quarantined,
            "quarantined_objects": quarantine_reasons(s3, bucket, quarantined, score_settings.quarantine_prefix),
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

    def _write_html(self, report: dict[str, Any]) -> Path:
        from local.demo.report_html import render_report_html  # matplotlib: imported only when a report is drawn

        path = self.report_path.with_suffix(".html")
        path.write_text(render_report_html(report), encoding="utf-8")
        return path
