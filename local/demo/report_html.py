"""The demo report as one self-contained HTML page: headline counts, charts, the unanswered questions and a
sessions table.

`render_report_html(report)` takes the dict the demo writes to `build/demo/report.json` and returns a page
that needs nothing else: inline CSS, charts as inline SVG, no script, no font, no image and no network request
(a Content-Security-Policy in the page forbids them), so it opens the same from a CI artifact, an email
attachment or a laptop with no connection.

Three modules, one job each: local/demo/report_figures.py reads the report defensively and computes what is shown,
local/demo/report_charts.py draws the charts (matplotlib, imported only when a page is rendered), this one lays out
the page. Every string that comes from the report (session ids, tool names, industries, summaries, questions, ...)
goes through `html.escape` in the page, in text and in attributes alike. Numbers are formatted here.
"""

from __future__ import annotations

import html
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from local.demo.report_figures import (
    LATENCY_FIELDS,
    NEXT_STEPS,
    UNANSWERED_QUERY,
    as_count,
    as_mapping,
    as_number,
    cancel_intent,
    format_count,
    format_ms,
    insights_of,
    meeting_booked,
    sessions_of,
    signal_value,
    strings,
    thousands,
    tool_success,
    unanswered_questions,
)

CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1e293b;
  background: #f8fafc; }
main { max-width: 1360px; margin: 0 auto; padding: 24px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 0 0 12px; }
p.lead { color: #64748b; margin: 0 0 20px; }
section { background: #fff; border: 1px solid #e2e8f0; border-radius: 10px; padding: 16px 18px; margin: 0 0 18px; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 10px; }
.card { border: 1px solid #e2e8f0; border-radius: 8px; padding: 10px 12px; background: #fff; }
.card .value { font-size: 24px; font-weight: 650; }
.card .label { color: #64748b; font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.card.warn { border-color: #fca5a5; background: #fef2f2; }
.card.warn .value { color: #b91c1c; }
.status { margin: 12px 0 0; padding: 8px 12px; border-radius: 8px; }
.status.ok { background: #f0fdf4; color: #166534; }
.status.bad { background: #fef2f2; color: #991b1b; }
.status ul { margin: 4px 0 0 18px; padding: 0; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(460px, 1fr)); gap: 18px; }
.charts section { margin: 0; }
figure { margin: 0; }
figcaption { color: #64748b; font-size: 12px; margin-top: 6px; }
svg { width: 100%; height: auto; display: block; }
figure svg * { stroke-linejoin: round; stroke-linecap: butt; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid #e2e8f0; vertical-align: top; }
th { background: #f1f5f9; position: sticky; top: 0; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tbody tr:hover { background: #f8fafc; }
.tool { white-space: nowrap; }
.table-wrap { overflow-x: auto; max-height: 640px; overflow-y: auto; }
.badge { display: inline-block; min-width: 22px; padding: 1px 6px; border-radius: 10px; font-weight: 600;
  font-size: 12px; text-align: center; }
.grade-A { background: #dcfce7; color: #166534; } .grade-B { background: #dbeafe; color: #1e40af; }
.grade-C { background: #fef9c3; color: #854d0e; } .grade-D { background: #f1f5f9; color: #475569; }
.hot { background: #ffedd5; color: #9a3412; } .cancel { background: #fee2e2; color: #991b1b; margin-left: 2px; }
.tag { display: inline-block; margin: 0 4px 2px 0; padding: 0 6px; border-radius: 4px; font-size: 12px;
  background: #eef2ff; color: #3730a3; } .tag.competitor { background: #fdf4ff; color: #86198f; }
p.note { color: #64748b; font-size: 12px; margin: 6px 0 0; }
.tool { display: inline-block; margin: 0 4px 2px 0; padding: 0 6px; border-radius: 4px; font-size: 12px; }
.tool.ok { background: #f0fdf4; color: #166534; } .tool.fail { background: #fef2f2; color: #991b1b; }
.muted { color: #94a3b8; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; white-space: nowrap; }
figure + table { margin-top: 12px; }
@media print { body { background: #fff; } section { break-inside: avoid; } .table-wrap { max-height: none; } }
"""


def _e(value: Any) -> str:
    """Escape anything for HTML text or a quoted attribute."""
    return html.escape(str(value), quote=True)


# --- page sections ---------------------------------------------------------------------------------------


def _card(label: str, value: Any, *, warn: bool = False) -> str:
    css = "card warn" if warn else "card"
    value_html = f'<div class="value">{_e(format_count(value))}</div>'
    return f'<div class="{css}">{value_html}<div class="label">{_e(label)}</div></div>'


def consistency_problems(report: Mapping[str, Any], sessions: Sequence[Mapping[str, Any]]) -> list[str]:
    """What does not add up: lost sessions, an alert count that is not one per hot or cancel-intent call, DLQ or
    quarantine."""
    problems: list[str] = []
    replayed = as_count(report.get("sessions_replayed"))
    exported = as_count(report.get("sessions_exported"))
    scored = as_count(report.get("sessions_scored"))
    hot = as_count(report.get("hot_leads"))
    # A session is alerted when hot or when its caller means to cancel (one message, carrying both types if both).
    due = [session for session in sessions if session.get("hot") is True or cancel_intent(session)]
    expected = len(due) if sessions else hot
    alerts = as_count(report.get("sns_alerts"))
    if replayed is not None and exported is not None and exported != replayed:
        problems.append(f"{exported} of {replayed} replayed sessions were exported")
    if exported is not None and scored is not None and scored != exported:
        problems.append(f"{scored} of {exported} exported sessions were scored")
    if expected is not None and alerts is not None and alerts != expected:
        problems.append(f"{alerts} alert(s) for {expected} hot or cancel-intent call(s); expected one per call")
    for key, label in (("dlq_messages", "message(s) in dead-letter queues"), ("quarantined", "record(s) quarantined")):
        count = as_count(report.get(key))
        if count:
            problems.append(f"{count} {label}")
    unalerted = [str(session.get("session_id")) for session in due if session.get("alerted") is not True]
    if unalerted:
        shown = ", ".join(unalerted[:5]) + (" …" if len(unalerted) > 5 else "")
        problems.append(f"hot or cancel-intent call(s) without an alert: {shown}")
    return problems


def _headline(report: Mapping[str, Any], sessions: Sequence[Mapping[str, Any]]) -> str:
    salesforce = as_mapping(report.get("salesforce"))
    alerts_by_type = as_mapping(report.get("alerts_by_type"))
    cards = [
        _card("Sessions replayed", report.get("sessions_replayed")),
        _card("Sessions exported", report.get("sessions_exported")),
        _card("Sessions scored", report.get("sessions_scored")),
        _card("Hot leads", report.get("hot_leads")),
        _card("Salesforce leads", salesforce.get("leads")),
        _card("Salesforce tasks", salesforce.get("tasks")),
        _card("Amplitude events", report.get("amplitude_events")),
        _card("Alerts (SNS)", report.get("sns_alerts")),
        _card("Hot-lead alerts", alerts_by_type.get("hot_lead")),
        _card("Cancel-risk alerts", alerts_by_type.get("cancel_risk")),
        _card("DLQ messages", report.get("dlq_messages"), warn=bool(as_count(report.get("dlq_messages")))),
        _card("Quarantined", report.get("quarantined"), warn=bool(as_count(report.get("quarantined")))),
    ]
    problems = consistency_problems(report, sessions)
    if problems:
        items = "".join(f"<li>{_e(problem)}</li>" for problem in problems)
        status = f'<div class="status bad"><strong>Needs attention</strong><ul>{items}</ul></div>'
    else:
        status = (
            '<div class="status ok">Consistent: every replayed session exported and scored, one alert per hot or '
            "cancel-intent call, nothing in dead-letter queues or quarantine.</div>"
        )
    return f'<section><h2>Headline</h2><div class="cards">{"".join(cards)}</div>{status}</section>'


def _latency_table(latency: Mapping[str, Any]) -> str:
    rows = []
    for field, label in LATENCY_FIELDS:
        figures = as_mapping(latency.get(field))
        rows.append(
            f"<tr><td>{_e(label)}</td><td class='num'>{_e(format_ms(figures.get('p50')))}</td>"
            f"<td class='num'>{_e(format_ms(figures.get('p95')))}</td></tr>"
        )
    return (
        "<table><thead><tr><th>End-to-end latency</th><th class='num'>p50</th><th class='num'>p95</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _chart_section(title: str, svg: str, caption: str, extra: str = "") -> str:
    return f"<section><h2>{_e(title)}</h2><figure>{svg}<figcaption>{_e(caption)}</figcaption></figure>{extra}</section>"


def _cell(value: Any, *, numeric: bool = False) -> str:
    css = " class='num'" if numeric else ""
    if value is None or value == "" or value == []:
        return f"<td{css}><span class='muted'>–</span></td>"
    return f"<td{css}>{_e(value)}</td>"


def _session_row(session: Mapping[str, Any]) -> str:
    score = as_number(session.get("score"))
    grade = session.get("grade")
    grade_html = (
        f"<span class='badge grade-{_e(grade)}'>{_e(grade)}</span>"
        if grade in ("A", "B", "C", "D")
        else (_e(grade) if grade is not None else "<span class='muted'>–</span>")
    )
    flags = ("<span class='badge hot'>hot</span>" if session.get("hot") is True else "") + (
        "<span class='badge cancel'>cancel</span>" if cancel_intent(session) else ""
    )
    insights = insights_of(session)
    overall = as_number(as_mapping(insights.get("sentiment")).get("overall"))
    step = insights.get("next_step")
    subjects = "".join(f"<span class='tag'>{_e(topic)}</span>" for topic in strings(insights.get("topics"))) + "".join(
        f"<span class='tag competitor'>{_e(name)}</span>" for name in strings(insights.get("competitors"))
    )
    alert_types = strings(session.get("alert_types"))
    alerted = (
        (", ".join(kind.replace("_", " ") for kind in alert_types) or "yes") if session.get("alerted") is True else ""
    )
    summary = insights.get("summary")
    integrations = signal_value(session, "integrations")
    integrations_text = (
        ", ".join(str(item) for item in integrations) if isinstance(integrations, list) else integrations
    )
    tools = "".join(
        f"<span class='tool {'fail' if failed else 'ok'}' title='{_e(name)}: {ok} succeeded, {failed} failed'>"
        f"{_e(name)}{f' ✓{ok}' if ok else ''}{f' ✗{failed}' if failed else ''}</span>"
        for name, (ok, total) in tool_success([session]).items()
        for failed in (total - ok,)
    )
    duration = as_number(session.get("duration_s"))
    lead_id = session.get("salesforce_lead_id")
    cells = [
        f"<td><code>{_e(session.get('session_id', ''))}</code></td>",
        _cell(f"{score:g}" if score is not None else None, numeric=True),
        f"<td>{grade_html}</td>",
        f"<td>{flags}</td>",
        _cell(thousands(signal_value(session, "team_size")), numeric=True),
        _cell(thousands(signal_value(session, "monthly_volume")), numeric=True),
        _cell(signal_value(session, "industry")),
        _cell(integrations_text),
        _cell(signal_value(session, "urgency")),
        f"<td>{'yes' if meeting_booked(session) else ''}</td>",
        _cell(f"{overall:+.2f}" if overall is not None else None, numeric=True),
        _cell(NEXT_STEPS.get(str(step), str(step)) if step else None),
        f"<td>{subjects or '<span class=muted>–</span>'}</td>",
        f"<td>{tools or '<span class=muted>–</span>'}</td>",
        _cell(f"{duration:.0f} s" if duration is not None else None, numeric=True),
        f"<td><code>{_e(lead_id)}</code></td>" if lead_id else _cell(None),
        _cell(alerted or None),
    ]
    title = f" title='{_e(summary)}'" if isinstance(summary, str) and summary else ""
    return f"<tr{title}>{''.join(cells)}</tr>"


def _sessions_table(sessions: Sequence[Mapping[str, Any]]) -> str:
    if not sessions:
        return "<section><h2>Sessions</h2><p class='muted'>No sessions in this report.</p></section>"
    headers = [
        ("Session", False),
        ("Score", True),
        ("Grade", False),
        ("Flags", False),
        ("Team", True),
        ("Docs / month", True),
        ("Industry", False),
        ("Integrations", False),
        ("Urgency", False),
        ("Meeting", False),
        ("Sentiment", True),
        ("Next step", False),
        ("Topics, competitors", False),
        ("Tools", False),
        ("Duration", True),
        ("Salesforce lead", False),
        ("Alert", False),
    ]
    head = "".join(f"<th class='num'>{_e(name)}</th>" if num else f"<th>{_e(name)}</th>" for name, num in headers)
    body = "".join(_session_row(session) for session in sessions)
    return (
        f"<section><h2>Sessions ({len(sessions)})</h2><div class='table-wrap'><table>"
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div></section>"
    )


def _unanswered_section(report: Mapping[str, Any]) -> str:
    rows = unanswered_questions(report)
    caption = (
        "What callers asked that the agent could not answer (failed or empty knowledge searches, deflections), most "
        f'asked first: the template\'s named query "{UNANSWERED_QUERY}" over the scored calls.'
    )
    if rows is None:
        body = f"<p class='muted'>This report holds no result of the \"{_e(UNANSWERED_QUERY)}\" query.</p>"
    elif not rows:
        body = "<p class='muted'>No unanswered questions.</p>"
    else:
        items = "".join(
            f"<tr><td>{_e(question)}</td><td class='num'>{_e(format_count(calls))}</td>{_cell(last)}</tr>"
            for question, calls, last in rows
        )
        body = (
            "<div class='table-wrap'><table><thead><tr><th>Question</th><th class='num'>Calls</th>"
            f"<th>Last asked</th></tr></thead><tbody>{items}</tbody></table></div>"
        )
    return f"<section><h2>Unanswered questions</h2>{body}<p class='note'>{_e(caption)}</p></section>"


def _cancel_section(sessions: Sequence[Mapping[str, Any]]) -> str:
    at_risk = [session for session in sessions if cancel_intent(session)]
    if not at_risk:
        body = "<p class='muted'>No caller said they would cancel.</p>"
    else:
        items = "".join(
            f"<tr><td><code>{_e(session.get('session_id', ''))}</code></td>"
            f"{_cell(insights_of(session).get('summary'))}"
            f"<td>{'alerted' if session.get('alerted') is True else '<strong>not alerted</strong>'}</td></tr>"
            for session in at_risk
        )
        body = (
            "<table><thead><tr><th>Session</th><th>Summary</th><th>Alert</th></tr></thead>"
            f"<tbody>{items}</tbody></table>"
        )
    caption = "Callers who said they will cancel or not renew: each raises a cancel-risk alert, hot or not."
    return f"<section><h2>Cancel intent ({len(at_risk)})</h2>{body}<p class='note'>{_e(caption)}</p></section>"


def render_report_html(report: dict[str, Any]) -> str:
    """The whole report as one self-contained HTML page (inline CSS and SVG; no script, no external resource)."""
    report_map = as_mapping(report)
    sessions = sessions_of(report_map)
    latency = as_mapping(report_map.get("latency_ms"))
    generated = report_map.get("generated_at")
    subtitle = "Sample conversations replayed through the agent and the backend on the embedded local stack."
    if generated:
        subtitle += f" Generated {generated}."
    from local.demo.report_charts import draw_charts  # matplotlib: imported only when a page is drawn

    score_svg, coverage_svg, funnel_svg, tool_svg, latency_svg, sentiment_svg, topic_svg = draw_charts(
        report_map, sessions, latency
    )
    charts = [
        _chart_section(
            "Score distribution",
            score_svg,
            "Sessions per lead-score bin (0-100, bins of 10).",
        ),
        _chart_section(
            "Signal coverage",
            coverage_svg,
            "Share of sessions in which the caller revealed each qualification signal.",
        ),
        _chart_section(
            "Funnel",
            funnel_svg,
            "Calls, hot leads (team or volume over the thresholds), meetings booked and hot-lead alerts sent; "
            "percentages are of all calls.",
        ),
        _chart_section(
            "Tool success",
            tool_svg,
            "Share of tool calls that succeeded, per tool.",
        ),
        _chart_section(
            "Latency",
            latency_svg,
            "Time from the end of a session to its hot-lead alert and to its Salesforce upsert.",
            _latency_table(latency),
        ),
        _chart_section(
            "Caller sentiment",
            sentiment_svg,
            "Mean caller sentiment (-1 to 1, VADER or Bedrock per the insights' method) at the start and the end of "
            "the call and overall, by the call's next step; calls per outcome in brackets.",
        ),
        _chart_section(
            "Topics",
            topic_svg,
            "Calls per product topic of the insights taxonomy, split by the week the call started; percentages are of "
            "the calls with insights.",
        ),
        _unanswered_section(report_map),
        _cancel_section(sessions),
    ]
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        "<title>Voice analytics: demo report</title>"
        f"<style>{CSS}</style></head><body><main>"
        "<h1>Voice analytics: demo report</h1>"
        f"<p class='lead'>{_e(subtitle)}</p>"
        f"{_headline(report_map, sessions)}"
        f"<div class='charts'>{''.join(charts)}</div>"
        f"{_sessions_table(sessions)}"
        "</main></body></html>\n"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m local.demo.report_html REPORT.json [OUT.html]`: render a saved report (default: next to it)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or len(args) > 2:
        print("usage: python -m local.demo.report_html REPORT.json [OUT.html]", file=sys.stderr)
        return 2
    source = Path(args[0])
    target = Path(args[1]) if len(args) == 2 else source.with_suffix(".html")
    report = json.loads(source.read_text(encoding="utf-8"))
    target.write_text(render_report_html(report), encoding="utf-8")
    print(target)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
