"""The demo's report: what the far ends hold after a run (records downloaded for DuckDB, alert emails read back,
DLQ depths, quarantine reasons), the consistency rules (`check_report`) and the console summary (`print_report`).
The report itself is assembled by `Demo._build_report` (local/demo/run.py), which knows the run."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from agent.percentile import percentile
from functions.common.insights import NextStep
from functions.hot_lead_alert.logic import TITLES

if TYPE_CHECKING:
    from local.aws.stack import LocalStack
    from local.demo.run import DemoResult

EMAILS_SHOWN_IN_FULL = 3
# The alert types hot_lead_alert publishes (its `alert_type` message attribute), in its order.
ALERT_TYPES: tuple[str, ...] = tuple(TITLES)
# Why each alert type is raised, as the consistency rule and the console say it.
ALERT_CAUSES = {"hot_lead": "hot", "cancel_risk": "cancel intent"}
TOP_TOPICS_SHOWN = 3
# A call is negative or positive beyond this polarity (VADER's neutral band; the "sentiment by industry" query's too).
NEUTRAL_BAND = 0.05
# The emails' "From" line: SNS email notifications come from this address.
SNS_SENDER = "no-reply@sns.amazonaws.com"


def percentiles(values: list[float]) -> dict[str, float | int | None]:
    """p50 / p95 (the project's one definition, agent/percentile.py), plus count and max."""
    if not values:
        return {"p50": None, "p95": None, "max": None, "count": 0}
    p50, p95 = (round(percentile(values, fraction), 1) for fraction in (0.5, 0.95))
    return {"p50": p50, "p95": p95, "max": round(max(values), 1), "count": len(values)}


def salesforce_time(value: str | None) -> float | None:
    if not value:
        return None
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


def read_ndjson_gz(body: bytes) -> dict[str, Any]:
    first = gzip.decompress(body).split(b"\n", 1)[0]
    loaded = json.loads(first)
    if not isinstance(loaded, dict):
        raise ValueError("record is not a JSON object")
    return loaded


def alert_types_of(envelope: dict[str, Any]) -> list[str]:
    """The `alert_type` attribute (String.Array) of an SNS notification as SNS delivers it to SQS (`Type`, `Value`
    holding a JSON array). An absent or unreadable attribute gives [], which the consistency rule reports."""
    attribute = (envelope.get("MessageAttributes") or {}).get("alert_type") or {}
    try:
        types = json.loads(attribute.get("Value") or "[]")
    except ValueError:
        return []
    return [str(kind) for kind in types] if isinstance(types, list) else []


def insights_digest(record: dict[str, Any]) -> dict[str, Any] | None:
    """What a session entry of the report copies from a scored record's insights (None when it has none)."""
    insights = record.get("insights")
    if not isinstance(insights, dict):
        return None
    sentiment = insights.get("sentiment") or {}
    return {
        "summary": insights.get("summary"),
        "sentiment": {figure: sentiment.get(figure) for figure in ("overall", "start", "end")},
        "topics": list(insights.get("topics") or []),
        "competitors": list(insights.get("competitors") or []),
        "next_step": insights.get("next_step"),
        "cancel_intent": bool((insights.get("risk") or {}).get("cancel_intent")),
        "unanswered_questions": list(insights.get("unanswered_questions") or []),
    }


def _session_line(body: str) -> str | None:
    for line in body.splitlines():
        if line.startswith("Session:"):
            return line.split(":", 1)[1].strip()
    return None


# ---------------------------------------------------------------------------------------------------- far ends


def quarantine_reasons(s3: Any, bucket: str, keys: list[str], prefix: str) -> list[dict[str, str]]:
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


def object_keys(s3: Any, bucket: str, prefix: str) -> list[str]:
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix.rstrip("/") + "/"):
        keys.extend(item["Key"] for item in page.get("Contents", []))
    return keys


def download_records(s3: Any, bucket: str, prefix: str, out_dir: Path) -> dict[str, dict[str, Any]]:
    """Download every record under `prefix` to `out_dir` (same layout); returns them by session id."""
    found: dict[str, dict[str, Any]] = {}
    for key in object_keys(s3, bucket, prefix):
        if not key.endswith(".json.gz"):
            continue
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        try:
            record = read_ndjson_gz(body)
        except (OSError, EOFError, ValueError):
            continue  # not a record (score_lead quarantined it): kept out of the DuckDB folder too
        target = out_dir / key
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)
        found[str(record.get("session_id"))] = record
    return found


def read_emails(stack: LocalStack) -> list[dict[str, Any]]:
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
                    "alert_types": alert_types_of(envelope),
                    "received_at": int(message["Attributes"]["SentTimestamp"]) / 1000,
                }
            )
        sqs.delete_message_batch(
            QueueUrl=stack.alerts_queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
        )
    return sorted(emails, key=lambda email: email["received_at"])


def hot_lead_topic(stack: LocalStack) -> str | None:
    """The topic the alert function publishes to, read from its environment (as the handler reads it)."""
    for spec in stack.functions().values():
        if "HOT_LEAD_TOPIC_ARN" in spec.environment:
            return spec.environment["HOT_LEAD_TOPIC_ARN"]
    return None


def dlq_depths(stack: LocalStack) -> dict[str, int]:
    sqs = stack.client("sqs")
    depths = {}
    for logical, url in stack.dead_letter_queues().items():
        attributes = sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        )["Attributes"]
        depths[logical] = sum(int(value) for value in attributes.values())
    return depths


# ---------------------------------------------------------------------------------------------------- rules


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
    problems.extend(_alert_problems(report))
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


def _alert_problems(report: dict[str, Any]) -> list[str]:
    """One alert per session that is hot or whose caller means to cancel, carrying exactly the types that apply:
    `hot_lead` for the hot ones, `cancel_risk` for the cancel-intent ones."""
    problems = []
    cause = {"hot_lead": set(report["hot_session_ids"]), "cancel_risk": set(report["cancel_intent_session_ids"])}
    expected = set().union(*cause.values())
    alerted = set(report["alerted_session_ids"])
    if alerted != expected or report["sns_alerts"] != len(expected):
        problems.append(
            f"alerts do not match hot and cancel-intent calls: {report['sns_alerts']} alerts for {len(expected)} "
            f"calls ({len(cause['hot_lead'])} hot, {len(cause['cancel_risk'])} with cancel intent; "
            f"not alerted: {sorted(expected - alerted)}; alerted without cause: {sorted(alerted - expected)})"
        )
    for kind in ALERT_TYPES:
        typed = set(report["alerted_session_ids_by_type"].get(kind, []))
        if typed != cause[kind] or report["alerts_by_type"].get(kind, 0) != len(cause[kind]):
            problems.append(
                f"{report['alerts_by_type'].get(kind, 0)} {kind} alerts for {len(cause[kind])} calls with "
                f"{ALERT_CAUSES[kind]} (missing: {sorted(cause[kind] - typed)}; not due: {sorted(typed - cause[kind])})"
            )
    if report["alerts_without_type"]:
        problems.append(f"alerts without a known alert_type attribute: {report['alerts_without_type']}")
    return problems


# ---------------------------------------------------------------------------------------------------- console


def alerts_line(report: dict[str, Any]) -> str:
    """`26 (hot_lead 25, cancel_risk 2)`: alert messages, and how many carry each type (one may carry both)."""
    by_type = ", ".join(f"{kind} {report['alerts_by_type'].get(kind, 0)}" for kind in ALERT_TYPES)
    return f"{report['sns_alerts']} ({by_type})"


def insights_line(sessions: list[dict[str, Any]]) -> str:
    """One line over the sessions' insights: mean caller sentiment, the top topics, next steps, cancel intent."""
    digests = [entry["insights"] for entry in sessions if entry.get("insights")]
    if not digests:
        return "no insights in the scored records"
    overall = [d["sentiment"]["overall"] for d in digests if d["sentiment"]["overall"] is not None]
    tone = (
        f"sentiment mean {sum(overall) / len(overall):+.2f} over {len(overall)} calls "
        f"({sum(value <= -NEUTRAL_BAND for value in overall)} negative, "
        f"{sum(value >= NEUTRAL_BAND for value in overall)} positive)"
        if overall
        else "no sentiment"
    )
    topics = Counter(topic for d in digests for topic in d["topics"])
    top = sorted(topics.items(), key=lambda item: (-item[1], item[0]))[:TOP_TOPICS_SHOWN]
    steps = Counter(str(d["next_step"]) for d in digests)
    order = [*get_args(NextStep), *sorted(set(steps) - set(get_args(NextStep)))]
    return "; ".join(
        [
            tone,
            "top topics: " + (", ".join(f"{topic} {calls}" for topic, calls in top) or "none"),
            "next step: " + ", ".join(f"{step} {steps[step]}" for step in order if steps[step]),
            f"cancel intent: {sum(d['cancel_intent'] for d in digests)}",
            f"unanswered questions: {sum(len(d['unanswered_questions']) for d in digests)}",
        ]
    )


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
        ("alert emails (SNS) by type", alerts_line(report)),
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
    for column in ("session", "score", "grade", "hot", "meeting", "sentiment", "Salesforce Lead", "alert"):
        sessions.add_column(column)
    for entry in sorted(report["sessions"], key=lambda item: -(item["score"] or 0)):
        overall = ((entry.get("insights") or {}).get("sentiment") or {}).get("overall")
        sessions.add_row(
            entry["session_id"],
            str(entry["score"]),
            str(entry["grade"]),
            "[red]hot[/red]" if entry["hot"] else "",
            "booked" if entry["meeting_booked"] else "",
            f"{overall:+.2f}" if overall is not None else "-",
            entry["salesforce_lead_id"] or "-",
            ", ".join(entry["alert_types"]) if entry["alerted"] else "",
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
    console.print(f"Insights: {insights_line(report['sessions'])}", markup=False)
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
        console.print(
            "[green]Consistent: every session exported and scored, one alert per hot or cancel-intent call with its "
            "types, DLQs empty."
        )
