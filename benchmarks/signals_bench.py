"""Benchmark of the signal detector alone, beside the reference design's four regexes measured in the same run.

Figures: median and p99 microseconds per utterance (the labelled eval set, every line <= 200 characters),
and milliseconds for each 100,000-character adversarial utterance (the worst is reported).
"""

from __future__ import annotations

import gc
import json
import re
import statistics
import time
from collections.abc import Callable
from typing import Any

from agent.percentile import percentile
from agent.signals import detect
from tests.evals.run_eval import load_set

# The reference implementation's published patterns, for the side-by-side figure.
REFERENCE_PATTERNS = [
    re.compile(r"\b(?:team|company|organization) (?:of |with )(\d+)\b", re.IGNORECASE),
    re.compile(r"\b(\d+)[- ](?:person|people|member|employee|user)s?\b", re.IGNORECASE),
    re.compile(
        r"(\d+)[\s-](?:documents?|contracts?|agreements?)(?:\s+(?:per|a|each))?\s+(?:month|year|week)", re.IGNORECASE
    ),
    re.compile(r"\b(urgent|asap|immediately|right away|time[- ]sensitive)\b", re.IGNORECASE),
]


REFERENCE_LIMIT_S = 20.0


def reference_detect(text: str) -> list[re.Match[str] | None]:
    return [pattern.search(text) for pattern in REFERENCE_PATTERNS]


ADVERSARIAL = {
    "digit_run": "1" * 100_000,
    "digits_and_spaces": "1 " * 50_000,
    "hyphenated_digits": "-1" * 50_000,
    "number_words": ("twenty " * 15_000)[:100_000],
    "ranges_and_scales": ("twenty-five 30-40 hundred and " * 4_000)[:100_000],
    "vague_quantities": ("a couple of " * 9_000)[:100_000],
    "grouped_digits": ("1,000," * 20_000)[:100_000],
    "people_nouns": ("5 people " * 12_000)[:100_000],
    "spaces": " " * 100_000,
    "team_context": ("team of " * 13_000)[:100_000],
    # the look-arounds of members, rates per each, changes, dates and product lists
    "member_lists": ("me and two assistants " * 5_000)[:100_000],
    "rates_per_person": ("each of us sends 10 a week " * 4_000)[:100_000],
    "people_per_month": ("5 people a month " * 6_000)[:100_000],
    "changes": ("went from 10 to 20 people now 30 " * 3_000)[:100_000],
    "dates": ("by the 15th renewal in two weeks " * 3_000)[:100_000],
    "product_lists": ("we don't use slack or box outlook teams " * 2_500)[:100_000],
}


def _per_call_us(function: Callable[[str], object], utterances: list[str], rounds: int) -> list[float]:
    samples: list[float] = []
    clock = time.perf_counter_ns
    for _ in range(rounds):
        for text in utterances:
            started = clock()
            function(text)
            samples.append((clock() - started) / 1000)
    return samples


def _worst_ms(function: Callable[[str], object]) -> tuple[float, dict[str, float]]:
    timings: dict[str, float] = {}
    for name, text in ADVERSARIAL.items():
        best = min(_time_once(function, text) for _ in range(3))
        timings[name] = round(best, 2)
    return max(timings.values()), timings


def _reference_once(text: str, queue: Any) -> None:
    queue.put(_time_once(reference_detect, text))


def _reference_worst_ms(limit_s: float = REFERENCE_LIMIT_S) -> tuple[float | str, dict[str, float | str]]:
    """The reference's patterns backtrack catastrophically on some inputs (minutes on a 100k digit run), so each
    input runs once in a child process that is stopped after `limit_s`; a stopped one reports "> limit"."""
    import multiprocessing

    timings: dict[str, float | str] = {}
    context = multiprocessing.get_context("fork")
    for name, text in ADVERSARIAL.items():
        queue = context.Queue()
        child = context.Process(target=_reference_once, args=(text, queue))
        child.start()
        child.join(limit_s)
        if child.is_alive():
            child.kill()
            child.join()
            timings[name] = f"> {limit_s * 1000:.0f}"
        else:
            timings[name] = round(queue.get(), 2)
    stopped = [value for value in timings.values() if isinstance(value, str)]
    numbers = [value for value in timings.values() if isinstance(value, float)]
    return (stopped[0] if stopped else max(numbers)), timings


def _time_once(function: Callable[[str], object], text: str) -> float:
    started = time.perf_counter()
    function(text)
    return (time.perf_counter() - started) * 1000


def run(rounds: int = 40) -> dict[str, Any]:
    utterances = [case["text"] for case in load_set() if len(case["text"]) <= 200]
    gc.disable()
    try:
        ours = _per_call_us(detect, utterances, rounds)
        reference = _per_call_us(reference_detect, utterances, rounds)
        worst, per_input = _worst_ms(detect)
        reference_worst, reference_by_input = _reference_worst_ms()
    finally:
        gc.enable()
    median_us = statistics.median(ours)
    reference_median_us = statistics.median(reference)
    return {
        "utterances": len(utterances),
        "calls": len(ours),
        "median_us": round(median_us, 2),
        "p99_us": round(percentile(ours, 0.99), 2),
        "adversarial_100k_ms": worst,
        "adversarial_100k_ms_by_input": per_input,
        "reference": {
            "median_us": round(reference_median_us, 2),
            "p99_us": round(percentile(reference, 0.99), 2),
            "adversarial_100k_ms": reference_worst,
            "adversarial_100k_ms_by_input": reference_by_input,
        },
        "median_ratio_to_reference": round(median_us / reference_median_us, 2),
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
