"""The local insights provider's time per session (score_lead's enrichment step), and its import and init cost.

Sessions: one per bundled conversation script (conversations/*.json), as a session record with the script's
transcript (mode `redacted`: the provider redacts it again, as it does every record) and its tool calls, failed
where the script says so; plus one long call (200 turns) for how the time grows. Each session is timed over several
rounds (garbage collection off while timing); the figures are the median and the 95th percentile over all timings.

    uv run python -m benchmarks.insights_bench
"""

from __future__ import annotations

import gc
import json
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from agent.scripted_llm import ConversationScript
from functions.common.record import SessionRecord
from functions.common.settings import ScoreLeadSettings

ROOT = Path(__file__).resolve().parents[1]
CONVERSATIONS = ROOT / "conversations"
# VADER's share of a cold start: its import and one analyzer (both lexicons read from the package). The whole of
# score_lead's cold import, with and without the insights, is handlers_bench's figure.
IMPORT_PROBE = (
    "import time; t = time.perf_counter(); from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer; "
    "SentimentIntensityAnalyzer(); print(time.perf_counter() - t)"
)


def record_of(script: ConversationScript, session_id: str) -> SessionRecord:
    """A session record with the script's words and tool calls (no agent run: the provider reads only these)."""
    started = script.start_time()
    transcript, tools = [], []
    plan = {tool: list(modes) for tool, modes in script.failure_plan().items()}
    for turn in script.turns:
        if turn.text is not None:
            transcript.append({"index": len(transcript), "role": turn.role, "text": turn.text})
        if turn.tool:
            failure = plan[turn.tool].pop(0)
            tools.append(
                {
                    "name": turn.tool,
                    "arguments": turn.args,
                    "started_at": started.isoformat(),
                    "duration_ms": 300.0,
                    "success": failure is None,
                    "error": f"simulated: {failure}" if failure else None,
                    "result_summary": {} if failure else {"results_found": True, "total_results": 1},
                }
            )
    return SessionRecord.model_validate(
        {
            "session_id": session_id,
            "agent": {"name": "bench", "version": "1"},
            "caller": {"key_hash": "0" * 64},
            "started_at": started,
            "ended_at": started + timedelta(seconds=6 * len(transcript)),
            "duration_s": 6.0 * len(transcript),
            "end_reason": "caller_hangup",
            "tool_calls": tools,
            "user_turns": sum(turn["role"] == "user" for turn in transcript),
            "transcript_mode": "redacted",
            "transcript": transcript,
        }
    )


def long_call(turns: int = 200) -> SessionRecord:
    lines = [
        ("user", "We're a team of twelve and the pricing looks too expensive next to DocuSign, honestly."),
        ("assistant", "I understand. Team plans are priced per seat with volume tiers from 500 documents a month."),
        ("user", "Does it integrate with Salesforce and can we keep our own templates? That would be great."),
        ("assistant", "Yes, there is a native Salesforce sync, and templates support conditional clauses."),
    ]
    script = ConversationScript.model_validate(
        {
            "started_at": datetime(2026, 11, 20, tzinfo=UTC),
            "turns": [{"role": lines[i % 4][0], "text": lines[i % 4][1]} for i in range(turns)],
        }
    )
    return record_of(script, "bench-long-call")


def _time(record: SessionRecord, settings: ScoreLeadSettings, rounds: int) -> list[float]:
    from functions.score_lead.insights import build_insights

    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        build_insights(record, settings)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def vader_import_ms(runs: int = 5) -> float:
    """Median over fresh interpreters of importing VADER and building its analyzer."""
    timings = [
        float(
            subprocess.run(
                [sys.executable, "-c", IMPORT_PROBE], cwd=ROOT, capture_output=True, text=True, check=True
            ).stdout
        )
        * 1000
        for _ in range(runs)
    ]
    return round(statistics.median(timings), 1)


def run(rounds: int = 20) -> dict[str, Any]:
    from functions.score_lead.insights import build_insights

    settings = ScoreLeadSettings()
    paths = sorted(CONVERSATIONS.glob("*.json"))
    records = [record_of(ConversationScript.load(path), path.stem) for path in paths]
    build_insights(records[0], settings)  # first use outside the timing (caches of the taxonomy's lookups)
    gc.disable()
    try:
        samples = [sample for record in records for sample in _time(record, settings, rounds)]
        long = _time(long_call(), settings, 5)
    finally:
        gc.enable()
    return {
        "sessions": len(records),
        "timings": len(samples),
        "per_session_ms": {
            "median": round(statistics.median(samples), 3),
            "p95": round(statistics.quantiles(samples, n=100, method="inclusive")[94], 3),
            "max": round(max(samples), 3),
        },
        "long_call_200_turns_ms": round(statistics.median(long), 2),
        "vader_import_and_init_ms": vader_import_ms(),
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
