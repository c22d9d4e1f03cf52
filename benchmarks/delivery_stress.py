"""moto's own delivery path under load, without the functions: S3 PutObject -> "Object Created" on EventBridge ->
the SessionCreated queue, drained by concurrent consumers (receive, then delete). Every key put must be received.

    uv run python -m benchmarks.delivery_stress [--puts 3000] [--writers 4] [--consumers 8]

A tool for the 10,000-session burst that lost 4 sessions (docs/performance.md): it tells a loss inside
moto's S3/EventBridge/SQS from one in the runner or the functions. It found moto's DeleteMessage racing
ReceiveMessage (a "Set changed size during iteration" 500, fixed in local/aws/moto_patches.py); five runs of
3,000 puts with 8 and 12 consumers lost nothing. Prints one JSON line; exits 1 if a key was never received.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

QUIET_SECONDS = 5.0  # the drain ends when nothing new was received for this long


def run(puts: int, writers: int, consumers: int) -> dict[str, Any]:
    from local.aws.stack import LocalStack
    from local.environment import environment, loopback_without_proxy

    with loopback_without_proxy(), LocalStack(server="processes") as stack, environment(stack.aws_environment()):
        bucket = stack.physical_id("SessionsBucket")
        queue_url = next(s.queue_url for s in stack.event_sources() if ".score_lead." in s.function.handler)
        seen: dict[str, int] = {}
        receives = 0
        lock = threading.Lock()
        stop = threading.Event()

        def consume() -> None:
            nonlocal receives
            sqs = stack.client("sqs")
            while not stop.is_set():
                messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
                    "Messages", []
                )
                with lock:
                    receives += 1
                    for message in messages:
                        key = json.loads(message["Body"])["detail"]["object"]["key"]
                        seen[key] = seen.get(key, 0) + 1
                if messages:
                    sqs.delete_message_batch(
                        QueueUrl=queue_url,
                        Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
                    )

        threads = [threading.Thread(target=consume, daemon=True) for _ in range(consumers)]
        for thread in threads:
            thread.start()
        keys = [f"sessions/year=2026/month=11/day=26/stress-{index:06d}.json.gz" for index in range(puts)]
        body = gzip.compress(b'{"stress": true}\n')
        s3 = stack.client("s3")
        started = time.monotonic()
        with ThreadPoolExecutor(writers) as pool:
            list(pool.map(lambda key: s3.put_object(Bucket=bucket, Key=key, Body=body, IfNoneMatch="*"), keys))
        put_s = time.monotonic() - started
        received = -1
        while True:
            time.sleep(QUIET_SECONDS)
            with lock:
                if len(seen) == received:
                    break
                received = len(seen)
        stop.set()
        for thread in threads:
            thread.join(timeout=5)
        attributes = stack.client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
        missing = [key for key in keys if key not in seen]
        return {
            "puts": puts,
            "writers": writers,
            "consumers": consumers,
            "put_s": round(put_s, 1),
            "received": len(seen),
            "missing": len(missing),
            "missing_keys": missing[:20],
            "received_twice_or_more": sum(1 for count in seen.values() if count > 1),
            "receives": receives,
            "left_in_queue": {name: value for name, value in attributes.items() if name.startswith("Approximate")},
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--puts", type=int, default=3000)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--consumers", type=int, default=8)
    args = parser.parse_args(argv)
    figures = run(args.puts, args.writers, args.consumers)
    print(json.dumps(figures))
    return 1 if figures["missing"] else 0


if __name__ == "__main__":
    sys.exit(main())
