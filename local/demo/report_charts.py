"""The demo report's charts, drawn with matplotlib as inline SVG (local/demo/report_html.py lays out the page).

matplotlib is imported only when a chart is drawn, on its SVG canvas (no pyplot, no display); each figure is saved
to SVG in memory and inlined: the XML prolog and DOCTYPE are dropped, the root element is replaced by one carrying
the chart's aria-label and <title>, and the output is made reproducible (no date, a fixed hash salt, text kept as
<text> rather than glyph paths, no clip paths, markers or ids). Strings drawn in a chart (tool names, topic ids,
next steps) are escaped by matplotlib's SVG writer and read as plain text, never as mathtext.

Charts (one `<svg>` each, always present, with an empty state when there is nothing to draw): score distribution
(0-100 in bins of 10), signal coverage, funnel, tool success per tool, latency p50/p95, caller sentiment by outcome,
topics by week.
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from local.demo.report_figures import (
    EARLIER,
    LATENCY_FIELDS,
    NEXT_STEPS,
    SCORE_BINS,
    UNDATED,
    as_mapping,
    as_number,
    format_ms,
    format_percent,
    funnel,
    score_histogram,
    sentiment_by_outcome,
    signal_coverage,
    tool_success,
    topics_by_week,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

# Palette: readable on white and in print, distinguishable for the common colour-vision deficiencies.
BLUE = "#2563eb"
ORANGE = "#ea580c"
GREEN = "#16a34a"
RED = "#dc2626"
GREY = "#94a3b8"
INK = "#1e293b"
MUTED = "#64748b"
GRID = "#e2e8f0"
# Weeks in the topic chart, the latest first: dark to light blue; earlier weeks grey.
WEEK_COLORS = ("#1e3a8a", BLUE, "#60a5fa", "#bfdbfe")
TRACK_DARK = "#cbd5e1"


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
    label = html.escape(title, quote=True)
    # Our own root element: the SVG namespace only (no xlink: nothing here links), sized by the page's CSS.
    root = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="{view_box.group(1)}" role="img" '
        f'aria-label="{label}" preserveAspectRatio="xMidYMid meet"><title>{label}</title>'
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
        Row(label, ((count / total, BLUE),), f"{format_percent(count / total)} ({count}/{total})")
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
        Row(label, ((count, color),), f"{count} ({format_percent(count / calls)})")
        for (label, count), color in zip(stages, colors, strict=True)
    ]
    return _rows_chart(rows, title=title, scale_max=float(calls))


def _tool_chart(sessions: Sequence[Mapping[str, Any]]) -> str:
    title = "Tool success rate"
    stats = tool_success(sessions)
    if not stats:
        return _empty_chart(title, "No tool calls")
    rows = [
        Row(name, ((ok / total, GREEN), ((total - ok) / total, RED)), f"{format_percent(ok / total)} ({ok}/{total})")
        for name, (ok, total) in stats.items()
    ]
    return _rows_chart(rows, title=title, scale_max=1.0, share=True, legend=(("succeeded", GREEN), ("failed", RED)))


def _latency_chart(latency: Mapping[str, Any]) -> str:
    title = "Latency from session end (p50 / p95)"
    rows: list[Row] = []
    for field, label in LATENCY_FIELDS:
        figures = as_mapping(latency.get(field))
        for stat, color in (("p50", BLUE), ("p95", ORANGE)):
            number = as_number(figures.get(stat))
            if number is not None:
                rows.append(Row(f"{label} {stat}", ((max(0.0, number), color),), format_ms(number)))
    if not rows:
        return _empty_chart(title, "No latency figures")
    scale = max(value for row in rows for value, _ in row.segments) * 1.05 or 1.0
    return _rows_chart(
        rows, title=title, scale_max=scale, value_label="milliseconds", legend=(("p50", BLUE), ("p95", ORANGE))
    )


def _sentiment_chart(sessions: Sequence[Mapping[str, Any]]) -> str:
    """Grouped bars on a -1..1 scale: the mean caller sentiment at the start, at the end and overall, per outcome."""
    from matplotlib.patches import Patch
    from matplotlib.ticker import MaxNLocator

    title = "Caller sentiment by outcome"
    groups = sentiment_by_outcome(sessions)
    if not groups:
        return _empty_chart(title, "No call insights")
    figures = (("start", GREY, "start"), ("end", BLUE, "end"), ("overall", ORANGE, "overall"))
    magnitudes = [abs(value) for _, _, means in groups for value in means.values() if value is not None]
    # The scale follows the data (calls rarely average beyond +/-0.5), never beyond the model's -1..1.
    limit = min(1.0, max(0.5, max(magnitudes, default=0.0) * 1.3))
    figure = _figure(260.0)
    axes = _axes(figure, left=52.0, right=8.0, top=30.0, bottom=30.0)
    width = 0.26
    for offset, (key, color, _) in zip((-width, 0.0, width), figures, strict=True):
        values = [means[key] for _, _, means in groups]
        bars = axes.bar(
            [index + offset for index in range(len(groups))],
            [value or 0.0 for value in values],
            width=width * 0.9,
            color=color,
            clip_on=False,
        )
        axes.bar_label(
            bars, labels=[f"{value:+.2f}" if value is not None else "n/a" for value in values], padding=2, fontsize=8
        )
    axes.axhline(0.0, color=MUTED, linewidth=0.8, clip_on=False)
    labels = [f"{_chart_label(NEXT_STEPS.get(step, step))} ({calls})" for step, calls, _ in groups]
    axes.set_xticks(range(len(groups)), labels=labels)
    axes.tick_params(axis="x", labelsize=10, labelcolor=INK)
    axes.set_xlim(-0.6, len(groups) - 0.4)
    axes.set_ylim(-limit, limit)
    axes.yaxis.set_major_locator(MaxNLocator(nbins=4, symmetric=True))
    axes.set_ylabel("sentiment (-1 to 1)")
    _style_value_axis(axes, "y")
    axes.spines["left"].set_visible(False)
    axes.legend(
        handles=[Patch(facecolor=color, label=name) for _, color, name in figures],
        loc="lower left",
        bbox_to_anchor=(0.0, 1.0),
        ncols=len(figures),
        borderaxespad=0.2,
        handlelength=1.0,
    )
    return _svg(figure, title)


def _topic_chart(sessions: Sequence[Mapping[str, Any]]) -> str:
    """Calls per topic (taxonomy id), each bar split by the week of the call (the latest weeks apart)."""
    title = "Topics by week"
    weeks, topics = topics_by_week(sessions)
    if not topics:
        return _empty_chart(title, "No topics in the call insights")
    dated = [week for week in weeks if week not in (EARLIER, UNDATED)]
    colors = {week: WEEK_COLORS[len(dated) - 1 - index] for index, week in enumerate(dated)}
    colors.update({EARLIER: GREY, UNDATED: TRACK_DARK})
    with_insights = sum(1 for session in sessions if as_mapping(session.get("insights")))
    rows = [
        Row(
            topic,
            tuple((float(per_week[week]), colors[week]) for week in weeks if week in per_week),
            f"{sum(per_week.values())} ({format_percent(sum(per_week.values()) / with_insights)})",
        )
        for topic, per_week in topics
    ]
    scale = float(max(sum(per_week.values()) for _, per_week in topics))
    legend = [(f"week of {week}" if week not in (EARLIER, UNDATED) else week, colors[week]) for week in weeks]
    return _rows_chart(rows, title=title, scale_max=scale, value_label="calls", legend=legend)


def draw_charts(
    report: Mapping[str, Any], sessions: Sequence[Mapping[str, Any]], latency: Mapping[str, Any]
) -> list[str]:
    """The charts as inline SVG, in the order of CHART_TITLES, drawn under `PLOT_STYLE` (restored afterwards)."""
    import matplotlib.style

    with matplotlib.style.context(["default", PLOT_STYLE]):
        return [
            _score_chart(sessions),
            _coverage_chart(sessions),
            _funnel_chart(report, sessions),
            _tool_chart(sessions),
            _latency_chart(latency),
            _sentiment_chart(sessions),
            _topic_chart(sessions),
        ]
