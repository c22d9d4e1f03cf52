"""What the demo report's page shows, computed from the report dict (build/demo/report.json) read defensively.

Optional keys may be missing or null: a session without signal fields counts as "not captured", a session without
insights is left out of the insights figures, a report without latency shows "n/a". No drawing and no HTML here:
local/demo/report_charts.py draws these figures, local/demo/report_html.py lays out the page.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
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
# The insights' next steps, in the order the sentiment chart shows them (any other value follows, as written).
NEXT_STEPS: dict[str, str] = {"meeting_booked": "Meeting booked", "follow_up": "Follow-up", "none": "No next step"}
SENTIMENT_FIGURES = ("start", "end", "overall")
# Weeks the topic chart shows apart (the latest ones); older calls are counted together as "earlier".
WEEKS_SHOWN = 4
EARLIER = "earlier"
UNDATED = "undated"
# The template's named query whose result the page lists (the demo runs every preset into report["queries"]).
UNANSWERED_QUERY = "top unanswered questions"
UNANSWERED_COLUMNS = ("question", "calls", "last_asked")


# --- reading the report defensively ----------------------------------------------------------------------


def as_number(value: Any) -> float | None:
    """A finite int or float from the report; anything else (missing, null, bool, text, NaN) is None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def as_count(value: Any) -> int | None:
    number = as_number(value)
    return round(number) if number is not None else None


def as_mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def sessions_of(report: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    sessions = report.get("sessions")
    if not isinstance(sessions, list):
        return []
    return [session for session in sessions if isinstance(session, Mapping)]


def tool_calls_of(session: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    calls = session.get("tool_calls")
    if not isinstance(calls, list):
        return []
    return [call for call in calls if isinstance(call, Mapping) and call.get("name") is not None]


def signal_value(session: Mapping[str, Any], field: str) -> Any:
    """A qualification signal: under the session's `signals` (as the demo writes it), else at the top level."""
    signals = session.get("signals")
    if isinstance(signals, Mapping) and signals.get(field) is not None:
        return signals[field]
    return session.get(field)


def has_signal(session: Mapping[str, Any], field: str) -> bool:
    value = signal_value(session, field)
    if value is None or value is False:
        return False
    if isinstance(value, str | list | tuple | dict):
        return len(value) > 0
    return True


def insights_of(session: Mapping[str, Any]) -> Mapping[str, Any]:
    """The session's insights as the demo copies them into report.json; {} when its record had none."""
    return as_mapping(session.get("insights"))


def cancel_intent(session: Mapping[str, Any]) -> bool:
    return insights_of(session).get("cancel_intent") is True


def strings(value: Any) -> list[str]:
    """A list of strings from the report (ids, questions); anything else is []."""
    return [str(item) for item in value if item is not None] if isinstance(value, list) else []


def meeting_booked(session: Mapping[str, Any]) -> bool:
    """`meeting_booked` when the report says it, else a successful booking among the session's tool calls."""
    booked = session.get("meeting_booked")
    if isinstance(booked, bool):
        return booked
    return any(call.get("name") == MEETING_TOOL and call.get("success") is True for call in tool_calls_of(session))


def format_count(value: Any) -> str:
    count = as_count(value)
    return f"{count:,}" if count is not None else "n/a"


def thousands(value: Any) -> str | None:
    count = as_count(value)
    return f"{count:,}" if count is not None else None


def format_ms(value: Any) -> str:
    number = as_number(value)
    if number is None:
        return "n/a"
    if number >= 10_000:
        return f"{number / 1000:,.1f} s"
    return f"{number:,.0f} ms" if number >= 100 else f"{number:,.1f} ms"


def format_percent(share: float) -> str:
    return f"{share * 100:.0f}%"


# --- what the charts count ------------------------------------------------------------------------------------------


def score_histogram(sessions: Iterable[Mapping[str, Any]]) -> list[int]:
    """Session counts per score bin: 0-9, 10-19, ..., 90-100 (100 falls in the last bin)."""
    counts = [0] * SCORE_BINS
    for session in sessions:
        score = as_number(session.get("score"))
        if score is None:
            continue
        index = min(SCORE_BINS - 1, max(0, int(score // 10)))
        counts[index] += 1
    return counts


def signal_coverage(sessions: Sequence[Mapping[str, Any]]) -> list[tuple[str, int]]:
    """For each signal field, how many sessions captured it."""
    return [(label, sum(has_signal(session, field) for session in sessions)) for field, label in SIGNAL_FIELDS]


def funnel(report: Mapping[str, Any], sessions: Sequence[Mapping[str, Any]]) -> list[tuple[str, int]]:
    """Calls → hot leads → meetings booked → alerts sent, counted over the sessions listed."""
    calls = len(sessions) if sessions else (as_count(report.get("sessions_replayed")) or 0)
    return [
        ("Calls", calls),
        ("Hot leads", sum(session.get("hot") is True for session in sessions)),
        ("Meetings booked", sum(meeting_booked(session) for session in sessions)),
        # Alerts of hot sessions only: a caller with cancel intent is alerted too, hot or not.
        ("Hot-lead alerts", sum(session.get("hot") is True and session.get("alerted") is True for session in sessions)),
    ]


def tool_success(sessions: Iterable[Mapping[str, Any]]) -> dict[str, tuple[int, int]]:
    """Per tool name: (successful calls, all calls), in order of first appearance."""
    stats: dict[str, tuple[int, int]] = {}
    for session in sessions:
        for call in tool_calls_of(session):
            name = str(call.get("name"))
            ok, total = stats.get(name, (0, 0))
            stats[name] = (ok + (call.get("success") is True), total + 1)
    return stats


def sentiment_by_outcome(
    sessions: Iterable[Mapping[str, Any]],
) -> list[tuple[str, int, dict[str, float | None]]]:
    """Per next step (meeting booked, follow-up, none, then any other in order of appearance): the calls with
    insights and their mean caller sentiment at the start, at the end and overall (None where no call had it)."""
    groups: dict[str, list[Mapping[str, Any]]] = {step: [] for step in NEXT_STEPS}
    for session in sessions:
        insights = insights_of(session)
        if insights:
            groups.setdefault(str(insights.get("next_step") or "none"), []).append(
                as_mapping(insights.get("sentiment"))
            )
    result = []
    for step, sentiments in groups.items():
        if not sentiments:
            continue
        means: dict[str, float | None] = {}
        for figure in SENTIMENT_FIGURES:
            values = [value for sentiment in sentiments if (value := as_number(sentiment.get(figure))) is not None]
            means[figure] = sum(values) / len(values) if values else None
        result.append((step, len(sentiments), means))
    return result


def week_of(started_at: Any) -> str | None:
    """The Monday (ISO date) of the week a call started in, as the "topics by week" query's date_trunc('week')."""
    if not isinstance(started_at, str):
        return None
    try:
        day = dt.date.fromisoformat(started_at[:10])
    except ValueError:
        return None
    return (day - dt.timedelta(days=day.weekday())).isoformat()


def topics_by_week(sessions: Iterable[Mapping[str, Any]]) -> tuple[list[str], list[tuple[str, dict[str, int]]]]:
    """The weeks shown (oldest first: "earlier" for weeks before the latest `WEEKS_SHOWN`, then the weeks, then
    "undated" when a call has no readable start) and, per topic (most calls first, then by id), calls per week."""
    counts: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for session in sessions:
        week = week_of(session.get("started_at")) or UNDATED
        for topic in dict.fromkeys(strings(insights_of(session).get("topics"))):
            counts[topic][week] += 1
    weeks = sorted({week for per_week in counts.values() for week in per_week} - {UNDATED})
    shown = weeks[-WEEKS_SHOWN:]

    def bucket(week: str) -> str:
        return week if week in shown or week == UNDATED else EARLIER

    merged: dict[str, Counter[str]] = {}
    for topic, per_week in counts.items():
        merged[topic] = Counter()
        for week, calls in per_week.items():
            merged[topic][bucket(week)] += calls
    present = {week for per_week in merged.values() for week in per_week}
    order = [week for week in (EARLIER, *shown, UNDATED) if week in present]
    rows = sorted(merged.items(), key=lambda item: (-sum(item[1].values()), item[0]))
    return order, [(topic, {week: per_week[week] for week in order if per_week[week]}) for topic, per_week in rows]


def unanswered_questions(report: Mapping[str, Any]) -> list[tuple[str, int | None, str | None]] | None:
    """(question, calls, last asked) rows of the "top unanswered questions" query as the demo ran it, most asked
    first; None when the report holds no result of that query (an older report, or one written without queries)."""
    queries = report.get("queries")
    for query in queries if isinstance(queries, list) else []:
        if not isinstance(query, Mapping) or query.get("name") != UNANSWERED_QUERY:
            continue
        columns = strings(query.get("columns"))
        if not set(UNANSWERED_COLUMNS) <= set(columns):
            return None
        question, calls, last = (columns.index(name) for name in UNANSWERED_COLUMNS)
        rows = query.get("rows")
        return [
            (str(row[question]), as_count(row[calls]), row[last] if isinstance(row[last], str) else None)
            for row in (rows if isinstance(rows, list) else [])
            if isinstance(row, list) and len(row) == len(columns)
        ]
    return None
