"""One Lambda function's execution environment in a process of its own: the runner's `isolation="process"`.

What Lambda gives a function and a thread cannot: its own interpreter (no GIL shared with moto or the other
functions, so the local pipeline uses every core), its own `os.environ`, its own stdout (the log group), and an
invocation that can be stopped when it overruns the function's timeout (the runner kills the process and the
next invocation starts a fresh one, a cold start, as Lambda does).

The runner starts `serve` with multiprocessing's "spawn" method (never fork: the parent runs moto's server
threads) and talks over a pipe:
- the worker answers ("ready", init_ms) after its init phase (importing the handler module), or
  ("init_error", text, traceback);
- then, per invocation, the runner sends (event, context fields) and gets ("ok", response) or
  ("error", "Type: message", traceback).

This module stays light on purpose (no moto, no local.aws.stack): it is what every worker process imports first.
"""

from __future__ import annotations

import importlib
import sys
import time
import traceback
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from local.environment import apply_environment


@dataclass
class LambdaContext:
    """The attributes and method of the Lambda context object that handlers and Powertools use."""

    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    deadline_monotonic: float

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline_monotonic - time.monotonic()) * 1000))


def serve(conn: Connection, handler: str, environment: dict[str, str], managed: set[str], log_path: str | None) -> None:
    """The worker's main loop: init once, then one invocation per message until the pipe closes."""
    apply_environment(environment, managed)
    if log_path is not None:
        # Powertools' logger binds sys.stdout when the handler module creates it, so redirect before the import.
        sys.stdout = Path(log_path).open("a", encoding="utf-8", buffering=1)  # noqa: SIM115  # lives with the process
    started = time.monotonic()
    try:
        module_name, _, attribute = handler.rpartition(".")
        function = getattr(importlib.import_module(module_name), attribute)
    except BaseException as error:  # an init failure is reported, as Lambda reports Runtime.ImportModuleError
        conn.send(("init_error", f"{type(error).__name__}: {error}", traceback.format_exc()))
        return
    conn.send(("ready", round((time.monotonic() - started) * 1000, 1)))
    while True:
        try:
            event, context_fields = conn.recv()
        except (EOFError, OSError):
            return
        # The deadline is re-based on this process's monotonic clock (the runner sends the remaining time).
        remaining_s = float(context_fields.pop("remaining_s"))
        context = LambdaContext(**context_fields, deadline_monotonic=time.monotonic() + remaining_s)
        try:
            response = function(event, context)
        except Exception as error:  # a raised error fails the whole batch, as in Lambda
            sys.stdout.write(traceback.format_exc())
            reply: tuple[Any, ...] = ("error", f"{type(error).__name__}: {error}", traceback.format_exc())
        else:
            reply = ("ok", response)
        sys.stdout.flush()
        conn.send(reply)
