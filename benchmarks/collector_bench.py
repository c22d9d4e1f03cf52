"""The in-call collector over a one-hour call: memory held (tracemalloc) and event-loop time per utterance.

A one-hour call here is 360 user utterances and 360 assistant replies (one exchange every ten seconds), each
reply carrying LiveKit's per-turn metrics, fed to the collector's real event handlers as LiveKit would call
them; the record is built at the end as the exporter does.
"""

from __future__ import annotations

import json
import statistics
import time
import tracemalloc
from typing import Any

from livekit.agents import ConversationItemAddedEvent, llm

from agent.percentile import percentile
from benchmarks.export_bench import UTTERANCES, _collector

EXCHANGES_PER_HOUR = 360


def _feed_one_hour(collector: Any) -> list[float]:
    """Feed a one-hour call; returns the event-loop time (µs) of each final user utterance's handlers."""
    handler_us: list[float] = []
    for turn in range(EXCHANGES_PER_HOUR):
        text = UTTERANCES[turn % len(UTTERANCES)]
        added = ConversationItemAddedEvent(
            item=llm.ChatMessage(
                role="user", content=[text], metrics={"end_of_turn_delay": 0.6, "transcription_delay": 0.3}
            )
        )
        started = time.perf_counter_ns()
        # The committed user turn: the only handler a final user turn runs (signals are detected there).
        collector.on_conversation_item_added(added)
        handler_us.append((time.perf_counter_ns() - started) / 1000)
        reply = llm.ChatMessage(
            role="assistant",
            content=[f"Thanks, that helps. Here is what I found about point {turn}."],
            metrics={"llm_node_ttft": 0.35, "tts_node_ttfb": 0.2, "e2e_latency": 1.2},
        )
        collector.on_conversation_item_added(ConversationItemAddedEvent(item=reply))
    return handler_us


def one_hour_call(rounds: int = 5) -> dict[str, Any]:
    # Timing without tracemalloc (it slows every allocation), memory in a separate traced run.
    handler_us = [sample for _ in range(rounds) for sample in _feed_one_hour(_collector())]
    tracemalloc.start()
    baseline, _ = tracemalloc.get_traced_memory()
    collector = _collector()
    _feed_one_hour(collector)
    held, _ = tracemalloc.get_traced_memory()
    record = collector.build_record()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    ordered = sorted(handler_us)
    return {
        "exchanges": EXCHANGES_PER_HOUR,
        "memory_per_one_hour_call_kib": round((held - baseline) / 1024, 1),
        "peak_kib_including_record_build": round((peak - baseline) / 1024, 1),
        "transcript_turns": len(record["transcript"]),
        "event_loop_us_per_utterance": {
            "p50": round(statistics.median(ordered), 1),
            "p99": round(percentile(ordered, 0.99), 1),
        },
    }


if __name__ == "__main__":
    print(json.dumps(one_hour_call(), indent=2))
