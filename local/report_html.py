"""The demo report as one self-contained HTML page: headline counts, latency, charts and a sessions table.

`render_report_html(report)` takes the dict the demo writes to `build/demo/report.json` and returns a page
that needs nothing else: inline CSS, charts drawn here as inline SVG, no script, no font, no image and no
network request (a Content-Security-Policy in the page forbids them), so it opens the same from a CI
artifact, an email attachment or a laptop with no connection.

Why SVG drawn by hand rather than a plotting library: the charts are bars and a funnel, a few dozen lines
here, while a library would add a dependency (the lock file is shared) and usually a script bundle or a CDN.

Every string that comes from the report (session ids, tool names, industries, ...) goes through
`html.escape`, in text and in attributes alike; numbers are formatted here. Optional keys may be missing or
null: a session without signal fields counts as "not captured", a report without latency shows "n/a".

Charts (one `<svg>` each, always present, with an empty state when there is nothing to draw):
score distribution (0-100 in bins of 10), signal coverage, funnel, tool success per tool, latency p50/p95.
"""

from __future__ import annotations

import html
import json
import math
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SIGNAL_FIELDS: tuple[tuple[str, str], ...] = (
    ("team_size", "Team size"),
    ("monthly_volume", "Monthly volume"),
    ("integrations", "Integrations"),
    ("urgency", "Urgency"),
    ("industry", "Industry"),
)
LATENCY_FIELDS: tuple[tuple[str, str], ...] = (
    ("session_end_to_alert", "Session end → alert"),
    ("session_end_to_salesforce", "Session end → Salesforce"),
)
MEETING_TOOL = "book_sales_meeting"
SCORE_BINS = 10

# Palette: readable on white and in print, distinguishable for the common colour-vision deficiencies.
BLUE = "#2563eb"
ORANGE = "#ea580c"
GREEN = "#16a34a"
RED = "#dc2626"
GREY = "#94a3b8"
INK = "#1e293b"
MUTED = "#64748b"
GRID = "#e2e8f0"

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
svg text { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
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
.hot { background: #ffedd5; color: #9a3412; }
.tool { display: inline-block; margin: 0 4px 2px 0; padding: 0 6px; border-radius: 4px; font-size: 12px; }
.tool.ok { background: #f0fdf4; color: #166534; } .tool.fail { background: #fef2f2; color: #991b1b; }
.muted { color: #94a3b8; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; white-space: nowrap; }
figure + table { margin-top: 12px; }
@media print { body { background: #fff; } section { break-inside: avoid; } .table-wrap { max-height: none; } }
"""


# --- reading the report defensively ----------------------------------------------------------------------


def _number(value: Any) -> float | None:
    """A finite int or float from the report; anything else (missing, null, bool, text, NaN) is None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _count(value: Any) -> int | None:
    number = _number(value)
    return round(number) if number is not None else None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _sessions(report: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    sessions = report.get("sessions")
    if not isinstance(sessions, list):
        return []
    return [session for session in sessions if isinstance(session, Mapping)]


def _tool_calls(session: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    calls = session.get("tool_calls")
    if not isinstance(calls, list):
        return []
    return [call for call in calls if isinstance(call, Mapping) and call.get("name") is not None]


def _has_signal(session: Mapping[str, Any], field: str) -> bool:
    value = session.get(field)
    if value is None or value is False:
        return False
    if isinstance(value, str | list | tuple | dict):
        return len(value) > 0
    return True


def meeting_booked(session: Mapping[str, Any]) -> bool:
    """`meeting_booked` when the report says it, else a successful booking among the session's tool calls."""
    booked = session.get("meeting_booked")
    if isinstance(booked, bool):
        return booked
    return any(call.get("name") == MEETING_TOOL and call.get("success") is True for call in _tool_calls(session))


def _e(value: Any) -> str:
    """Escape anything for HTML text or a quoted attribute."""
    return html.escape(str(value), quote=True)


def _fmt_count(value: Any) -> str:
    count = _count(value)
    return f"{count:,}" if count is not None else "n/a"


def _thousands(value: Any) -> str | None:
    count = _count(value)
    return f"{count:,}" if count is not None else None


def _fmt_ms(value: Any) -> str:
    number = _number(value)
    if number is None:
        return "n/a"
    if number >= 10_000:
        return f"{number / 1000:,.1f} s"
    return f"{number:,.0f} ms" if number >= 100 else f"{number:,.1f} ms"


def _fmt_percent(share: float) -> str:
    return f"{share * 100:.0f}%"


# --- SVG helpers -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    """One bar: its label, value, colour and the text shown at its end."""

    label: str
    value: float
    color: str = BLUE
    text: str = ""


@dataclass(frozen=True)
class Segment:
    value: float
    color: str
    name: str


def _svg_open(width: int, height: int, title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{_e(title)}" preserveAspectRatio="xMidYMid meet"><title>{_e(title)}</title>'
    )


def _text(x: float, y: float, content: str, *, anchor: str = "start", size: int = 12, color: str = INK) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" fill="{color}">{_e(content)}</text>'
    )


def _empty_svg(title: str, message: str, *, width: int = 520, height: int = 160) -> str:
    return (
        _svg_open(width, height, title)
        + f'<rect x="0.5" y="0.5" width="{width - 1}" height="{height - 1}" rx="8" fill="#f8fafc" stroke="{GRID}"/>'
        + _text(width / 2, height / 2 + 4, message, anchor="middle", size=13, color=MUTED)
        + "</svg>"
    )


def _nice_max(value: float) -> float:
    """A round axis maximum at or above `value` (1, 2, 5 times a power of ten)."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * magnitude:
            return float(step * magnitude)
    return float(10 * magnitude)


def column_chart(bars: Sequence[Bar], *, title: str, y_label: str = "", width: int = 520, height: int = 260) -> str:
    """Vertical bars with a y axis of round ticks; for the score histogram."""
    if not bars:
        return _empty_svg(title, "No data")
    left, right, top, bottom = 44, 12, 16, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    y_max = _nice_max(max(bar.value for bar in bars))
    ticks = 4
    parts = [_svg_open(width, height, title)]
    for tick in range(ticks + 1):
        value = y_max * tick / ticks
        y = top + plot_h - plot_h * tick / ticks
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"/>')
        tick_text = f"{value:g}" if value == int(value) else f"{value:.1f}"
        parts.append(_text(left - 6, y + 4, tick_text, anchor="end", size=11, color=MUTED))
    if y_label:
        parts.append(
            f'<text transform="translate(12 {top + plot_h / 2:.1f}) rotate(-90)" text-anchor="middle" '
            f'font-size="11" fill="{MUTED}">{_e(y_label)}</text>'
        )
    slot = plot_w / len(bars)
    bar_w = max(2.0, slot * 0.78)
    for index, bar in enumerate(bars):
        x = left + index * slot + (slot - bar_w) / 2
        bar_h = plot_h * (bar.value / y_max) if y_max else 0.0
        y = top + plot_h - bar_h
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{bar_h:.1f}" rx="2" fill="{bar.color}">'
            f"<title>{_e(bar.label)}: {_e(bar.text or f'{bar.value:g}')}</title></rect>"
        )
        if bar.value > 0:
            parts.append(_text(x + bar_w / 2, y - 4, bar.text or f"{bar.value:g}", anchor="middle", size=11))
        parts.append(_text(x + bar_w / 2, top + plot_h + 16, bar.label, anchor="middle", size=10, color=MUTED))
    parts.append(f'<line x1="{left}" x2="{width - right}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="{MUTED}"/>')
    parts.append("</svg>")
    return "".join(parts)


def bar_rows_chart(
    rows: Sequence[tuple[str, Sequence[Segment], str]],
    *,
    title: str,
    scale_max: float,
    width: int = 520,
    row_height: int = 30,
    label_width: int = 170,
    legend: Sequence[tuple[str, str]] = (),
) -> str:
    """Horizontal rows of stacked segments, each with a label on the left and a note on the right.

    `rows` holds (label, segments, note); the full width of the plot is `scale_max`. Used for coverage,
    the funnel, tool success and latency.
    """
    if not rows:
        return _empty_svg(title, "No data")
    note_width = 96
    top = 22 if legend else 8
    plot_w = width - label_width - note_width - 8
    height = top + row_height * len(rows) + 8
    scale = scale_max if scale_max > 0 else 1.0
    parts = [_svg_open(width, height, title)]
    x_legend = float(label_width)
    for name, color in legend:
        parts.append(f'<rect x="{x_legend:.1f}" y="4" width="10" height="10" rx="2" fill="{color}"/>')
        parts.append(_text(x_legend + 14, 13, name, size=11, color=MUTED))
        x_legend += 14 + 7 * len(name) + 18
    for index, (label, segments, note) in enumerate(rows):
        y = top + index * row_height
        bar_y = y + 6
        bar_h = row_height - 12
        parts.append(_text(label_width - 8, y + row_height / 2 + 4, label, anchor="end", size=12))
        parts.append(f'<rect x="{label_width}" y="{bar_y}" width="{plot_w}" height="{bar_h}" rx="3" fill="#f1f5f9"/>')
        x = float(label_width)
        for segment in segments:
            seg_w = plot_w * max(0.0, segment.value) / scale
            seg_w = min(seg_w, label_width + plot_w - x)
            if seg_w <= 0:
                continue
            parts.append(
                f'<rect x="{x:.1f}" y="{bar_y}" width="{seg_w:.1f}" height="{bar_h}" rx="3" fill="{segment.color}">'
                f"<title>{_e(label)} · {_e(segment.name)}: {segment.value:g}</title></rect>"
            )
            x += seg_w
        parts.append(_text(label_width + plot_w + 8, y + row_height / 2 + 4, note, size=12))
    parts.append("</svg>")
    return "".join(parts)


# --- the charts ------------------------------------------------------------------------------------------


def score_histogram(sessions: Iterable[Mapping[str, Any]]) -> list[int]:
    """Session counts per score bin: 0-9, 10-19, ..., 90-100 (100 falls in the last bin)."""
    counts = [0] * SCORE_BINS
    for session in sessions:
        score = _number(session.get("score"))
        if score is None:
            continue
        index = min(SCORE_BINS - 1, max(0, int(score // 10)))
        counts[index] += 1
    return counts


def signal_coverage(sessions: Sequence[Mapping[str, Any]]) -> list[tuple[str, int]]:
    """For each signal field, how many sessions captured it."""
    return [(label, sum(_has_signal(session, field) for session in sessions)) for field, label in SIGNAL_FIELDS]


def funnel(report: Mapping[str, Any], sessions: Sequence[Mapping[str, Any]]) -> list[tuple[str, int]]:
    """Calls → hot leads → meetings booked → alerts sent, counted over the sessions listed."""
    calls = len(sessions) if sessions else (_count(report.get("sessions_replayed")) or 0)
    return [
        ("Calls", calls),
        ("Hot leads", sum(session.get("hot") is True for session in sessions)),
        ("Meetings booked", sum(meeting_booked(session) for session in sessions)),
        ("Hot-lead alerts", sum(session.get("alerted") is True for session in sessions)),
    ]


def tool_success(sessions: Iterable[Mapping[str, Any]]) -> dict[str, tuple[int, int]]:
    """Per tool name: (successful calls, all calls), in order of first appearance."""
    stats: dict[str, tuple[int, int]] = {}
    for session in sessions:
        for call in _tool_calls(session):
            name = str(call.get("name"))
            ok, total = stats.get(name, (0, 0))
            stats[name] = (ok + (call.get("success") is True), total + 1)
    return stats


def _score_chart(sessions: Sequence[Mapping[str, Any]]) -> str:
    counts = score_histogram(sessions)
    title = "Score distribution"
    if not any(counts):
        return _empty_svg(title, "No scored sessions")
    bars = []
    for index, count in enumerate(counts):
        low = index * 10
        label = f"{low}-{low + 9}" if index < SCORE_BINS - 1 else f"{low}-100"
        color = GREEN if low >= 70 else BLUE if low >= 40 else GREY
        bars.append(Bar(label=label, value=count, color=color, text=str(count)))
    return column_chart(bars, title=title, y_label="sessions")


def _coverage_chart(sessions: Sequence[Mapping[str, Any]]) -> str:
    title = "Signal coverage"
    if not sessions:
        return _empty_svg(title, "No sessions")
    total = len(sessions)
    rows = [
        (label, [Segment(count / total, BLUE, "captured")], f"{_fmt_percent(count / total)} ({count}/{total})")
        for label, count in signal_coverage(sessions)
    ]
    return bar_rows_chart(rows, title=title, scale_max=1.0)


def _funnel_chart(report: Mapping[str, Any], sessions: Sequence[Mapping[str, Any]]) -> str:
    title = "Funnel"
    stages = funnel(report, sessions)
    calls = stages[0][1]
    if not sessions or calls <= 0:
        return _empty_svg(title, "No sessions")
    colors = (BLUE, ORANGE, GREEN, RED)
    rows = [
        (label, [Segment(count, color, "sessions")], f"{count} ({_fmt_percent(count / calls)})")
        for (label, count), color in zip(stages, colors, strict=True)
    ]
    return bar_rows_chart(rows, title=title, scale_max=float(calls))


def _tool_chart(sessions: Sequence[Mapping[str, Any]]) -> str:
    title = "Tool success rate"
    stats = tool_success(sessions)
    if not stats:
        return _empty_svg(title, "No tool calls")
    rows = [
        (
            name,
            [Segment(ok / total, GREEN, "succeeded"), Segment((total - ok) / total, RED, "failed")],
            f"{_fmt_percent(ok / total)} ({ok}/{total})",
        )
        for name, (ok, total) in stats.items()
    ]
    return bar_rows_chart(
        rows, title=title, scale_max=1.0, label_width=200, legend=(("succeeded", GREEN), ("failed", RED))
    )


def _latency_chart(latency: Mapping[str, Any]) -> str:
    title = "Latency from session end (p50 / p95)"
    rows: list[tuple[str, Sequence[Segment], str]] = []
    values: list[float] = []
    for field, label in LATENCY_FIELDS:
        figures = _mapping(latency.get(field))
        for stat, color in (("p50", BLUE), ("p95", ORANGE)):
            number = _number(figures.get(stat))
            if number is None:
                continue
            values.append(number)
            rows.append((f"{label} {stat}", [Segment(number, color, stat)], _fmt_ms(number)))
    if not rows:
        return _empty_svg(title, "No latency figures")
    return bar_rows_chart(
        rows,
        title=title,
        scale_max=_nice_max(max(values)),
        label_width=220,
        legend=(("p50", BLUE), ("p95", ORANGE)),
    )


# --- page sections ---------------------------------------------------------------------------------------


def _card(label: str, value: Any, *, warn: bool = False) -> str:
    css = "card warn" if warn else "card"
    return (
        f'<div class="{css}"><div class="value">{_e(_fmt_count(value))}</div><div class="label">{_e(label)}</div></div>'
    )


def consistency_problems(report: Mapping[str, Any], sessions: Sequence[Mapping[str, Any]]) -> list[str]:
    """What does not add up: lost sessions, an alert count that is not one per hot lead, DLQ or quarantine."""
    problems: list[str] = []
    replayed = _count(report.get("sessions_replayed"))
    exported = _count(report.get("sessions_exported"))
    scored = _count(report.get("sessions_scored"))
    hot = _count(report.get("hot_leads"))
    alerts = _count(report.get("sns_alerts"))
    if replayed is not None and exported is not None and exported != replayed:
        problems.append(f"{exported} of {replayed} replayed sessions were exported")
    if exported is not None and scored is not None and scored != exported:
        problems.append(f"{scored} of {exported} exported sessions were scored")
    if hot is not None and alerts is not None and alerts != hot:
        problems.append(f"{alerts} alert(s) for {hot} hot lead(s); expected one per hot lead")
    for key, label in (("dlq_messages", "message(s) in dead-letter queues"), ("quarantined", "record(s) quarantined")):
        count = _count(report.get(key))
        if count:
            problems.append(f"{count} {label}")
    unalerted = [str(s.get("session_id")) for s in sessions if s.get("hot") is True and s.get("alerted") is not True]
    if unalerted:
        shown = ", ".join(unalerted[:5]) + (" …" if len(unalerted) > 5 else "")
        problems.append(f"hot lead(s) without an alert: {shown}")
    return problems


def _headline(report: Mapping[str, Any], sessions: Sequence[Mapping[str, Any]]) -> str:
    salesforce = _mapping(report.get("salesforce"))
    cards = [
        _card("Sessions replayed", report.get("sessions_replayed")),
        _card("Sessions exported", report.get("sessions_exported")),
        _card("Sessions scored", report.get("sessions_scored")),
        _card("Hot leads", report.get("hot_leads")),
        _card("Salesforce leads", salesforce.get("leads")),
        _card("Salesforce tasks", salesforce.get("tasks")),
        _card("Amplitude events", report.get("amplitude_events")),
        _card("Hot-lead alerts (SNS)", report.get("sns_alerts")),
        _card("DLQ messages", report.get("dlq_messages"), warn=bool(_count(report.get("dlq_messages")))),
        _card("Quarantined", report.get("quarantined"), warn=bool(_count(report.get("quarantined")))),
    ]
    problems = consistency_problems(report, sessions)
    if problems:
        items = "".join(f"<li>{_e(problem)}</li>" for problem in problems)
        status = f'<div class="status bad"><strong>Needs attention</strong><ul>{items}</ul></div>'
    else:
        status = (
            '<div class="status ok">Consistent: every replayed session exported and scored, one alert per hot lead, '
            "nothing in dead-letter queues or quarantine.</div>"
        )
    return f'<section><h2>Headline</h2><div class="cards">{"".join(cards)}</div>{status}</section>'


def _latency_table(latency: Mapping[str, Any]) -> str:
    rows = []
    for field, label in LATENCY_FIELDS:
        figures = _mapping(latency.get(field))
        rows.append(
            f"<tr><td>{_e(label)}</td><td class='num'>{_e(_fmt_ms(figures.get('p50')))}</td>"
            f"<td class='num'>{_e(_fmt_ms(figures.get('p95')))}</td></tr>"
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
    score = _number(session.get("score"))
    grade = session.get("grade")
    grade_html = (
        f"<span class='badge grade-{_e(grade)}'>{_e(grade)}</span>"
        if grade in ("A", "B", "C", "D")
        else (_e(grade) if grade is not None else "<span class='muted'>–</span>")
    )
    hot = "<span class='badge hot'>hot</span>" if session.get("hot") is True else ""
    integrations = session.get("integrations")
    integrations_text = (
        ", ".join(str(item) for item in integrations) if isinstance(integrations, list) else integrations
    )
    tools = "".join(
        f"<span class='tool {'fail' if failed else 'ok'}' title='{_e(name)}: {ok} succeeded, {failed} failed'>"
        f"{_e(name)}{f' ✓{ok}' if ok else ''}{f' ✗{failed}' if failed else ''}</span>"
        for name, (ok, total) in tool_success([session]).items()
        for failed in (total - ok,)
    )
    duration = _number(session.get("duration_s"))
    lead_id = session.get("salesforce_lead_id")
    cells = [
        f"<td><code>{_e(session.get('session_id', ''))}</code></td>",
        _cell(f"{score:g}" if score is not None else None, numeric=True),
        f"<td>{grade_html}</td>",
        f"<td>{hot}</td>",
        _cell(_thousands(session.get("team_size")), numeric=True),
        _cell(_thousands(session.get("monthly_volume")), numeric=True),
        _cell(session.get("industry")),
        _cell(integrations_text),
        _cell(session.get("urgency")),
        f"<td>{'yes' if meeting_booked(session) else ''}</td>",
        f"<td>{tools or '<span class=muted>–</span>'}</td>",
        _cell(f"{duration:.0f} s" if duration is not None else None, numeric=True),
        f"<td><code>{_e(lead_id)}</code></td>" if lead_id else _cell(None),
        f"<td>{'yes' if session.get('alerted') is True else ''}</td>",
    ]
    return f"<tr>{''.join(cells)}</tr>"


def _sessions_table(sessions: Sequence[Mapping[str, Any]]) -> str:
    if not sessions:
        return "<section><h2>Sessions</h2><p class='muted'>No sessions in this report.</p></section>"
    headers = [
        ("Session", False),
        ("Score", True),
        ("Grade", False),
        ("Hot", False),
        ("Team", True),
        ("Docs / month", True),
        ("Industry", False),
        ("Integrations", False),
        ("Urgency", False),
        ("Meeting", False),
        ("Tools", False),
        ("Duration", True),
        ("Salesforce lead", False),
        ("Alerted", False),
    ]
    head = "".join(f"<th class='num'>{_e(name)}</th>" if num else f"<th>{_e(name)}</th>" for name, num in headers)
    body = "".join(_session_row(session) for session in sessions)
    return (
        f"<section><h2>Sessions ({len(sessions)})</h2><div class='table-wrap'><table>"
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div></section>"
    )


def render_report_html(report: dict[str, Any]) -> str:
    """The whole report as one self-contained HTML page (inline CSS and SVG; no script, no external resource)."""
    report_map = _mapping(report)
    sessions = _sessions(report_map)
    latency = _mapping(report_map.get("latency_ms"))
    generated = report_map.get("generated_at")
    subtitle = "Sample conversations replayed through the agent and the backend on the embedded local stack."
    if generated:
        subtitle += f" Generated {generated}."
    charts = [
        _chart_section(
            "Score distribution",
            _score_chart(sessions),
            "Sessions per lead-score bin (0-100, bins of 10).",
        ),
        _chart_section(
            "Signal coverage",
            _coverage_chart(sessions),
            "Share of sessions in which the caller revealed each qualification signal.",
        ),
        _chart_section(
            "Funnel",
            _funnel_chart(report_map, sessions),
            "Calls, hot leads (team or volume over the thresholds), meetings booked and hot-lead alerts sent; "
            "percentages are of all calls.",
        ),
        _chart_section(
            "Tool success",
            _tool_chart(sessions),
            "Share of tool calls that succeeded, per tool.",
        ),
        _chart_section(
            "Latency",
            _latency_chart(latency),
            "Time from the end of a session to its hot-lead alert and to its Salesforce upsert.",
            _latency_table(latency),
        ),
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
    """`python -m local.report_html REPORT.json [OUT.html]`: render a saved report (default: next to it)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or len(args) > 2:
        print("usage: python -m local.report_html REPORT.json [OUT.html]", file=sys.stderr)
        return 2
    source = Path(args[0])
    target = Path(args[1]) if len(args) == 2 else source.with_suffix(".html")
    report = json.loads(source.read_text(encoding="utf-8"))
    target.write_text(render_report_html(report), encoding="utf-8")
    print(target)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
