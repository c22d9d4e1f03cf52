"""The demo report as one self-contained HTML page: headline counts, latency, charts and a sessions table.

`render_report_html(report)` takes the dict the demo writes to `build/demo/report.json` and returns a page
that needs nothing else: inline CSS, charts as inline SVG, no script, no font, no image and no network request
(a Content-Security-Policy in the page forbids them), so it opens the same from a CI artifact, an email
attachment or a laptop with no connection.

The charts are drawn with matplotlib, imported only when a page is rendered, on its SVG canvas (no pyplot, no
display), saved to SVG in memory and inlined: the XML prolog and DOCTYPE are dropped, the root element is
replaced by one carrying the chart's aria-label and <title>, and the output is made reproducible (no date, a
fixed hash salt, text kept as <text> rather than glyph paths, no clip paths, markers or ids).

Every string that comes from the report (session ids, tool names, industries, ...) goes through
`html.escape` in the page, in text and in attributes alike; strings drawn in a chart (tool names) are escaped
by matplotlib's SVG writer, and read as plain text, never as mathtext. Numbers are formatted here. Optional
keys may be missing or null: a session without signal fields counts as "not captured", a report without
latency shows "n/a".

Charts (one `<svg>` each, always present, with an empty state when there is nothing to draw):
score distribution (0-100 in bins of 10), signal coverage, funnel, tool success per tool, latency p50/p95.
"""

from __future__ import annotations

import html
import io
import json
import math
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

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


def _signal(session: Mapping[str, Any], field: str) -> Any:
    """A qualification signal: under the session's `signals` (as the demo writes it), else at the top level."""
    signals = session.get("signals")
    if isinstance(signals, Mapping) and signals.get(field) is not None:
        return signals[field]
    return session.get(field)


def _has_signal(session: Mapping[str, Any], field: str) -> bool:
    value = _signal(session, field)
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


# --- drawing with matplotlib -----------------------------------------------------------------------------
#
# matplotlib is imported here, lazily, so importing this module (and the CLI, for its other commands) stays
# cheap. Figures are plain `matplotlib.figure.Figure` objects on the SVG canvas: no pyplot, so no global
# figure registry to leak into and no GUI backend, whatever backend the process has configured. Each figure is
# saved to an in-memory SVG string and then cut down to an element that can sit inline in the HTML page.

# Sizes in points (1 pt = 1 SVG unit); the page scales each chart to the width of its card. Margins are
# computed from the measured label widths instead of by a layout engine, which would draw every figure twice.
FIG_WIDTH = 518.0
ROW_HEIGHT = 26.0  # one bar of a horizontal chart
TICK_PAD = 3.5  # matplotlib's default gap between an axis and its tick labels
LABEL_CHARS = 40  # longer category labels (tool names) are cut in the charts; the table shows them whole
TRACK = "#f1f5f9"
CANVAS = "#f8fafc"

# Applied on top of matplotlib's defaults (not the user's matplotlibrc), for the duration of one render.
PLOT_STYLE: dict[str, Any] = {
    # Deterministic, small SVG: a fixed salt for the ids matplotlib derives, text kept as <text> (readable,
    # searchable, escaped by matplotlib) instead of glyph outlines.
    "svg.hashsalt": "voice-analytics-report",
    "svg.fonttype": "none",
    # Labels come from the data: never read a `$...$` in a tool name as mathtext (which could fail to parse).
    "text.parse_math": False,
    "text.usetex": False,
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica"],
    "font.size": 11,
    "text.color": INK,
    "axes.edgecolor": GRID,
    "axes.labelcolor": MUTED,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.axisbelow": True,
    "xtick.color": MUTED,
    "ytick.color": MUTED,
    "ytick.labelcolor": INK,
    "xtick.labelsize": 10,
    "ytick.labelsize": 11,
    "grid.color": GRID,
    "grid.linewidth": 0.8,
    "legend.frameon": False,
    "legend.fontsize": 10,
    "figure.facecolor": "white",
}

_XML_PROLOG = re.compile(r"\A.*?(?=<svg[\s>])", re.DOTALL)  # <?xml ...?>, <!DOCTYPE ...>, comments
_DEFAULT_STYLE = re.compile(r"<defs>\s*<style[^>]*>[^<]*</style>\s*</defs>")  # moved into the page CSS
_GROUP_ID = re.compile(r'<g id="[^"]*"')  # matplotlib's ids repeat across charts and nothing refers to them


@dataclass(frozen=True)
class Row:
    """One horizontal bar: its label, stacked (value, colour) segments and the note shown to its right."""

    label: str
    segments: tuple[tuple[float, str], ...]
    note: str


def _chart_label(value: Any) -> str:
    """A data string as a one-line chart label (control characters and runs of spaces folded, long ones cut)."""
    text = " ".join(str(value).split())
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…"


def _figure(height: float) -> Figure:
    """A figure `FIG_WIDTH` x `height` points on the SVG canvas (explicit and non-interactive: never a display)."""
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure

    figure = Figure(figsize=(FIG_WIDTH / 72, height / 72))
    FigureCanvasSVG(figure)
    return figure


def _axes(figure: Figure, *, left: float, right: float, top: float, bottom: float) -> Axes:
    """Axes filling the figure but for the given margins (points)."""
    width, height = figure.get_figwidth() * 72, figure.get_figheight() * 72
    return figure.add_axes((left / width, bottom / height, 1 - (left + right) / width, 1 - (top + bottom) / height))


def _text_width(texts: Iterable[str], size: float) -> float:
    """The width in points of the widest of `texts` at font size `size`, measured with matplotlib's font."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import text_to_path

    font = FontProperties(size=size)
    return max((text_to_path.get_text_width_height_descent(text, font, ismath=False)[0] for text in texts), default=0)


def _svg(figure: Figure, title: str) -> str:
    """The figure as an inline `<svg>` element labelled `title` (role img, aria-label and <title>)."""
    buffer = io.StringIO()
    # No Date (reproducible), no Creator/Format/Type: with nothing left, matplotlib writes no <metadata> (whose
    # RDF namespaces would be the only URLs in the page besides the SVG namespace).
    figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    figure.clear()  # drop the artists now; the figure is not registered anywhere, so nothing else holds it
    svg = _XML_PROLOG.sub("", buffer.getvalue(), count=1)
    root_end = svg.index(">") + 1
    view_box = re.search(r'viewBox="([^"]+)"', svg[:root_end])
    if not svg.startswith("<svg") or view_box is None:  # pragma: no cover - a change in matplotlib's output
        raise RuntimeError("unexpected SVG from matplotlib")
    # Our own root element: the SVG namespace only (no xlink: nothing here links), sized by the page's CSS.
    root = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="{view_box.group(1)}" role="img" '
        f'aria-label="{_e(title)}" preserveAspectRatio="xMidYMid meet"><title>{_e(title)}</title>'
    )
    body = _DEFAULT_STYLE.sub("", svg[root_end:], count=1)
    body = _GROUP_ID.sub("<g", body)
    body = re.sub(r">\s+<", "><", body)  # indentation between elements (text content is never only spaces)
    return root + body.strip()


def _empty_chart(title: str, message: str) -> str:
    from matplotlib.patches import FancyBboxPatch

    figure = _figure(140.0)
    figure.add_artist(
        FancyBboxPatch(
            (0.01, 0.02),
            0.98,
            0.96,
            boxstyle="round,pad=0,rounding_size=0.03",
            transform=figure.transFigure,
            facecolor=CANVAS,
            edgecolor=GRID,
            mutation_aspect=FIG_WIDTH / 140.0,
        )
    )
    figure.text(0.5, 0.5, message, ha="center", va="center", fontsize=13, color=MUTED)
    return _svg(figure, title)


def _style_value_axis(axes: Axes, axis: Literal["x", "y"]) -> None:
    """Light grid lines along the value axis, no tick marks; nothing clipped (so the SVG needs no clip paths)."""
    axes.grid(axis=axis)
    axes.tick_params(length=0, grid_clip_on=False)
    for spine in axes.spines.values():
        spine.set_visible(False)
    axes.spines["left" if axis == "x" else "bottom"].set_visible(True)


def _rows_chart(
    rows: Sequence[Row],
    *,
    title: str,
    scale_max: float,
    share: bool = False,
    value_label: str = "",
    legend: Sequence[tuple[str, str]] = (),
) -> str:
    """Horizontal bars on a light track, a label on the left and a note on the right of each.

    `scale_max` is the full width; `share` formats the value axis as percentages. Used for coverage, the funnel,
    tool success and latency.
    """
    from matplotlib.patches import Patch
    from matplotlib.ticker import FuncFormatter, MaxNLocator, PercentFormatter

    labels = [_chart_label(row.label) for row in rows]
    notes = [row.note for row in rows]
    top = 30.0 if legend else 8.0
    bottom = TICK_PAD + 14 + (16 if value_label else 0) + 6
    figure = _figure(top + ROW_HEIGHT * len(rows) + bottom)
    # Labels are cut to LABEL_CHARS; the caps only matter for unusually wide characters (the SVG then crops).
    axes = _axes(
        figure,
        left=min(_text_width(labels, 11), FIG_WIDTH * 0.45) + TICK_PAD + 6,
        right=min(_text_width(notes, 11), FIG_WIDTH * 0.25) + TICK_PAD + 6,
        top=top,
        bottom=bottom,
    )
    positions = list(range(len(rows)))
    axes.barh(positions, [scale_max] * len(rows), height=0.62, color=TRACK, clip_on=False)
    for position, row in zip(positions, rows, strict=True):
        left = 0.0
        for value, color in row.segments:
            width = min(max(0.0, value), scale_max - left)
            if width > 0:
                axes.barh(position, width, left=left, height=0.62, color=color, clip_on=False)
                left += width
    axes.set_yticks(positions, labels=labels)
    axes.set_ylim(len(rows) - 0.5, -0.5)  # first row on top
    axes.set_xlim(0, scale_max)
    if share:
        axes.xaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
        axes.xaxis.set_major_locator(MaxNLocator(nbins=4))
    else:
        axes.xaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
        axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
    if value_label:
        axes.set_xlabel(value_label)
    _style_value_axis(axes, "x")
    right_axis = axes.secondary_yaxis("right")
    right_axis.set_yticks(positions, labels=notes)
    right_axis.tick_params(length=0)
    right_axis.spines["right"].set_visible(False)
    if legend:
        axes.legend(
            handles=[Patch(facecolor=color, label=name) for name, color in legend],
            loc="lower left",
            bbox_to_anchor=(0.0, 1.0),
            ncols=len(legend),
            borderaxespad=0.2,
            handlelength=1.0,
        )
    return _svg(figure, title)


def _score_chart(sessions: Sequence[Mapping[str, Any]]) -> str:
    from matplotlib.ticker import MaxNLocator

    counts = score_histogram(sessions)
    title = "Score distribution"
    if not any(counts):
        return _empty_chart(title, "No scored sessions")
    labels = [f"{low}-{low + 9}" if low < 90 else f"{low}-100" for low in range(0, 100, 10)]
    colors = [GREEN if low >= 70 else BLUE if low >= 40 else GREY for low in range(0, 100, 10)]
    figure = _figure(240.0)
    axes = _axes(figure, left=46.0, right=8.0, top=8.0, bottom=40.0)
    bars = axes.bar(range(SCORE_BINS), counts, width=0.78, color=colors, clip_on=False)
    axes.bar_label(bars, labels=[str(count) if count else "" for count in counts], padding=2, fontsize=10)
    axes.set_xticks(range(SCORE_BINS), labels=labels)
    axes.tick_params(axis="x", labelsize=9, labelcolor=MUTED)
    axes.set_xlim(-0.6, SCORE_BINS - 0.4)
    axes.set_ylim(0, max(counts) * 1.15)
    axes.yaxis.set_major_locator(MaxNLocator(nbins=4, integer=True))
    axes.set_ylabel("sessions")
    axes.set_xlabel("lead score")
    _style_value_axis(axes, "y")
    axes.spines["left"].set_visible(False)
    axes.spines["bottom"].set_visible(True)
    axes.spines["bottom"].set_color(MUTED)
    return _svg(figure, title)


def _coverage_chart(sessions: Sequence[Mapping[str, Any]]) -> str:
    title = "Signal coverage"
    if not sessions:
        return _empty_chart(title, "No sessions")
    total = len(sessions)
    rows = [
        Row(label, ((count / total, BLUE),), f"{_fmt_percent(count / total)} ({count}/{total})")
        for label, count in signal_coverage(sessions)
    ]
    return _rows_chart(rows, title=title, scale_max=1.0, share=True)


def _funnel_chart(report: Mapping[str, Any], sessions: Sequence[Mapping[str, Any]]) -> str:
    title = "Funnel"
    stages = funnel(report, sessions)
    calls = stages[0][1]
    if not sessions or calls <= 0:
        return _empty_chart(title, "No sessions")
    colors = (BLUE, ORANGE, GREEN, RED)
    rows = [
        Row(label, ((count, color),), f"{count} ({_fmt_percent(count / calls)})")
        for (label, count), color in zip(stages, colors, strict=True)
    ]
    return _rows_chart(rows, title=title, scale_max=float(calls))


def _tool_chart(sessions: Sequence[Mapping[str, Any]]) -> str:
    title = "Tool success rate"
    stats = tool_success(sessions)
    if not stats:
        return _empty_chart(title, "No tool calls")
    rows = [
        Row(name, ((ok / total, GREEN), ((total - ok) / total, RED)), f"{_fmt_percent(ok / total)} ({ok}/{total})")
        for name, (ok, total) in stats.items()
    ]
    return _rows_chart(rows, title=title, scale_max=1.0, share=True, legend=(("succeeded", GREEN), ("failed", RED)))


def _latency_chart(latency: Mapping[str, Any]) -> str:
    title = "Latency from session end (p50 / p95)"
    rows: list[Row] = []
    for field, label in LATENCY_FIELDS:
        figures = _mapping(latency.get(field))
        for stat, color in (("p50", BLUE), ("p95", ORANGE)):
            number = _number(figures.get(stat))
            if number is not None:
                rows.append(Row(f"{label} {stat}", ((max(0.0, number), color),), _fmt_ms(number)))
    if not rows:
        return _empty_chart(title, "No latency figures")
    scale = max(value for row in rows for value, _ in row.segments) * 1.05 or 1.0
    return _rows_chart(
        rows, title=title, scale_max=scale, value_label="milliseconds", legend=(("p50", BLUE), ("p95", ORANGE))
    )


def _charts(report: Mapping[str, Any], sessions: Sequence[Mapping[str, Any]], latency: Mapping[str, Any]) -> list[str]:
    """The five charts as inline SVG, drawn with matplotlib under `PLOT_STYLE` (restored afterwards)."""
    import matplotlib.style

    with matplotlib.style.context(["default", PLOT_STYLE]):
        return [
            _score_chart(sessions),
            _coverage_chart(sessions),
            _funnel_chart(report, sessions),
            _tool_chart(sessions),
            _latency_chart(latency),
        ]


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
    integrations = _signal(session, "integrations")
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
        _cell(_thousands(_signal(session, "team_size")), numeric=True),
        _cell(_thousands(_signal(session, "monthly_volume")), numeric=True),
        _cell(_signal(session, "industry")),
        _cell(integrations_text),
        _cell(_signal(session, "urgency")),
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
    score_svg, coverage_svg, funnel_svg, tool_svg, latency_svg = _charts(report_map, sessions, latency)
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
