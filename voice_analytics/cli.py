"""The `voice-analytics` command line. Each subcommand imports only what it needs, inside its own body."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    name="voice-analytics",
    help="Analytics and lead routing for the LiveKit voice agent.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def main() -> None:
    """Analytics and lead routing for the LiveKit voice agent."""
    from functions.common.redaction import install_log_masking

    # Every command may log S3 keys, queue messages or Salesforce errors: mask personal data in every log line.
    install_log_masking()


@app.command()
def signals() -> None:
    """Read one utterance per line on stdin; write one JSON object of detected signals per line on stdout."""
    import json

    from agent.signals import detect

    for line in sys.stdin:
        found = detect(line.rstrip("\n"))
        sys.stdout.write(json.dumps(found.as_output()) + "\n")
        sys.stdout.flush()


_OutOption = Annotated[Path | None, typer.Option("--out", help="Write records under this folder, laid out like S3.")]
_BucketOption = Annotated[
    str | None,
    typer.Option("--bucket", help="Bucket to put records to (default: ANALYTICS_BUCKET; AWS_ENDPOINT_URL honoured)."),
]
_VerboseOption = Annotated[bool, typer.Option("--verbose", "-v", help="Log the agent's and LiveKit's INFO messages.")]
_SpoolDirOption = Annotated[
    Path | None, typer.Option("--spool-dir", help="Spool folder (default: ANALYTICS_SPOOL_DIR).")
]


def _simulation_logging(verbose: bool) -> None:
    import logging

    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    if not verbose:
        # LiveKit logs every session start and stop at INFO; a simulation only needs warnings.
        logging.getLogger("livekit").setLevel(logging.WARNING)


@app.command()
def simulate(
    scripts: Annotated[list[Path], typer.Argument(help="Conversation scripts (JSON), or folders of them.")],
    out: Annotated[
        Path | None, typer.Option("--out", help="Write records under this folder, laid out like the bucket.")
    ] = None,
    bucket: Annotated[
        str | None, typer.Option("--bucket", help="Put records to this bucket (AWS_ENDPOINT_URL honoured).")
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log the agent's and LiveKit's INFO messages.")
    ] = False,
) -> None:
    """Run conversation scripts through the real agent in text mode and export one session record each."""
    import json

    from agent.exporter import DirectorySink, Exporter, RecordSink, s3_sink_from_settings
    from agent.settings import AgentSettings
    from agent.simulate import run
    from functions.common.record import RecordInvalidError

    _simulation_logging(verbose)
    if (out is None) == (bucket is None):
        raise typer.BadParameter("give exactly one of --out DIR or --bucket NAME")
    settings = AgentSettings.from_env()
    # With --bucket: your credentials, not the agent's; reading lets a repeated run recognise its own record.
    sink: RecordSink = (
        DirectorySink(out) if out is not None else s3_sink_from_settings(settings, bucket=bucket, read_existing=True)
    )
    exporter = Exporter(
        sink, spool_dir=settings.spool_dir, budget_s=settings.export_budget_s, prefix=settings.analytics_prefix
    )
    paths: list[Path] = []
    for item in scripts:
        paths.extend(sorted(item.glob("*.json")) if item.is_dir() else [item])
    if not paths:
        raise typer.BadParameter("no conversation scripts found")
    try:
        results = run(paths, exporter, settings)
    except RecordInvalidError as error:
        sys.stderr.write(f"{error}\n")
        raise typer.Exit(2) from error
    for path, result in zip(paths, results, strict=True):
        sys.stdout.write(
            json.dumps({"script": str(path), "status": result.status, "key": result.key, "location": result.location})
            + "\n"
        )
    if any(result.status == "spooled" for result in results):
        raise typer.Exit(1)


# What the local stack, its emulators and the demo report need beyond the runtime set: the `dev` dependency group.
LOCAL_STACK_PACKAGES = {
    "moto": "moto[server]",
    "samtranslator": "aws-sam-translator",
    "cryptography": "cryptography",
    "matplotlib": "matplotlib",
}


def _require_local_stack(command: str) -> None:
    """Exit with what to install when the local stack's packages are missing (an install without the dev group)."""
    from importlib.util import find_spec

    missing = [package for module, package in LOCAL_STACK_PACKAGES.items() if find_spec(module) is None]
    if missing:
        sys.stderr.write(
            f"error: `voice-analytics {command}` runs the local stack, which needs {', '.join(missing)}: these are in "
            "the project's dev dependency group; install it with `uv sync` (not `uv sync --no-dev`) or `make demo`\n"
        )
        raise typer.Exit(2)


@app.command()
def demo(
    conversations: Annotated[
        Path | None,
        typer.Option("--conversations", help="Folder of conversation scripts (default: conversations/)."),
    ] = None,
    report: Annotated[
        Path, typer.Option("--report", help="Where to write the JSON report (report.html goes beside it).")
    ] = Path("build/demo/report.json"),
    drain_timeout: Annotated[
        float, typer.Option("--drain-timeout", help="Seconds to wait for every queue to drain.")
    ] = 90.0,
    fresh: Annotated[
        bool,
        typer.Option("--fresh", help="Forget the emulators' records kept from earlier runs (<report dir>/state/)."),
    ] = False,
    duplicate_deliveries: Annotated[
        int,
        typer.Option("--duplicate-deliveries", min=1, help="Deliver every SQS batch N times (at-least-once drill)."),
    ] = 1,
    extra_objects: Annotated[
        Path | None,
        typer.Option(
            "--extra-objects", help="Put each file of this folder as-is under today's sessions/ partition first."
        ),
    ] = None,
) -> None:
    """Run the whole system here (moto from template.yaml, emulators, real agent and handlers) and report."""
    import logging

    from rich.console import Console

    _require_local_stack("demo")
    from local.demo.report import print_report
    from local.demo.run import Demo, DemoError, find_scripts

    console = Console()
    log_dir = report.parent / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    # Logs (moto's request log, the agent's tool warnings, LiveKit) go to a file; the console shows the report.
    handler = logging.FileHandler(log_dir / "demo.log", mode="w", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("local").setLevel(logging.INFO)
    try:
        scripts = find_scripts(conversations)
        console.print(f"Replaying {len(scripts)} conversation scripts; logs in {log_dir}/")
        result = Demo(
            scripts,
            report,
            console=console,
            drain_timeout_s=drain_timeout,
            fresh=fresh,
            duplicate_deliveries=duplicate_deliveries,
            extra_objects=extra_objects,
        ).run()
    except DemoError as error:
        console.print(f"[red]demo failed:[/red] {error}")
        raise typer.Exit(1) from error
    print_report(console, result)
    if result.problems:
        raise typer.Exit(1)


@app.command()
def query(
    sql: Annotated[
        str | None,
        typer.Argument(help="SQL over the views `sessions` and `scored` (DuckDB; Athena SQL is translated)."),
    ] = None,
    preset: Annotated[
        list[str] | None,
        typer.Option(
            "--preset", "-p", help="A named query of template.yaml (name, slug or logical id; repeatable; 'all')."
        ),
    ] = None,
    list_presets: Annotated[bool, typer.Option("--list-presets", help="List the template's named queries.")] = False,
    directory: Annotated[
        Path | None,
        typer.Option("--dir", help="Folder laid out like the bucket (default: build/demo, what demo writes)."),
    ] = None,
    bucket: Annotated[
        str | None,
        typer.Option("--bucket", help="Download sessions/, scored/ and compacted/ from this bucket instead."),
    ] = None,
    endpoint: Annotated[
        str | None,
        typer.Option("--endpoint", help="S3 endpoint for --bucket, e.g. a local moto (default: AWS_ENDPOINT_URL)."),
    ] = None,
    as_of: Annotated[
        datetime | None, typer.Option("--as-of", formats=["%Y-%m-%d"], help="Evaluate current_date as this day.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """DuckDB over the session records, as the Athena views `sessions` and `scored` (columns from template.yaml):
    compacted days from their Parquet files, the other days from the raw objects."""
    from local.demo.queries import QueryError, run_query_command

    try:
        code = run_query_command(
            sql,
            preset or [],
            list_presets=list_presets,
            directory=directory,
            bucket=bucket,
            endpoint=endpoint,
            as_of=as_of.date() if as_of else None,
            as_json=as_json,
        )
    except QueryError as error:
        sys.stderr.write(f"error: {error}\n")
        raise typer.Exit(1) from error
    if code:
        raise typer.Exit(code)


@app.command()
def compact(
    day: Annotated[
        datetime | None,
        typer.Option("--day", formats=["%Y-%m-%d"], help="Compact this day (UTC), finished or not."),
    ] = None,
    all_days: Annotated[
        bool,
        typer.Option("--all", help="Every day, today's too (later arrivals are folded in by the next run)."),
    ] = False,
    lookback: Annotated[
        int | None,
        typer.Option("--lookback", min=1, help="Only the finished days of the last N days, as the daily run does."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Rewrite days that are up to date too.")] = False,
    directory: Annotated[
        Path | None,
        typer.Option("--dir", help="Folder laid out like the bucket (default: build/demo, what demo writes)."),
    ] = None,
    bucket: Annotated[str | None, typer.Option("--bucket", help="Compact this bucket instead.")] = None,
    endpoint: Annotated[
        str | None,
        typer.Option("--endpoint", help="S3 endpoint for --bucket, e.g. a local moto (default: AWS_ENDPOINT_URL)."),
    ] = None,
    objects_per_file: Annotated[
        int | None, typer.Option("--objects-per-file", min=1, help="Raw objects per Parquet file (default 50,000).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Rewrite days of sessions/ and scored/ as Parquet under compacted/ (by default every finished day, as the daily
    function does); `query` then reads those days from Parquet and the others from the raw objects, same answers."""
    from voice_analytics.compaction import CompactCommandError, run_compact_command

    try:
        code = run_compact_command(
            day=day.date() if day else None,
            all_days=all_days,
            lookback_days=lookback,
            force=force,
            directory=directory,
            bucket=bucket,
            endpoint=endpoint,
            objects_per_file=objects_per_file,
            as_json=as_json,
        )
    except CompactCommandError as error:
        sys.stderr.write(f"error: {error}\n")
        raise typer.Exit(1) from error
    if code:
        raise typer.Exit(code)


spool_app = typer.Typer(help="Session records spooled to disk because S3 could not be reached.", no_args_is_help=True)
app.add_typer(spool_app, name="spool")


@spool_app.command("flush")
def spool_flush(
    bucket: Annotated[
        str | None, typer.Option("--bucket", help="Bucket to upload to (default: ANALYTICS_BUCKET).")
    ] = None,
    spool_dir: Annotated[
        Path | None, typer.Option("--spool-dir", help="Spool folder (default: ANALYTICS_SPOOL_DIR).")
    ] = None,
) -> None:
    """Upload every spooled record with a conditional put; each is deleted once stored (or already there).

    A spooled record whose key holds a different record is stored beside it as `<session_id>.dup-<hash>.json.gz`
    (listed under "collisions"); nothing is overwritten or dropped."""
    import json
    import logging

    from agent.exporter import flush_spool, s3_sink_from_settings
    from agent.settings import AgentSettings

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    settings = AgentSettings.from_env()
    # The operator's credentials can read records (the agent's cannot): a spooled record already in the bucket is
    # then recognised by its bytes instead of being stored again as a collision copy.
    sink = s3_sink_from_settings(settings, bucket=bucket or settings.analytics_bucket, read_existing=True)
    report = flush_spool(sink, spool_dir or settings.spool_dir)
    sys.stdout.write(json.dumps(report.as_dict()) + "\n")
    if report.failed:
        raise typer.Exit(1)


@spool_app.command("list")
def spool_list(
    spool_dir: Annotated[
        Path | None, typer.Option("--spool-dir", help="Spool folder (default: ANALYTICS_SPOOL_DIR).")
    ] = None,
) -> None:
    """Print the S3 key of every record waiting in the spool, one per line."""
    from agent.exporter import spooled_keys
    from agent.settings import AgentSettings

    for key in spooled_keys(spool_dir or AgentSettings.from_env().spool_dir):
        sys.stdout.write(key + "\n")


@app.command()
def cost(
    sessions_per_day: Annotated[
        list[int], typer.Option("--sessions-per-day", "-n", help="Sessions a day; repeatable.")
    ],
    free_tier: Annotated[
        bool, typer.Option(help="Show only the figures with AWS's always-free allowances (default: both bases).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Modelled AWS cost per month at list price and with AWS's always-free allowances, beside the reference design."""
    import json
    from pathlib import Path

    from rich.console import Console
    from rich.table import Table

    from voice_analytics.cost import (
        BASIS_ALWAYS_FREE,
        BASIS_LIST,
        TARGET_MONTHLY_USD,
        TARGET_SESSIONS_PER_DAY,
        assumptions_from_template,
        both_bases,
        load_prices,
        ratio,
        target_verdict,
    )

    root = Path(__file__).resolve().parents[1]
    assumptions = assumptions_from_template(root / "template.yaml", root / "build" / "bench" / "bench.json")
    bases = both_bases(sessions_per_day, assumptions)
    if free_tier:
        del bases["list_price"]
    verdict = target_verdict(assumptions)
    note = load_prices()["always_free_note"]
    if as_json:
        print(json.dumps({**bases, "target": verdict, "always_free_note": note}, indent=2))
        return
    always_free = bases["with_always_free_allowances"]
    list_price = bases.get("list_price")
    first = next(iter(always_free.values()))
    table = Table(title=f"AWS cost per month, {first['region']}, list prices as of {first['prices_as_of']}")
    columns = ["sessions a day"]
    if list_price is not None:
        columns += ["list price per session", "list price fixed", "LIST PRICE TOTAL"]
    columns += ["ALWAYS FREE TOTAL", "reference"]
    if list_price is not None:
        columns += ["ratio to list price"]
    for column in columns:
        table.add_column(column, justify="right")
    for volume, free_figures in always_free.items():
        reference = free_figures["reference_usd"]
        row = [f"{int(volume):,}"]
        if list_price is not None:
            listed = list_price[volume]
            row += [
                f"${listed['variable_total_usd']:,.2f}",
                f"${listed['fixed_total_usd']:,.2f}",
                f"${listed['total_usd']:,.2f}",
            ]
        row += [f"${free_figures['total_usd']:,.2f}", f"${reference:,.2f}" if reference else "-"]
        if list_price is not None:
            row += [f"{ratio(list_price[volume]['total_usd'], reference)}x" if reference else "-"]
        table.add_row(*row)
    console = Console()
    console.print(table)
    for volume, figures in (list_price or always_free).items():
        lines = figures["variable_usd"]
        console.print(
            f"{int(volume):,}/day: ${figures['per_1000_sessions_usd']:.4f} per 1,000 sessions ({figures['basis']}); "
            f"Athena ${lines['athena']:,.2f} and compaction ${lines['compaction']:,.2f}; X-Ray ${lines['xray']:,.2f} "
            f"({figures['xray_tracing']}); Salesforce {figures['salesforce_api_calls_per_session']} API calls a "
            f"session; optional Firehose copy of the session log line "
            f"${figures['optional_usd']['firehose_stream']:,.2f}."
        )

    def met(flag: bool) -> str:
        return "met" if flag else "NOT met"

    console.print(
        f"Target <= ${TARGET_MONTHLY_USD:.2f}/month at {TARGET_SESSIONS_PER_DAY:,} sessions/day: "
        f"{BASIS_LIST} ${verdict['list_price_usd']:,.2f}, {met(verdict['met_at_list_price'])}; "
        f"{BASIS_ALWAYS_FREE} ${verdict['with_always_free_allowances_usd']:,.2f}, "
        f"{met(verdict['met_with_always_free_allowances'])}."
    )
    console.print(
        f"The flow alone ({', '.join(verdict['flow_floor_items'])}) costs "
        f"${verdict['flow_floor_with_always_free_allowances_usd']:,.2f} {BASIS_ALWAYS_FREE}: "
        + (
            "the target is within reach of operating choices (dashboard, alarms, tracing, secrets, queries)."
            if verdict["reachable_without_changing_the_flow"]
            else "no operating choice (no dashboard, alarms, tracing, secrets or queries) reaches the target "
            "without changing the flow itself."
        )
    )
    console.print(f"LIST PRICE TOTAL = {BASIS_LIST}: every request, metric, alarm and dashboard paid for.")
    console.print(f"ALWAYS FREE TOTAL = {BASIS_ALWAYS_FREE}: {note}")
    console.print(
        "reference: the reference design's published figures (list price); ratio: reference / our LIST PRICE TOTAL. "
        "fixed: alarm metrics, dashboard, KMS keys, "
        "Secrets Manager secrets, idle SQS polling by Lambda, failure-only custom metrics. Every line item: --json."
    )


# ---------------------------------------------------------------------------------------------------- operations
# Against AWS, or the local stack when AWS_ENDPOINT_URL is set; names from the stack or explicit options.

_StackNameOption = Annotated[
    str | None,
    typer.Option(
        "--stack-name",
        help="Deployed stack to read names from (default: VOICE_ANALYTICS_STACK_NAME, else voice-analytics-dev).",
    ),
]
_JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


@app.command()
def redrive(
    queue: Annotated[
        str,
        typer.Option(
            "--queue", help="'all', or a queue's logical id, name, URL or ARN (source or DLQ), or part of a name."
        ),
    ] = "all",
    max_messages: Annotated[int | None, typer.Option("--max", min=1, help="Move at most N messages per DLQ.")] = None,
    method: Annotated[
        str,
        typer.Option("--method", help="auto (move task on AWS, else copy), move-task, or copy (receive/send/delete)."),
    ] = "auto",
    stack_name: _StackNameOption = None,
    as_json: _JsonOption = False,
) -> None:
    """Move dead-lettered messages back to their source queue (attributes kept) and print the counts per queue."""
    import json

    from rich.console import Console
    from rich.table import Table

    from voice_analytics.ops import OpsError, default_stack_name, queue_pairs
    from voice_analytics.ops import redrive as redrive_pair

    if method not in ("auto", "move-task", "copy"):
        raise typer.BadParameter("--method must be auto, move-task or copy")
    try:
        if stack_name is None and queue != "all":
            try:
                pairs = queue_pairs(None, queue)
            except OpsError:
                pairs = queue_pairs(default_stack_name(), queue)
        else:
            pairs = queue_pairs(stack_name or default_stack_name(), queue)
        results = [redrive_pair(pair, max_messages=max_messages, method=method) for pair in pairs]  # type: ignore[arg-type]
    except OpsError as error:
        sys.stderr.write(f"error: {error}\n")
        raise typer.Exit(2) from error
    if as_json:
        sys.stdout.write(json.dumps([result.as_dict() for result in results]) + "\n")
    else:
        table = Table(title="DLQ redrive")
        for column in ("queue", "dead-letter queue", "method", "found", "moved", "failed"):
            table.add_column(column, justify="right" if column in ("found", "moved", "failed") else "left")
        for result in results:
            table.add_row(
                result.queue, result.dlq, result.method, str(result.found), str(result.moved), str(result.failed)
            )
        Console().print(table)
    if any(result.failed for result in results):
        raise typer.Exit(1)


@app.command()
def replay(
    since: Annotated[datetime, typer.Option("--since", formats=["%Y-%m-%d"], help="First day (UTC), YYYY-MM-DD.")],
    until: Annotated[
        datetime | None, typer.Option("--until", formats=["%Y-%m-%d"], help="Last day (UTC), inclusive; default today.")
    ] = None,
    mode: Annotated[
        str,
        typer.Option(
            "--mode",
            help="archive: replay the bus archive ('Lead Scored' to the consumers); objects: re-emit 'Object Created' "
            "for sessions/ objects of those days (to score_lead).",
        ),
    ] = "archive",
    stack_name: _StackNameOption = None,
    bucket: Annotated[
        str | None, typer.Option("--bucket", help="Sessions bucket (objects mode; default: from the stack).")
    ] = None,
    bus: Annotated[
        str | None, typer.Option("--bus", help="Event bus name (archive mode; default: from the stack).")
    ] = None,
    archive: Annotated[
        str | None, typer.Option("--archive", help="Archive name (archive mode; default: the bus's).")
    ] = None,
    as_json: _JsonOption = False,
) -> None:
    """Send past events through the pipeline again; idempotency skips sessions already done (15 days)."""
    import json
    from datetime import UTC, time, timedelta

    from rich.console import Console

    from voice_analytics.ops import OpsError, StackView, default_stack_name, replay_archive, replay_objects

    first = since.date()
    last = (until or datetime.now(UTC)).date()
    if last < first:
        raise typer.BadParameter("--until is before --since")
    try:
        view = None
        if (mode == "objects" and bucket is None) or (mode == "archive" and bus is None):
            view = StackView.load(stack_name or default_stack_name())
        if mode == "objects":
            name = bucket or (view.outputs.get("SessionsBucketName") if view else None)
            if not name:
                raise OpsError("no bucket: pass --bucket or deploy the stack (output SessionsBucketName)")
            result = replay_objects(name, first, last)
        elif mode == "archive":
            bus_name = bus or (view.outputs.get("LeadsBusName") if view else None)
            if not bus_name:
                raise OpsError("no event bus: pass --bus or deploy the stack (output LeadsBusName)")
            start = datetime.combine(first, time.min, tzinfo=UTC)
            end = min(datetime.combine(last + timedelta(days=1), time.min, tzinfo=UTC), datetime.now(UTC))
            result = replay_archive(bus_name, start, end, view=view, archive_name=archive)
        else:
            raise typer.BadParameter("--mode must be archive or objects")
    except OpsError as error:
        sys.stderr.write(f"error: {error}\n")
        raise typer.Exit(2) from error
    if as_json:
        sys.stdout.write(json.dumps(result.as_dict()) + "\n")
    else:
        console = Console()
        if result.mode == "objects":
            console.print(
                f"Re-emitted 'Object Created' for {result.replayed} objects ({result.since} .. {result.until}); "
                f"{result.failed} failed."
            )
        else:
            console.print(
                f"Replay {result.replay_name}: {result.state} ({result.since} .. {result.until}; "
                f"archive holds {result.archive_events} events)."
            )
        for error_text in result.errors:
            console.print(f"[red]{error_text}[/red]")
    if result.failed:
        raise typer.Exit(1)


@app.command()
def forget(
    email: Annotated[
        str | None,
        typer.Option(
            "--email", metavar="ADDRESS", help="The person's email address (the contact they gave on a call)."
        ),
    ] = None,
    caller_key: Annotated[
        str | None,
        typer.Option(
            "--caller-key",
            metavar="IDENTITY",
            help="The caller's identity or phone number as the agent saw it; hashed with ANALYTICS_CALLER_SALT.",
        ),
    ] = None,
    caller_key_hash: Annotated[
        str | None,
        typer.Option("--caller-key-hash", metavar="HASH", help="Or the record's caller.key_hash itself (64 hex)."),
    ] = None,
    include_crm: Annotated[
        bool, typer.Option("--include-crm", help="Also delete their Salesforce Lead and the Tasks of their calls.")
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Find and list everything, erase nothing.")] = False,
    stack_name: _StackNameOption = None,
    bucket: Annotated[str | None, typer.Option("--bucket", help="Sessions bucket (default: from the stack).")] = None,
    amplitude_secret: Annotated[
        str | None,
        typer.Option("--amplitude-secret", help="Amplitude secret name (default: the stack's AmplitudeSecretName)."),
    ] = None,
    salesforce_secret: Annotated[
        str | None,
        typer.Option("--salesforce-secret", help="Salesforce secret name (default: the stack's SalesforceSecretName)."),
    ] = None,
    requester: Annotated[
        str, typer.Option("--requester", help="Who asks, recorded by Amplitude with the deletion (an email address).")
    ] = "voice-analytics forget",
    workers: Annotated[int, typer.Option("--workers", min=1, max=64, help="Objects read at once.")] = 16,
    as_json: _JsonOption = False,
) -> None:
    """Erase one person: every object and version of their sessions in the bucket (sessions/, scored/, quarantine/,
    collision copies, their rows in compacted days, rewritten by the compaction), a deletion request for their
    Amplitude user through Amplitude's user-privacy API, and with --include-crm their Salesforce Lead and Tasks.
    Prints each removal; safe to run again (a second run removes nothing and exits 0). Reads every record object
    once: see docs/reliability.md "Erasure" for the cost and for what it cannot reach."""
    import json
    import os

    import boto3
    import httpx

    from functions.common.amplitude import AmplitudeCredentials
    from functions.common.salesforce import SalesforceCallError, SalesforceCredentials, SalesforceGateway
    from functions.common.secrets import SecretInvalidError, parse_secret
    from functions.common.settings import SalesforceSyncSettings
    from voice_analytics.ops import OpsError, StackView, default_stack_name
    from voice_analytics.privacy import (
        ForgetError,
        ForgetTargets,
        Person,
        iter_lines,
        residual_notes,
    )
    from voice_analytics.privacy import forget as run_forget

    try:
        person = Person.of(email, caller_key, caller_key_hash, os.environ.get("ANALYTICS_CALLER_SALT"))
    except ValueError as error:
        raise typer.BadParameter(str(error)) from error
    try:
        view = StackView.load(stack_name or default_stack_name()) if not (bucket and amplitude_secret) else None
    except OpsError as error:
        sys.stderr.write(f"error: {error}; or pass --bucket and --amplitude-secret\n")
        raise typer.Exit(2) from error
    parameters = view.parameters if view else {}

    def secret(name: str) -> object:
        return json.loads(boto3.client("secretsmanager").get_secret_value(SecretId=name)["SecretString"])

    try:
        bucket_name = bucket or (view.output("SessionsBucketName") if view else "")
        amplitude_name = amplitude_secret or parameters.get("AmplitudeSecretName", "voice-analytics/amplitude")
        amplitude = parse_secret(AmplitudeCredentials, secret(amplitude_name), amplitude_name)
        salesforce = None
        if include_crm:
            salesforce_name = salesforce_secret or parameters.get("SalesforceSecretName", "voice-analytics/salesforce")
            credentials = parse_secret(SalesforceCredentials, secret(salesforce_name), salesforce_name)
            salesforce = SalesforceGateway(
                lambda: credentials,
                api_version=SalesforceSyncSettings().salesforce_api_version,
                timeout_seconds=30,
                ca_bundle=os.environ.get("SALESFORCE_CA_BUNDLE") or None,  # a local emulator's certificate only
            )
        targets = ForgetTargets(
            s3=boto3.client("s3"),
            bucket=bucket_name,
            amplitude=amplitude,
            salesforce=salesforce,
            http_post=lambda url, **kwargs: httpx.post(url, timeout=30, **kwargs),
            requester=requester,
            workers=workers,
        )
        report = run_forget(person, targets, dry_run=dry_run)
    except (ForgetError, OpsError, SecretInvalidError, SalesforceCallError) as error:
        sys.stderr.write(f"error: {error}\n")
        raise typer.Exit(1) from error
    report.notes += residual_notes(
        parameters.get("ArchiveRetentionDays", "ArchiveRetentionDays"),
        parameters.get("NoncurrentVersionDays", "NoncurrentVersionDays"),
    )
    if as_json:
        sys.stdout.write(json.dumps(report.as_dict()) + "\n")
    else:
        for line in iter_lines(report):
            sys.stdout.write(line + "\n")


@app.command()
def doctor(
    stack_name: _StackNameOption = None,
    bucket: Annotated[str | None, typer.Option("--bucket", help="Sessions bucket (default: from the stack).")] = None,
    as_json: _JsonOption = False,
) -> None:
    """Check configuration, bucket write permission, secrets, queue and DLQ depths, event sources; exit 1 on FAIL."""
    import json

    from rich.console import Console
    from rich.table import Table

    from voice_analytics.ops import default_stack_name
    from voice_analytics.ops import doctor as run_doctor

    checks = run_doctor(stack_name or default_stack_name(), bucket=bucket)
    if as_json:
        sys.stdout.write(json.dumps([check.__dict__ for check in checks]) + "\n")
    else:
        table = Table(title="voice-analytics doctor")
        for column in ("check", "status", "detail"):
            table.add_column(column)
        colours = {"PASS": "green", "WARN": "yellow", "FAIL": "red"}
        for check in checks:
            table.add_row(check.name, f"[{colours[check.status]}]{check.status}[/]", check.detail)
        Console().print(table)
    if any(check.status == "FAIL" for check in checks):
        raise typer.Exit(1)


if __name__ == "__main__":
    app()
