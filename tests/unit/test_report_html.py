"""`local.demo.report_html.render_report_html`: a self-contained page, escaped data, one SVG per chart, empty states."""

from __future__ import annotations

import copy
import html
import re
import struct
import subprocess
import sys
import zlib
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from local.demo.report_figures import (
    funnel,
    score_histogram,
    sentiment_by_outcome,
    signal_coverage,
    tool_success,
    topics_by_week,
    unanswered_questions,
)
from local.demo.report_html import consistency_problems, render_report_html
from tests.chromium import HEADLESS_FLAGS

REPO = Path(__file__).resolve().parents[2]

CHART_LABELS = [
    "Score distribution",
    "Signal coverage",
    "Funnel",
    "Tool success rate",
    "Latency from session end (p50 / p95)",
    "Caller sentiment by outcome",
    "Topics by week",
]
CHART_COUNT = 7  # score distribution, signal coverage, funnel, tool success, latency, sentiment, topics
VOID_ELEMENTS = {"meta", "link", "br", "hr", "img", "input", "col", "area", "base", "embed", "source", "wbr"}
SVG_SELF_CLOSING = {"rect", "line", "path", "circle"}


def sample_report() -> dict[str, Any]:
    sessions: list[dict[str, Any]] = [
        {
            "session_id": "demo-call-0001",
            "score": 77,
            "grade": "A",
            "hot": True,
            "salesforce_lead_id": "00Q5e000001AbCdEAA",
            "alerted": True,
            "team_size": 12,
            "monthly_volume": 300,
            "integrations": ["salesforce"],
            "industry": "legal",
            "urgency": "asap",
            "meeting_booked": True,
            "tool_calls": [
                {"name": "unleash_search_knowledge", "success": True},
                {"name": "book_sales_meeting", "success": True},
            ],
            "duration_s": 30.0,
            "started_at": "2026-11-18T10:00:00Z",
            "alert_types": ["hot_lead"],
            "insights": {
                "summary": "A law firm of 12 asked about the Salesforce sync and booked a meeting.",
                "sentiment": {"overall": 0.6, "start": 0.2, "end": 0.8},
                "topics": ["integrations", "pricing"],
                "competitors": [],
                "next_step": "meeting_booked",
                "cancel_intent": False,
                "unanswered_questions": [],
            },
        },
        {
            "session_id": "demo-call-0002",
            "score": 13,
            "grade": "D",
            "hot": False,
            "salesforce_lead_id": "00Q5e000002AbCdEAA",
            "team_size": 1,
            "monthly_volume": 15,
            "integrations": [],
            "industry": "real_estate",
            "urgency": None,
            "meeting_booked": False,
            "tool_calls": [{"name": "unleash_search_knowledge", "success": False}],
            "duration_s": 24.0,
            "started_at": "2026-11-24T09:00:00Z",
            "alert_types": ["cancel_risk"],
            "alerted": True,
            "insights": {
                "summary": "A realtor wants to cancel: too expensive, moving to DocuSign.",
                "sentiment": {"overall": -0.4, "start": -0.1, "end": -0.7},
                "topics": ["pricing"],
                "competitors": ["docusign"],
                "next_step": "follow_up",
                "cancel_intent": True,
                "unanswered_questions": ["cheapest plan pricing"],
            },
        },
        {
            "session_id": "demo-call-0003",
            "score": 100,
            "grade": "A",
            "hot": True,
            "salesforce_lead_id": None,
            "alerted": True,
            "team_size": 60,
            "monthly_volume": 1500,
            "integrations": ["salesforce", "api"],
            "industry": "insurance",
            "urgency": "before the end of the quarter",
            # no meeting_booked key: the report derives it from the tool calls
            "tool_calls": [
                {"name": "book_sales_meeting", "success": False},
                {"name": "book_sales_meeting", "success": True},
            ],
            "duration_s": 264.0,
            "started_at": "2026-11-25T16:30:00Z",
            "alert_types": ["hot_lead"],
            "insights": {
                "summary": "An insurance agency of 60 asked about the API; the booking failed once, then worked.",
                "sentiment": {"overall": 0.2, "start": None, "end": 0.4},
                "topics": ["api", "integrations"],
                "competitors": ["adobe_sign"],
                "next_step": "meeting_booked",
                "cancel_intent": False,
                "unanswered_questions": [],
            },
        },
        # Only the required keys.
        {"session_id": "demo-call-0004", "score": 0, "grade": "D", "hot": False, "salesforce_lead_id": None},
    ]
    return {
        "sessions_replayed": 4,
        "sessions_exported": 4,
        "sessions_scored": 4,
        "hot_leads": 2,
        "salesforce": {"leads": 3, "tasks": 3},
        "amplitude_events": 11,
        "sns_alerts": 3,
        "alerts_by_type": {"hot_lead": 2, "cancel_risk": 1},
        "dlq_messages": 0,
        "quarantined": 0,
        "latency_ms": {
            "session_end_to_alert": {"p50": 412.3, "p95": 1180.0},
            "session_end_to_salesforce": {"p50": 655.0, "p95": 1904.2},
        },
        "queries": [
            {"name": "hot leads by day", "columns": ["day", "hot_leads"], "rows": [["2026-11-18", 1]]},
            {
                "name": "top unanswered questions",
                "columns": ["question", "calls", "last_asked"],
                "rows": [["cheapest plan pricing", 2, "2026-11-24T09:00:00Z"], ["azure tenant", 1, None]],
            },
        ],
        "sessions": sessions,
    }


class _TagChecker(HTMLParser):
    """Checks that every non-void element is closed in order (the page is hand-assembled, so this matters)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag not in VOID_ELEMENTS:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}> with open {self.stack[-3:]}")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(page: str) -> _TagChecker:
    checker = _TagChecker()
    checker.feed(page)
    checker.close()
    return checker


def test_renders_a_complete_well_formed_page_with_the_headline_figures() -> None:
    page = render_report_html(sample_report())
    checker = parse(page)

    assert page.startswith("<!DOCTYPE html>")
    assert checker.errors == [] and checker.stack == []
    text = " ".join(checker.text)
    for expected in ("Sessions replayed", "Hot leads", "Salesforce leads", "Amplitude events", "DLQ messages"):
        assert expected in text
    assert "Consistent" in text
    assert "412 ms" in text and "1,904 ms" in text  # latency p50 / p95
    for session_id in ("demo-call-0001", "demo-call-0002", "demo-call-0003", "demo-call-0004"):
        assert session_id in text
    assert "1,500" in text  # monthly volume, formatted


def test_has_one_svg_per_chart_each_labelled() -> None:
    page = render_report_html(sample_report())
    checker = parse(page)

    assert checker.tags.count("svg") == CHART_COUNT
    labels = re.findall(r'<svg [^>]*aria-label="([^"]+)"', page)
    assert labels == CHART_LABELS


def test_is_self_contained() -> None:
    page = render_report_html(sample_report())

    assert "<script" not in page.lower()
    assert not re.search(r"\b(src|href)\s*=", page, re.IGNORECASE)
    assert "@import" not in page and "url(" not in page
    # The only URL is the SVG namespace, which is a name, not a request.
    assert set(re.findall(r"https?://[^\s\"'<>]+", page)) == {"http://www.w3.org/2000/svg"}
    assert "Content-Security-Policy" in page


def test_escapes_hostile_strings_from_the_data() -> None:
    report = sample_report()
    hostile = report["sessions"][0]
    hostile["session_id"] = "<script>alert('id')</script>"
    hostile["industry"] = '"><img src=x onerror=alert(1)>'
    hostile["urgency"] = "</td></tr></table><script>alert(2)</script>"
    hostile["integrations"] = ["<b>bold</b>", "a&b"]
    hostile["grade"] = '" onmouseover="alert(3)'
    hostile["salesforce_lead_id"] = "<svg onload=alert(4)>"
    hostile["tool_calls"] = [{"name": "<svg/onload=alert(5)>", "success": False}]
    hostile["insights"] = {
        "summary": "' onmouseover='alert(6)' <script>alert(7)</script>",
        "topics": ["<img src=x onerror=alert(8)>"],
        "competitors": ["<iframe>"],
        "next_step": "<b>soon</b>",
        "cancel_intent": True,
    }
    hostile["alert_types"] = ["<script>alert(9)</script>"]
    report["queries"][1]["rows"] = [["<script>alert(10)</script>", 1, "<b>today</b>"]]
    report["generated_at"] = "<iframe src=//evil.example>"

    page = render_report_html(report)
    checker = parse(page)

    assert "<script" not in page.lower()
    assert "<img" not in page.lower() and "<iframe" not in page.lower() and "<b>" not in page
    assert 'onmouseover="alert' not in page and "onmouseover='alert" not in page
    assert "title='&#x27; onmouseover=&#x27;alert(6)&#x27; &lt;script&gt;" in page  # the summary, in an attribute
    assert "&lt;script&gt;alert(&#x27;id&#x27;)&lt;/script&gt;" in page
    assert "a&amp;b" in page
    assert checker.errors == [] and checker.stack == []
    assert checker.tags.count("svg") == CHART_COUNT  # a hostile tool name in a chart label adds no element
    assert "<svg onload" not in page and "<svg/onload" not in page


def _chart_svgs(page: str) -> dict[str, str]:
    """Each chart's <svg> element, by its aria-label."""
    return {
        label: svg
        for svg in re.findall(r"<svg .*?</svg>", page, re.DOTALL)
        for label in re.findall(r'aria-label="([^"]+)"', svg)[:1]
    }


def test_strings_drawn_in_charts_are_escaped_and_read_as_plain_text() -> None:
    report = sample_report()
    report["sessions"][0]["tool_calls"] = [
        {"name": "<script>alert('tool')</script>", "success": False},
        # Not mathtext (an unparseable formula would make matplotlib raise), not markup: shown as written.
        {"name": '$\\frac{a}{$ & "q" </text><svg onload=6>', "success": True},
        {"name": "a_tool_name_far_too_long_for_a_chart_label_" + "x" * 40, "success": True},
    ]

    page = render_report_html(report)
    tool_chart = _chart_svgs(page)["Tool success rate"]

    assert "<script" not in page.lower() and "<svg onload" not in page
    assert parse(page).errors == [] and parse(page).tags.count("svg") == CHART_COUNT
    assert "&lt;script&gt;alert('tool')&lt;/script&gt;" in tool_chart
    assert '$\\frac{a}{$ &amp; "q" &lt;/text&gt;&lt;svg onload=6&gt;' in tool_chart
    assert ">a_tool_name_far_too_long_for_a_chart_la…<" in tool_chart  # cut in the chart ...
    assert "a_tool_name_far_too_long_for_a_chart_label_" + "x" * 40 in page  # ... whole in the table
    labels = parse(tool_chart)
    assert labels.tags.count("text") >= 4 and labels.errors == []


def test_charts_are_matplotlib_svg_inlined_cleanly_and_reproducibly() -> None:
    import matplotlib

    fonttype_before = matplotlib.rcParams["svg.fonttype"]
    page = render_report_html(sample_report())

    assert render_report_html(sample_report()) == page  # no date, no random ids
    assert "<?xml" not in page and "<!DOCTYPE svg" not in page and "<metadata" not in page
    assert page.count("<!DOCTYPE") == 1
    ids = re.findall(r'\bid="([^"]*)"', page)
    assert len(ids) == len(set(ids))  # five SVGs in one document: no id repeated
    charts = _chart_svgs(page)
    assert len(charts) == CHART_COUNT
    for label, svg in charts.items():
        assert f"<title>{label}</title>" in svg
        assert "<text" in svg and "<path" in svg  # text kept as text, not glyph outlines
    # The page's matplotlib settings do not leak into the process.
    assert matplotlib.rcParams["svg.fonttype"] == fonttype_before


def test_matplotlib_is_imported_only_to_render() -> None:
    code = (
        "import sys, json\n"
        "import local.demo.report_html, voice_analytics.cli\n"
        "assert 'matplotlib' not in sys.modules, 'imported at module level'\n"
        "local.demo.report_html.render_report_html({'sessions': []})\n"
        "assert 'matplotlib' in sys.modules\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot keeps a global registry of figures'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]


def test_reads_signals_nested_under_signals_as_the_demo_writes_them() -> None:
    report = sample_report()
    for session in report["sessions"]:
        session["signals"] = {
            field: session.pop(field)
            for field in ("team_size", "monthly_volume", "integrations", "industry", "urgency")
            if field in session
        }

    assert dict(signal_coverage(report["sessions"])) == {
        "Team size": 3,
        "Monthly volume": 3,
        "Integrations": 2,
        "Urgency": 2,
        "Industry": 3,
    }
    text = " ".join(parse(render_report_html(report)).text)
    assert "1,500" in text and "insurance" in text and "before the end of the quarter" in text


def test_handles_an_empty_sessions_list() -> None:
    report = sample_report()
    report["sessions"] = []
    report.update(sessions_replayed=0, sessions_exported=0, sessions_scored=0, hot_leads=0, sns_alerts=0)

    page = render_report_html(report)
    checker = parse(page)

    assert checker.errors == [] and checker.stack == []
    assert checker.tags.count("svg") == CHART_COUNT
    assert "No sessions in this report." in page
    assert "No scored sessions" in page and "No tool calls" in page
    assert "No call insights" in page and "No topics in the call insights" in page
    assert "No caller said they would cancel." in page
    assert "<table" in page  # the latency table is still there


def test_tolerates_missing_and_null_optional_keys() -> None:
    report: dict[str, Any] = {
        "sessions": [{"session_id": "only-required", "score": None, "grade": None, "hot": None}],
        "latency_ms": {"session_end_to_alert": {"p50": None}},
        "salesforce": None,
        "dlq_messages": "many",
    }

    page = render_report_html(report)

    assert parse(page).errors == []
    assert page.count("n/a") >= 8  # headline counts and latency figures that are absent
    assert "No latency figures" in page
    assert "only-required" in page


def test_reports_what_does_not_add_up() -> None:
    report = sample_report()
    report.update(sessions_exported=3, dlq_messages=2, quarantined=1, sns_alerts=2)
    report["sessions"][2]["alerted"] = False

    page = render_report_html(report)
    problems = consistency_problems(report, report["sessions"])

    assert "Needs attention" in page and "Consistent:" not in page
    assert "3 of 4 replayed sessions were exported" in problems
    assert "2 message(s) in dead-letter queues" in problems
    assert "1 record(s) quarantined" in problems
    assert "2 alert(s) for 3 hot or cancel-intent call(s); expected one per call" in problems
    assert "hot or cancel-intent call(s) without an alert: demo-call-0003" in problems


def test_a_caller_with_cancel_intent_who_is_not_hot_is_due_an_alert() -> None:
    """demo-call-0002 is not hot, but its caller means to cancel: its alert is expected, and its absence is not."""
    report = sample_report()

    assert consistency_problems(report, report["sessions"]) == []
    assert "Consistent:" in render_report_html(report)

    report["sessions"][1]["alerted"] = False
    report.update(sns_alerts=2, alerts_by_type={"hot_lead": 2, "cancel_risk": 0})

    assert consistency_problems(report, report["sessions"]) == [
        "2 alert(s) for 3 hot or cancel-intent call(s); expected one per call",
        "hot or cancel-intent call(s) without an alert: demo-call-0002",
    ]


def test_chart_figures() -> None:
    report = sample_report()
    sessions = report["sessions"]

    scores = [{"score": value} for value in (0, 9, 10, 55, 99, 100, None, "x", True)]
    expected_bins = [2, 1, 0, 0, 0, 1, 0, 0, 0, 2]  # 100 falls in the last bin; non-numbers are skipped
    assert score_histogram(scores) == expected_bins
    assert dict(signal_coverage(sessions)) == {
        "Team size": 3,
        "Monthly volume": 3,
        "Integrations": 2,
        "Urgency": 2,
        "Industry": 3,
    }
    # demo-call-0003 has no meeting_booked key, but a successful booking among its tool calls.
    # demo-call-0002's alert is a cancel-risk alert (it is not hot): not a hot-lead alert.
    assert funnel(report, sessions) == [("Calls", 4), ("Hot leads", 2), ("Meetings booked", 2), ("Hot-lead alerts", 2)]
    assert tool_success(sessions) == {"unleash_search_knowledge": (1, 2), "book_sales_meeting": (2, 3)}


def test_insights_figures_are_counted_from_the_sessions() -> None:
    sessions = sample_report()["sessions"]

    # Per next step, the calls with insights and their mean sentiment; demo-call-0004 has none, and the start of
    # demo-call-0003 is null, so the booked calls' start is demo-call-0001's alone.
    assert sentiment_by_outcome(sessions) == [
        ("meeting_booked", 2, {"start": 0.2, "end": pytest.approx(0.6), "overall": pytest.approx(0.4)}),
        ("follow_up", 1, {"start": -0.1, "end": -0.7, "overall": -0.4}),
    ]
    # Weeks start on Monday: 18 November is in the week of the 16th, 24 and 25 November in the week of the 23rd.
    assert topics_by_week(sessions) == (
        ["2026-11-16", "2026-11-23"],
        [
            ("integrations", {"2026-11-16": 1, "2026-11-23": 1}),
            ("pricing", {"2026-11-16": 1, "2026-11-23": 1}),
            ("api", {"2026-11-23": 1}),
        ],
    )


def test_topics_beyond_the_latest_weeks_count_as_earlier_and_calls_without_a_date_as_undated() -> None:
    mondays = ["2026-10-05", "2026-10-12", "2026-10-19", "2026-10-26", "2026-11-02", "2026-11-09"]
    sessions: list[dict[str, Any]] = [
        {"started_at": f"{monday}T09:00:00Z", "insights": {"topics": ["pricing", "pricing"]}} for monday in mondays
    ]
    sessions += [
        {"started_at": "not a date", "insights": {"topics": ["pricing", "api"]}},
        {"insights": {"topics": ["api"]}},
        {"started_at": "2026-11-12T09:00:00Z"},  # no insights: no topic
    ]

    weeks, topics = topics_by_week(sessions)

    assert weeks == ["earlier", "2026-10-19", "2026-10-26", "2026-11-02", "2026-11-09", "undated"]
    assert topics == [
        # A topic listed twice in one call counts once.
        ("pricing", {"earlier": 2, "2026-10-19": 1, "2026-10-26": 1, "2026-11-02": 1, "2026-11-09": 1, "undated": 1}),
        ("api", {"undated": 2}),
    ]


def test_the_unanswered_questions_are_the_named_querys_rows_in_its_order() -> None:
    report = sample_report()

    assert unanswered_questions(report) == [
        ("cheapest plan pricing", 2, "2026-11-24T09:00:00Z"),
        ("azure tenant", 1, None),
    ]
    page = render_report_html(report)
    assert page.index("cheapest plan pricing</td>") < page.index("azure tenant</td>")

    report["queries"][1]["rows"] = []
    assert unanswered_questions(report) == []
    assert "No unanswered questions." in render_report_html(report)

    del report["queries"]
    assert unanswered_questions(report) is None
    assert 'This report holds no result of the "top unanswered questions" query.' in html.unescape(
        render_report_html(report)
    )


def test_sessions_show_their_insights_and_alert_types() -> None:
    page = render_report_html(sample_report())
    rows = {
        session_id: row
        for row in re.findall(r"<tr[ >].*?</tr>", page, re.DOTALL)
        for session_id in re.findall(r"<code>(demo-call-\d+)</code>", row)[:1]
        if "<td class='num'>" in row
    }

    cancelling = rows["demo-call-0002"]
    assert "title='A realtor wants to cancel: too expensive, moving to DocuSign.'" in cancelling
    assert "<span class='badge cancel'>cancel</span>" in cancelling and "badge hot" not in cancelling
    for shown in ("-0.40", "Follow-up", "<span class='tag'>pricing</span>", "competitor'>docusign<", "cancel risk"):
        assert shown in cancelling, shown
    assert "+0.60" in rows["demo-call-0001"] and "Meeting booked" in rows["demo-call-0001"]
    assert "<span class='badge cancel'>" not in rows["demo-call-0001"]
    cancel_section = page[page.index("<h2>Cancel intent (1)</h2>") :].split("</section>", 1)[0]
    assert "demo-call-0002" in cancel_section and "alerted" in cancel_section and "0001" not in cancel_section


def test_does_not_change_its_input() -> None:
    report = sample_report()
    before = copy.deepcopy(report)
    render_report_html(report)
    assert report == before


def _headless(chromium: str, profile: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [chromium, *HEADLESS_FLAGS, f"--user-data-dir={profile}", *arguments],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def _png_facts(png: bytes) -> tuple[int, int, int]:
    """Width, height and the number of distinct byte values in the decoded scanlines (1 or 2 for a blank page)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", png[16:24])
    position, idat = 8, b""
    while position < len(png):
        (length,) = struct.unpack(">I", png[position : position + 4])
        kind = png[position + 4 : position + 8]
        if kind == b"IDAT":
            idat += png[position + 8 : position + 8 + length]
        position += 12 + length
    return width, height, len(set(zlib.decompress(idat)))


def test_headless_chromium_shows_the_charts_and_the_headline_figures(chromium: str, tmp_path: Path) -> None:
    report = sample_report()
    page = tmp_path / "report.html"
    page.write_text(render_report_html(report), encoding="utf-8")

    result = _headless(chromium, tmp_path / "profile", "--dump-dom", page.as_uri())

    assert result.returncode == 0, result.stderr[-2000:]
    dom = result.stdout
    # The five charts, each an <svg> the browser parsed (the DOM is Chromium's serialisation, not our text).
    labels = re.findall(r'<svg [^>]*aria-label="([^"]+)"', dom)
    assert labels == CHART_LABELS
    assert dom.count("<svg") == CHART_COUNT and dom.count("</svg>") == CHART_COUNT
    for svg in re.findall(r"<svg .*?</svg>", dom, re.DOTALL):  # each chart drew bars and labels
        assert svg.count("<path") >= 5 and svg.count("<text") >= 5, svg[:300]
    # The headline cards, as the browser shows them.
    cards = dict(
        (label, value)
        for value, label in re.findall(
            r'<div class="card(?: warn)?"><div class="value">([^<]*)</div><div class="label">([^<]*)</div>', dom
        )
    )
    assert cards == {
        "Sessions replayed": str(report["sessions_replayed"]),
        "Sessions exported": str(report["sessions_exported"]),
        "Sessions scored": str(report["sessions_scored"]),
        "Hot leads": str(report["hot_leads"]),
        "Salesforce leads": str(report["salesforce"]["leads"]),
        "Salesforce tasks": str(report["salesforce"]["tasks"]),
        "Amplitude events": str(report["amplitude_events"]),
        "Alerts (SNS)": "3",
        "Hot-lead alerts": "2",
        "Cancel-risk alerts": "1",
        "DLQ messages": "0",
        "Quarantined": "0",
    }
    assert "Consistent:" in dom and "412 ms" in dom and "1,904 ms" in dom
    assert all(session["session_id"] in dom for session in report["sessions"])
    # The insights, as the browser shows them: the sentiment chart's means and outcomes, the topic chart's weeks and
    # counts, the unanswered questions (the named query's rows, in order) and the cancel-intent call.
    charts = {
        label: svg
        for svg in re.findall(r"<svg .*?</svg>", dom, re.DOTALL)
        for label in re.findall(r'aria-label="([^"]+)"', svg)[:1]
    }
    sentiment = re.findall(r"<text[^>]*>([^<]+)</text>", charts["Caller sentiment by outcome"])
    assert {"+0.20", "+0.60", "+0.40", "-0.10", "-0.70", "-0.40", "Meeting booked (2)", "Follow-up (1)"} <= set(
        sentiment
    )
    topics = re.findall(r"<text[^>]*>([^<]+)</text>", charts["Topics by week"])
    assert {"integrations", "pricing", "api", "2 (67%)", "1 (33%)", "week of 2026-11-16", "week of 2026-11-23"} <= set(
        topics
    )
    unanswered = dom[dom.index("<h2>Unanswered questions</h2>") :].split("</section>", 1)[0]
    assert re.findall(r'<tr><td>([^<]*)</td><td class="num">(\d+)</td>', unanswered) == [
        ("cheapest plan pricing", "2"),
        ("azure tenant", "1"),
    ]
    cancel = dom[dom.index("<h2>Cancel intent (1)</h2>") :].split("</section>", 1)[0]
    assert "demo-call-0002" in cancel and "A realtor wants to cancel" in cancel

    screenshot = tmp_path / "report.png"
    shot = _headless(
        chromium, tmp_path / "profile", f"--screenshot={screenshot}", "--window-size=1200,1800", page.as_uri()
    )

    assert shot.returncode == 0 and screenshot.is_file(), shot.stderr[-2000:]
    png = screenshot.read_bytes()
    width, height, distinct = _png_facts(png)
    assert (width, height) == (1200, 1800)
    assert len(png) > 20_000 and distinct > 50, f"the screenshot looks blank ({len(png)} bytes, {distinct} values)"
