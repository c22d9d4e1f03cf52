"""Benchmark of the personal-data masking, each figure with and without the spoken forms, A/B in the same run.

- `mask_text` per log line (it runs on every log line of every process): log lines as the code writes them;
- `redact_transcript` per transcript line (once per turn, when the record is built): the labelled PII set;
- milliseconds for each 100,000-character adversarial input (the signal detector's, the bad-input tests', and
  inputs made of what the spoken scans look for); the worst is reported.

"written only" is the masking as it was before the spoken forms: the same written patterns, nothing else.
"""

from __future__ import annotations

import gc
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from benchmarks.signals_bench import ADVERSARIAL as SIGNAL_ADVERSARIAL
from functions.common.redaction import LONG_DIGITS, NUMBER_MASK, _mask_written, mask_text, redact_transcript
from tests.evals.pii_eval import load_pii_set

# Log lines in the formats the agent, the exporter, the functions and LiveKit write (values made up), and a few
# that carry personal data, which is what the masking is for.
LOG_LINES = [
    "session trial-call-0001: record uploaded at s3://voice-analytics-sessions-dev/sessions/year=2026/month=11/"
    "day=20/trial-call-0001.json.gz",
    "session trial-call-0001 exported at shutdown: uploaded",
    "analytics export ready: s3://voice-analytics-sessions-prod-123456789012-us-east-1/sessions (write check passed)",
    "spool flush at start: {'uploaded': 0, 'already_exported': 0, 'failed': 0, 'invalid': 0}",
    "session call-_-_x7Yz-3f2a1234 closed during a turn: AgentSession is closing",
    "tool book_sales_meeting failed in session demo-call-0007: HTTP 503 from https://booking.example.com/meetings",
    "session demo-call-0042: ending the call, the caller said goodbye",
    "Lead scored",
    "Hot-lead alert published",
    "score_lead: cold start (412 ms init)",
    "voice-analytics-score-lead-dev raised ClientError: An error occurred (ThrottlingException); the batch will be "
    "retried",
    "hot_lead_alert ran 1234 ms, over its 3 s timeout",
    "Salesforce sync done",
    "poller for ScoreQueue failed; continuing",
    "request 3f2a1234-5678-9012-3456-789012345678 finished in 12.5 ms",
    "received job request",
    "initializing process",
    "process initialized",
    "registered worker",
    "http server listening on 127.0.0.1:8081",
    "failed to connect to livekit, retrying in 2 seconds: one of 3 attempts left",
    "LLM metrics: ttft=0.37, prompt_tokens=2650, completion_tokens=92, duration=1.2",
    "user state changed: listening -> speaking at 2026-11-20T15:04:11.400000+00:00",
    "spooled record sessions/year=2026/month=11/day=20/demo-call-0003.json.gz still not uploaded "
    "(EndpointConnectionError)",
    "calendar rejected dana.lee@example.com / +1 415 555 0123",
    "calendar rejected dana dot lee at example dot com, call four one five, five five five, zero one two three",
]


def _extra_adversarial() -> dict[str, str]:
    return {
        "at_dot": ("a at b dot " * 10_000)[:100_000],
        "at_only": ("at " * 34_000)[:100_000],
        "emails": ("dana dot lee at example dot com " * 3_300)[:100_000],
        "long_local_part": "x " * 49_990 + "at gmail dot com",
        "spoken_digits": ("four one five, " * 8_000)[:100_000],
        "oh_chain": ("oh " * 34_000)[:100_000],
        "o_chain": "o " * 50_000,
        "doubles": ("double " * 15_000)[:100_000],
        "hundreds": ("one hundred and " * 7_000)[:100_000],
        "letters": ("a b c d e f " * 9_000)[:100_000],
        "letters_commas": ("k, " * 34_000)[:100_000],
        "as_in": ("k as in kilo " * 8_000)[:100_000],
        "spelled_and_said": ("d a n a dana " * 8_000)[:100_000],
        "digits_then_letter": "1" * 99_999 + "x",
    }


ADVERSARIAL = {**SIGNAL_ADVERSARIAL, **_extra_adversarial()}


def written_transcript(text: str) -> str:
    """Transcript redaction before the spoken forms: written emails and phones, then runs of six digits."""
    return LONG_DIGITS.sub(NUMBER_MASK, _mask_written(text))


def _ab_us(old: Callable[[str], str], new: Callable[[str], str], lines: list[str], rounds: int) -> dict[str, float]:
    """Median microseconds per line of each, timed alternately line by line so both see the same machine."""
    samples: dict[str, list[float]] = {"old": [], "new": []}
    clock = time.perf_counter_ns
    for _ in range(rounds):
        for line in lines:
            for name, function in (("old", old), ("new", new)):
                started = clock()
                function(line)
                samples[name].append((clock() - started) / 1000)
    old_us, new_us = statistics.median(samples["old"]), statistics.median(samples["new"])
    return {
        "written_only_us": round(old_us, 2),
        "with_spoken_us": round(new_us, 2),
        "added_us": round(new_us - old_us, 2),
    }


def _best_ms(function: Callable[[str], str], text: str) -> float:
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        function(text)
        best = min(best, (time.perf_counter() - started) * 1000)
    return round(best, 2)


def _adversarial(old: Callable[[str], str], new: Callable[[str], str]) -> dict[str, Any]:
    by_input = {
        name: {"written_only": _best_ms(old, text), "with_spoken": _best_ms(new, text)}
        for name, text in ADVERSARIAL.items()
    }
    worst = max(by_input, key=lambda name: by_input[name]["with_spoken"])
    return {
        "worst_ms": by_input[worst]["with_spoken"],
        "worst_input": worst,
        "written_only_worst_ms": max(figures["written_only"] for figures in by_input.values()),
        "by_input": by_input,
    }


def run(rounds: int = 200) -> dict[str, Any]:
    transcript_lines = [case["text"] for case in load_pii_set()]
    gc.disable()
    try:
        log_lines = _ab_us(_mask_written, mask_text, LOG_LINES, rounds)
        transcript = _ab_us(written_transcript, redact_transcript, transcript_lines, max(1, rounds // 4))
        adversarial_transcript = _adversarial(written_transcript, redact_transcript)
        adversarial_logs = _adversarial(_mask_written, mask_text)
    finally:
        gc.enable()
    return {
        "log_lines": len(LOG_LINES),
        "mask_text_per_log_line": log_lines,
        "transcript_lines": len(transcript_lines),
        "redact_transcript_per_line": transcript,
        "adversarial_100k_ms": max(adversarial_transcript["worst_ms"], adversarial_logs["worst_ms"]),
        "adversarial_redact_transcript": adversarial_transcript,
        "adversarial_mask_text": adversarial_logs,
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
