"""Benchmark (not a test): the export path against a local S3 (moto server), and collection cost per utterance.

    uv run --frozen python -m benchmarks.export_bench [--records 300]

Prints JSON: build + validate + gzip + put p50/p99 in ms over N records (target p99 < 100 ms), each stage's
p50, and the event-loop time per final user turn spent in the collector's `conversation_item_added` handler,
which runs the signal detector inline (target < 50 µs).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from livekit.agents import ConversationItemAddedEvent, llm

from agent.collector import SessionCollector, SimulatedClock
from agent.exporter import Exporter, encode_record, make_s3_client, s3_sink_from_settings
from agent.percentile import percentile
from agent.scripted_llm import ConversationScript
from agent.settings import AgentSettings
from agent.simulate import run_script
from functions.common.record import TranscriptMode

UTTERANCES = [
    "Hi, I'm trying out the trial. We're a team of 12 and we send about 300 contracts a month.",
    "Sure, we need Salesforce sync asap. I'm Dana Lee, dana.lee@example.com, from Acme Legal.",
    "We're a mid-sized law firm, maybe forty people, and we use HubSpot and Google Drive.",
    "Not urgent, probably next quarter. How does pricing work for a couple hundred documents?",
    "No, that's all, thanks. Bye.",
]


async def _base_record(spool: Path) -> dict[str, Any]:
    """One realistic record, produced by the real agent running the example conversation."""
    from agent.exporter import DirectorySink

    script = ConversationScript.load(Path(__file__).parents[1] / "tests" / "fixtures" / "agent" / "conversation.json")
    exporter = Exporter(DirectorySink(spool / "base"), spool_dir=spool / "spool")
    outcome = await run_script(script, exporter, settings=AgentSettings())
    return outcome.collector.build_record()


async def bench_export(records: int) -> dict[str, Any]:
    from local.aws.moto_server import start_in_thread

    os.environ.update(
        {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"}
    )
    server, endpoint = start_in_thread()
    try:
        settings = AgentSettings(analytics_bucket="bench-analytics", aws_endpoint_url=endpoint)
        make_s3_client(endpoint_url=endpoint).create_bucket(Bucket=settings.analytics_bucket)
        with TemporaryDirectory() as temp:
            base = await _base_record(Path(temp))
            exporter = Exporter(s3_sink_from_settings(settings), spool_dir=Path(temp) / "spool")
            sink = exporter.sink
            start_time = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
            total, validate_ms, gzip_ms, put_ms = [], [], [], []
            for index in range(records + 10):
                raw = dict(base, session_id=f"bench-{index:05d}")
                raw["started_at"] = (start_time + timedelta(minutes=index)).isoformat()
                raw["ended_at"] = (start_time + timedelta(minutes=index, seconds=95)).isoformat()
                t0 = time.perf_counter()
                record = exporter.validate(raw)
                t1 = time.perf_counter()
                body = encode_record(record)
                t2 = time.perf_counter()
                await asyncio.to_thread(sink.put, record.object_key(), body, schema_version="1")
                t3 = time.perf_counter()
                if index < 10:
                    continue  # warm-up: connection pool, moto's first-request costs
                total.append((t3 - t0) * 1000)
                validate_ms.append((t1 - t0) * 1000)
                gzip_ms.append((t2 - t1) * 1000)
                put_ms.append((t3 - t2) * 1000)
            end_to_end = []
            for index in range(50):
                raw = dict(base, session_id=f"bench-e2e-{index:03d}")
                t0 = time.perf_counter()
                await exporter.export(raw)
                end_to_end.append((time.perf_counter() - t0) * 1000)
            return {
                "records": records,
                "record_gzip_bytes": len(body),
                "build_ms_p50": round(statistics.median(_build_times(base)), 4),
                "validate_gzip_put_ms": {
                    "p50": round(percentile(total, 0.5), 3),
                    "p99": round(percentile(total, 0.99), 3),
                },
                "stage_p50_ms": {
                    "validate": round(statistics.median(validate_ms), 3),
                    "gzip": round(statistics.median(gzip_ms), 3),
                    "put": round(statistics.median(put_ms), 3),
                },
                "exporter_export_ms": {
                    "p50": round(percentile(end_to_end, 0.5), 3),
                    "p99": round(percentile(end_to_end, 0.99), 3),
                },
            }
    finally:
        server.stop()


def _build_times(base: dict[str, Any]) -> list[float]:
    """`build_record` on a collector that saw a whole call (5 user and 5 assistant turns, usage, tools)."""
    times = []
    for _ in range(200):
        collector = _collector()
        for turn, text in enumerate(UTTERANCES):
            collector.on_conversation_item_added(
                ConversationItemAddedEvent(item=llm.ChatMessage(role="user", content=[text]))
            )
            reply = llm.ChatMessage(role="assistant", content=[f"reply {turn}"], metrics={"llm_node_ttft": 0.3})
            collector.on_conversation_item_added(ConversationItemAddedEvent(item=reply))
        t0 = time.perf_counter()
        collector.build_record()
        times.append((time.perf_counter() - t0) * 1000)
    return times


def _collector() -> SessionCollector:
    return SessionCollector(
        session_id="bench",
        agent_name="bench",
        agent_version="1",
        transcript_mode=TranscriptMode.REDACTED,
        caller_salt="bench",
        clock=SimulatedClock(datetime(2026, 11, 20, tzinfo=UTC)),
    )


def bench_collection(rounds: int = 4000) -> dict[str, Any]:
    """Event-loop time of the handler LiveKit calls for each committed user turn (signal detection inline)."""
    events = [ConversationItemAddedEvent(item=llm.ChatMessage(role="user", content=[text])) for text in UTTERANCES]
    samples = []
    collector = _collector()
    for index in range(rounds):
        if index % 200 == 0:
            collector = _collector()  # a call has a bounded number of utterances
        event = events[index % len(events)]
        t0 = time.perf_counter_ns()
        collector.on_conversation_item_added(event)
        samples.append((time.perf_counter_ns() - t0) / 1000)
    return {
        "utterances": rounds,
        "handler_us": {
            "p50": round(percentile(samples, 0.5), 2),
            "p99": round(percentile(samples, 0.99), 2),
            "max": round(max(samples), 2),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=300)
    args = parser.parse_args()
    export = asyncio.run(bench_export(args.records))
    collection = bench_collection()
    print(json.dumps({"export": export, "collection": collection}, indent=2))


if __name__ == "__main__":
    main()
