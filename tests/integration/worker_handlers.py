"""Handlers for the runner's process-isolation tests; imported by the spawned function processes."""

from __future__ import annotations

import json
import os
import time
from typing import Any


def report(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Prints what the function sees (its process, its environment, its context); fails records asking for it;
    on a record's first delivery, sleeps as long as it asks (to overrun the timeout)."""
    for record in event["Records"]:
        body = json.loads(record["body"])
        print(
            json.dumps(
                {
                    "pid": os.getpid(),
                    "function_name": context.function_name,
                    "remaining_ms": context.get_remaining_time_in_millis(),
                    "service": os.environ.get("POWERTOOLS_SERVICE_NAME"),
                    "marker": os.environ.get("WORKER_TEST_MARKER"),
                    "body": body,
                    "receive_count": record["attributes"]["ApproximateReceiveCount"],
                }
            ),
            flush=True,
        )
        if record["attributes"]["ApproximateReceiveCount"] == "1":
            time.sleep(float(body.get("sleep_s", 0)))
    failed = [r["messageId"] for r in event["Records"] if json.loads(r["body"]).get("fail")]
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}


if os.environ.get("WORKER_TEST_BROKEN_INIT") == "1":
    raise ImportError("init fails on purpose (WORKER_TEST_BROKEN_INIT=1)")
