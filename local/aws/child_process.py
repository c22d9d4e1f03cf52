"""A child process on the far end of a pipe: how the local runner's function processes and the moto server
processes are started and stopped (spawn, so the child starts from a fresh interpreter with none of the parent's
threads; closing the pipe asks it to stop, since its loop ends on EOF)."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any


def spawn_child(target: Callable[..., None], args: tuple[Any, ...], name: str) -> tuple[Any, Connection]:
    """Start `target(child_end, *args)` in a daemon process; returns the process and the parent's end of the pipe."""
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=target, args=(child, *args), name=name, daemon=True)
    process.start()
    child.close()
    return process, parent


def stop_child(process: Any, conn: Connection | None, grace_s: float) -> None:
    """Close the pipe (the child's loop ends on EOF), wait `grace_s` for it to exit, then kill it."""
    if conn is not None:
        conn.close()
    if process is not None:
        process.join(timeout=grace_s)
        if process.is_alive():
            process.kill()
            process.join(timeout=5)
