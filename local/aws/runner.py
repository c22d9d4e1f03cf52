"""The local Lambda runner: what the SQS event source mappings do in AWS, done on this machine.

For every SQS event source of the stack (read from the translated template by `LocalStack.event_sources()`:
queue, batch size, batching window, ReportBatchItemFailures), one poller thread receives from the queue (10 at a
time, long polling, so moto's queues stay shallow), builds the SQS event Lambda would build, and calls the
function's real handler, imported from its `Handler` string, with a Lambda context. Records the handler reports
as failed (or every record, when it raises) are not deleted: they come back after the queue's visibility timeout
and, after maxReceiveCount receives, moto's redrive moves them to the DLQ, as in AWS.

How each function gets its own environment: two isolations.
- `isolation="process"` (the demo and the benchmarks): each function runs in a process of its own
  (local/lambda_worker.py), as in Lambda: its own interpreter, so the functions and moto's server use every core
  instead of sharing one GIL; its own `os.environ` (its Environment.Variables plus the local additions); its own
  stdout (the log file); and an invocation that overruns the function's timeout is stopped by killing the process
  (the batch fails, and the next invocation is a cold start). The pollers stay threads of this process.
- `isolation="thread"` (the default; the integration tests, which reach into the handlers' boto3 clients to
  inject faults): invocations are serialised by ONE process-wide lock, and each runs with its function's
  Environment.Variables (plus the local additions) applied to `os.environ`, removed again afterwards. The handlers
  read their settings from the environment when they are imported (functions/common/settings.py, Powertools'
  service name) and the import happens inside the first invocation, so each handler module is initialised with its
  own environment, like a Lambda cold start. The handler modules (`functions.*`) loaded by a runner are private to
  it: the runner sets aside any `functions.*` modules already imported (e.g. by tests with another environment)
  and puts them back on stop. Powertools' cached parameter providers (bound to an endpoint) are reset likewise.

With threads, Lambda's timeout is not enforced (a thread cannot be killed); an invocation that overruns it is
logged. Each function's stdout (Powertools logs and EMF metrics) goes to `<log_dir>/<LogicalId>.log` when a log
folder is given, the stand-in for its CloudWatch log group; other threads keep the real stdout.

Duplicate deliveries: `deliveries` (or a per-call `delivery_plan`) invokes each received batch that many times
before deleting, which is how at-least-once delivery can be exercised without touching the handlers.
"""

from __future__ import annotations

import importlib
import logging
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from types import ModuleType
from typing import Any, Literal, TextIO

from local.aws.child_process import spawn_child, stop_child
from local.aws.lambda_worker import LambdaContext
from local.aws.stack import REGION, EventSource, FunctionSpec, LocalStack
from local.environment import environment

logger = logging.getLogger("local.aws.runner")

SQS_MAX_RECEIVE = 10
# Long-poll wait per receive: short, so stop() and drain() react quickly; moto wakes up on new messages.
POLL_WAIT_SECONDS = 1
# While a batching window is open: how long to let records accumulate between two receives. A long poll returns
# as soon as ONE record is there, so in a burst it gathered a batch one record per receive (one ReceiveMessage per
# record for each consumer with a window); after a pause a receive takes what arrived meanwhile.
GATHER_INTERVAL_SECONDS = 0.5
_FUNCTION_PACKAGE = "functions"

# A hook deciding how many times a received batch is delivered (1 = normal; 2+ = duplicate deliveries).
DeliveryPlan = Callable[[EventSource, list[dict[str, Any]]], int]


class DrainTimeoutError(RuntimeError):
    """Some queue still has messages (or an invocation is running) after the drain timeout."""


@dataclass
class FunctionStats:
    invocations: int = 0
    records: int = 0
    failed_records: int = 0
    errors: int = 0
    overran_timeout: int = 0
    durations_ms: list[float] = field(default_factory=list)
    # (epoch seconds the batch's first message was received, invocation start, end, records) per invocation.
    timeline: list[tuple[float, float, float, int]] = field(default_factory=list)
    last_error: str | None = None


class _RoutedStdout:
    """sys.stdout stand-in: writes from a thread with a sink go to that sink, everything else to the original."""

    def __init__(self, original: TextIO) -> None:
        self.original = original
        self.local = threading.local()

    def _target(self) -> TextIO:
        return getattr(self.local, "sink", None) or self.original

    def write(self, text: str) -> int:
        return self._target().write(text)

    def flush(self) -> None:
        self._target().flush()

    def isatty(self) -> bool:
        return self.original.isatty()

    def fileno(self) -> int:
        return self.original.fileno()

    @property
    def encoding(self) -> str:
        return getattr(self.original, "encoding", "utf-8")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.original, name)


def sqs_event_record(message: Mapping[str, Any], source: EventSource) -> dict[str, Any]:
    """One record of the SQS event Lambda builds for an event source mapping, from a received message."""
    attributes = message.get("Attributes", {})
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {
            "ApproximateReceiveCount": str(attributes.get("ApproximateReceiveCount", "1")),
            "SentTimestamp": str(attributes.get("SentTimestamp", int(time.time() * 1000))),
            "SenderId": str(attributes.get("SenderId", "AIDAIENQZJOLO23YVJ4VO")),
            "ApproximateFirstReceiveTimestamp": str(
                attributes.get("ApproximateFirstReceiveTimestamp", int(time.time() * 1000))
            ),
            **{key: str(value) for key, value in attributes.items() if key in ("MessageGroupId", "SequenceNumber")},
        },
        "messageAttributes": {
            name: {
                "stringValue": value.get("StringValue"),
                "binaryValue": value.get("BinaryValue"),
                "stringListValues": value.get("StringListValues", []),
                "binaryListValues": value.get("BinaryListValues", []),
                "dataType": value["DataType"],
            }
            for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": source.queue_arn,
        "awsRegion": REGION,
    }


class InvocationTimeoutError(RuntimeError):
    """The function ran past its timeout; its process was stopped (the next invocation is a cold start)."""


class _FunctionProcess:
    """One function's execution environment in its own process (see local/lambda_worker.py)."""

    READY_TIMEOUT_S = 120.0
    # What the runner waits beyond the function's timeout before it stops the process (pipe and pickling time).
    GRACE_S = 5.0

    def __init__(self, spec: FunctionSpec, environment: dict[str, str], managed: set[str], log_path: Path | None):
        self.spec = spec
        self.environment = environment
        self.managed = managed
        self.log_path = log_path
        self.lock = threading.Lock()
        self._process: Any = None
        self._conn: Connection | None = None

    def start(self) -> float:
        """Spawn the process and wait for its init phase; returns the init time in ms."""
        from local.aws import lambda_worker

        self._process, parent = spawn_child(
            lambda_worker.serve,
            (self.spec.handler, self.environment, self.managed, str(self.log_path or "") or None),
            f"lambda-{self.spec.logical_id}",
        )
        self._conn = parent
        if not parent.poll(self.READY_TIMEOUT_S):
            self.stop()
            raise RuntimeError(f"{self.spec.logical_id}: no init within {self.READY_TIMEOUT_S:.0f} s")
        try:
            reply = parent.recv()
        except EOFError:
            self.stop()
            raise RuntimeError(f"{self.spec.logical_id}: its process exited during init") from None
        if reply[0] != "ready":
            self.stop()
            raise RuntimeError(f"{self.spec.logical_id}: init failed: {reply[1]}\n{reply[2]}")
        return float(reply[1])

    def alive(self) -> bool:
        return self._process is not None and self._process.is_alive()

    def invoke(self, event: dict[str, Any], context_fields: dict[str, Any]) -> Any:
        """The handler's response; raises RuntimeError with the handler's error, or InvocationTimeoutError."""
        if not self.alive():
            init_ms = self.start()
            logger.info("%s: cold start (%.0f ms init)", self.spec.logical_id, init_ms)
        assert self._conn is not None
        self._conn.send((event, {**context_fields, "remaining_s": self.spec.timeout_s}))
        if not self._conn.poll(self.spec.timeout_s + self.GRACE_S):
            self.stop()
            raise InvocationTimeoutError(f"Task timed out after {self.spec.timeout_s} s (process stopped)")
        try:
            reply = self._conn.recv()
        except EOFError:
            self.stop()
            raise RuntimeError("Runtime.ExitError: the function's process exited") from None
        if reply[0] == "error":
            raise RuntimeError(reply[1])
        return reply[1]

    def stop(self) -> None:
        stop_child(self._process, self._conn, grace_s=2)
        self._process, self._conn = None, None


class LambdaRunner:
    """Polls every SQS event source of a `LocalStack` and invokes the real handlers in-process."""

    def __init__(
        self,
        stack: LocalStack,
        *,
        extra_env: Mapping[str, str] | None = None,
        log_dir: Path | None = None,
        deliveries: int = 1,
        delivery_plan: DeliveryPlan | None = None,
        on_invocation: Callable[[EventSource, int, int], None] | None = None,
        isolation: Literal["thread", "process"] = "thread",
        concurrency: int = 1,
    ) -> None:
        self.stack = stack
        self.isolation = isolation
        if concurrency < 1 or (concurrency > 1 and isolation != "process"):
            raise ValueError(f"concurrency={concurrency}: must be 1, or more with isolation='process'")
        # Execution environments per function, each with its own poller (Lambda scales an SQS event source out to
        # many concurrent invocations, capped by the mapping's MaximumConcurrency, which is honoured here too).
        self.concurrency = concurrency
        self.sources = stack.event_sources()
        if not self.sources:
            raise RuntimeError("the template has no SQS event source: nothing to run")
        # What every function gets on top of its template environment: the local endpoint, credentials, and
        # what the caller adds (e.g. the Salesforce emulator's CA bundle).
        self.extra_env = {**stack.aws_environment(), **(extra_env or {})}
        self.log_dir = log_dir
        self.delivery_plan: DeliveryPlan = delivery_plan or (lambda _source, _records: deliveries)
        self.on_invocation = on_invocation
        self.stats: dict[str, FunctionStats] = {source.function.logical_id: FunctionStats() for source in self.sources}

        self._invoke_lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._busy: dict[str, bool] = {}
        self._stats_lock = threading.Lock()
        self._handlers: dict[str, Callable[[dict[str, Any], Any], Any]] = {}
        self._env_keys = {key for source in self.sources for key in source.function.environment} | set(self.extra_env)
        self._saved_modules: dict[str, ModuleType] = {}
        self._stdout: _RoutedStdout | None = None
        self._logs: dict[str, TextIO] = {}
        self._processes: dict[str, list[_FunctionProcess]] = {}
        self.init_ms: dict[str, float] = {}

    # -- lifecycle -------------------------------------------------------------------------------------------

    def start(self, *, warm_up: bool = False) -> LambdaRunner:
        """Start one poller per event source; with `warm_up`, run every init phase first (see `warm_up`).
        With `isolation="process"` every function's process is started (its init phase run) here, in parallel."""
        if self.isolation == "process":
            self._start_processes()
        else:
            self._isolate_modules()
            self._route_stdout()
            if warm_up:
                self.init_ms = self._warm_up()
        for source in self.sources:
            for slot in range(self._slots(source)):
                self._busy[self._slot_name(source, slot)] = False
                thread = threading.Thread(
                    target=self._poll,
                    args=(source, slot),
                    name=f"poller-{self._slot_name(source, slot)}",
                    daemon=True,
                )
                thread.start()
                self._threads.append(thread)
        return self

    def _slots(self, source: EventSource) -> int:
        return min(self.concurrency, source.maximum_concurrency or self.concurrency)

    @staticmethod
    def _slot_name(source: EventSource, slot: int) -> str:
        return source.logical_id if slot == 0 else f"{source.logical_id}#{slot + 1}"

    def _route_stdout(self) -> None:
        if self.log_dir is None:
            return
        self.log_dir.mkdir(parents=True, exist_ok=True)
        if not isinstance(sys.stdout, _RoutedStdout):
            self._stdout = _RoutedStdout(sys.stdout)
            sys.stdout = self._stdout
        for source in self.sources:
            logical = source.function.logical_id
            self._logs[logical] = (self.log_dir / f"{logical}.log").open("a", encoding="utf-8")

    def _start_processes(self) -> None:
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
        for source in self.sources:
            spec = source.function
            self._processes[spec.logical_id] = [
                _FunctionProcess(
                    spec,
                    {**spec.environment, **self.extra_env},
                    self._env_keys,
                    self.log_dir / f"{spec.logical_id}.log" if self.log_dir is not None else None,
                )
                for _ in range(self._slots(source))
            ]
        errors: list[BaseException] = []

        def start(logical: str, process: _FunctionProcess) -> None:
            try:
                init_ms = process.start()
            except BaseException as error:  # reported below, after every start has ended
                errors.append(error)
            else:
                with self._stats_lock:  # the slowest environment's init is the function's figure
                    self.init_ms[logical] = max(init_ms, self.init_ms.get(logical, 0.0))

        starters = [
            threading.Thread(target=start, args=(logical, process), name=f"start-{logical}")
            for logical, processes in self._processes.items()
            for process in processes
        ]
        for starter in starters:
            starter.start()
        for starter in starters:
            starter.join()
        if errors:
            self._stop_processes()
            raise errors[0]

    def _stop_processes(self) -> None:
        for processes in self._processes.values():
            for process in processes:
                process.stop()
        self._processes.clear()

    def _warm_up(self) -> dict[str, float]:
        """Run every function's init phase (import its handler module with its environment) before any record,
        like provisioned concurrency, so the first records carry no cold start. Called by `start(warm_up=True)`,
        after the module isolation. Returns the init time in ms by function."""
        timings = {}
        for source in self.sources:
            spec = source.function
            with self._invoke_lock, self._function_env(spec), self._function_stdout(spec):
                started = time.monotonic()
                self._handler(spec)
                timings[spec.logical_id] = round((time.monotonic() - started) * 1000, 1)
        return timings

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=POLL_WAIT_SECONDS + 30)
        self._threads.clear()
        self._stop_processes()
        if self._stdout is not None and sys.stdout is self._stdout:
            sys.stdout = self._stdout.original
        self._stdout = None
        for stream in self._logs.values():
            stream.close()
        self._logs.clear()
        self._restore_modules()

    def __enter__(self) -> LambdaRunner:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _isolate_modules(self) -> None:
        self._saved_modules = {
            name: module
            for name, module in sys.modules.items()
            if name == _FUNCTION_PACKAGE or name.startswith(_FUNCTION_PACKAGE + ".")
        }
        for name in self._saved_modules:
            del sys.modules[name]
        _reset_powertools_providers()

    def _restore_modules(self) -> None:
        for name in [n for n in sys.modules if n == _FUNCTION_PACKAGE or n.startswith(_FUNCTION_PACKAGE + ".")]:
            del sys.modules[name]
        sys.modules.update(self._saved_modules)
        self._saved_modules = {}
        _reset_powertools_providers()

    # -- draining --------------------------------------------------------------------------------------------

    def queue_depths(self) -> dict[str, int]:
        """Messages in each source queue (visible + in flight + delayed), by the queue's logical id."""
        sqs = self.stack.client("sqs")
        depths = {}
        for source in self.sources:
            attributes = sqs.get_queue_attributes(
                QueueUrl=source.queue_url,
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                    "ApproximateNumberOfMessagesDelayed",
                ],
            )["Attributes"]
            depths[source.queue_logical_id] = sum(int(value) for value in attributes.values())
        return depths

    def idle(self) -> bool:
        return not any(self._busy.values()) and not any(self.queue_depths().values())

    def drain(self, timeout: float = 60.0, poll_interval: float = 0.1) -> None:
        """Wait until every source queue is empty and no invocation runs (twice in a row, to close races)."""
        deadline = time.monotonic() + timeout
        calm = 0
        while True:
            calm = calm + 1 if self.idle() else 0
            if calm >= 2:
                return
            if time.monotonic() > deadline:
                depths = {name: depth for name, depth in self.queue_depths().items() if depth}
                busy = [name for name, running in self._busy.items() if running]
                errors = {name: stat.last_error for name, stat in self.stats.items() if stat.last_error}
                raise DrainTimeoutError(
                    f"not drained after {timeout:.0f} s: messages left in {depths or 'no queue'}"
                    + (f", still invoking {busy}" if busy else "")
                    + (f"; last handler errors: {errors}" if errors else "")
                    + " (failed messages come back after the queue's visibility timeout, then go to the DLQ)"
                )
            time.sleep(poll_interval)

    # -- polling and invoking --------------------------------------------------------------------------------

    def _receive(self, source: EventSource, count: int, wait_s: int) -> list[dict[str, Any]]:
        response = self.stack.client("sqs").receive_message(
            QueueUrl=source.queue_url,
            MaxNumberOfMessages=max(1, min(SQS_MAX_RECEIVE, count)),
            WaitTimeSeconds=wait_s,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages: list[dict[str, Any]] = response.get("Messages", [])
        return messages

    def _poll(self, source: EventSource, slot: int = 0) -> None:
        busy = self._slot_name(source, slot)
        while not self._stop.is_set():
            try:
                messages = self._receive(source, source.batch_size, POLL_WAIT_SECONDS)
                if not messages:
                    continue
                self._busy[busy] = True
                first_received = time.time()
                # MaximumBatchingWindowInSeconds: gather up to BatchSize records for at most the window.
                window_end = time.monotonic() + source.batching_window_s
                while len(messages) < source.batch_size and not self._stop.is_set():
                    remaining = window_end - time.monotonic()
                    if remaining <= 0:
                        break
                    # Pause, then take what is there without waiting (never spinning against moto).
                    self._stop.wait(min(GATHER_INTERVAL_SECONDS, remaining))
                    messages += self._receive(source, source.batch_size - len(messages), 0)
                self._process(source, messages, first_received, slot)
            except Exception:  # the poller must survive anything (moto hiccups, a handler bug)
                logger.exception("poller for %s failed; continuing", source.queue_logical_id)
                time.sleep(0.5)
            finally:
                self._busy[busy] = False

    def _process(
        self, source: EventSource, messages: list[dict[str, Any]], first_received: float, slot: int = 0
    ) -> None:
        records = [sqs_event_record(message, source) for message in messages]
        failed: set[str] = set()
        for _ in range(max(1, self.delivery_plan(source, records))):
            failed = self._invoke(source, records, first_received, slot)
        done = [message for message in messages if message["MessageId"] not in failed]
        for start in range(0, len(done), SQS_MAX_RECEIVE):
            chunk = done[start : start + SQS_MAX_RECEIVE]
            self.stack.client("sqs").delete_message_batch(
                QueueUrl=source.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
            )

    def _invoke(
        self, source: EventSource, records: list[dict[str, Any]], first_received: float, slot: int = 0
    ) -> set[str]:
        """Invoke the function once with these records; returns the message ids to keep (failed)."""
        spec = source.function
        stats = self.stats[spec.logical_id]
        all_ids = {record["messageId"] for record in records}
        context_fields = {
            "function_name": spec.name,
            "function_version": "$LATEST",
            "invoked_function_arn": spec.arn,
            "memory_limit_in_mb": spec.memory_mb,
            "aws_request_id": str(uuid.uuid4()),
            "log_group_name": f"/aws/lambda/{spec.name}",
            "log_stream_name": f"local/{threading.current_thread().name}",
        }
        started = time.monotonic()
        started_at = time.time()
        try:
            response = self._call(spec, {"Records": records}, context_fields, slot)
        except Exception as error:  # a raised error fails the whole batch, as in Lambda
            error_text = f"{type(error).__name__}: {error}" if self.isolation == "thread" else str(error)
            with self._stats_lock:
                stats.errors += 1
                stats.last_error = error_text
                stats.overran_timeout += isinstance(error, InvocationTimeoutError)
            logger.warning("%s raised %s; the batch will be retried", spec.logical_id, error_text)
            failed = all_ids
        else:
            failed = self._failed_ids(source, response, all_ids)
        elapsed_ms = (time.monotonic() - started) * 1000
        with self._stats_lock:
            stats.invocations += 1
            stats.records += len(records)
            stats.failed_records += len(failed)
            stats.durations_ms.append(elapsed_ms)
            stats.timeline.append((first_received, started_at, time.time(), len(records)))
            if self.isolation == "thread" and elapsed_ms > spec.timeout_s * 1000:
                stats.overran_timeout += 1
                logger.warning("%s ran %.0f ms, over its %d s timeout", spec.logical_id, elapsed_ms, spec.timeout_s)
        if self.on_invocation is not None:
            self.on_invocation(source, len(records), len(failed))
        return failed

    def _call(self, spec: FunctionSpec, event: dict[str, Any], context_fields: dict[str, Any], slot: int) -> Any:
        """One handler call: in the function's process for this slot, or in this process under the invoke lock."""
        if self.isolation == "process":
            process = self._processes[spec.logical_id][slot]
            with process.lock:
                return process.invoke(event, context_fields)
        with self._invoke_lock, self._function_env(spec), self._function_stdout(spec):
            context = LambdaContext(**context_fields, deadline_monotonic=time.monotonic() + spec.timeout_s)
            try:
                return self._handler(spec)(event, context)
            except Exception:
                sys.stdout.write(traceback.format_exc())  # into the function's log, as Lambda's runtime does
                raise

    @staticmethod
    def _failed_ids(source: EventSource, response: Any, all_ids: set[str]) -> set[str]:
        if not source.report_batch_item_failures:
            return set()
        items = response.get("batchItemFailures", []) if isinstance(response, dict) else []
        failed = {str(item.get("itemIdentifier") or "") for item in items}
        # Lambda treats an empty or unknown identifier as a failure of the whole batch.
        return all_ids if failed - all_ids else failed

    def _handler(self, spec: FunctionSpec) -> Callable[[dict[str, Any], Any], Any]:
        if spec.logical_id not in self._handlers:
            module_name, _, attribute = spec.handler.rpartition(".")
            module = importlib.import_module(module_name)
            self._handlers[spec.logical_id] = getattr(module, attribute)
        return self._handlers[spec.logical_id]

    def _function_env(self, spec: FunctionSpec) -> AbstractContextManager[None]:
        # Variables of other functions are removed, so a function never sees another one's settings.
        return environment({**spec.environment, **self.extra_env}, managed=self._env_keys)

    @contextmanager
    def _function_stdout(self, spec: FunctionSpec) -> Iterator[None]:
        stream = self._logs.get(spec.logical_id)
        if self._stdout is None or stream is None:
            yield
            return
        if sys.stdout is not self._stdout:
            # Someone swapped sys.stdout since start (pytest's capture does, per test): route again on top of it.
            self._stdout.original = sys.stdout
            sys.stdout = self._stdout
        self._stdout.local.sink = stream
        try:
            yield
        finally:
            self._stdout.local.sink = None
            stream.flush()


def _reset_powertools_providers() -> None:
    """Powertools caches one parameter provider per kind, with a boto3 client bound to the endpoint of its day."""
    try:
        from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_PROVIDERS
    except ImportError:
        return
    DEFAULT_PROVIDERS.clear()
