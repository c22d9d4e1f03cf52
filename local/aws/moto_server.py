"""moto's server on 127.0.0.1: in a thread of this process (`start_in_thread`: `LocalStack(server="thread")`, the
agent's export tests, the export benchmark) or in a process of its own (`MotoProcess`:
`LocalStack(server="processes")`).

Why a process of its own: in-process, moto answers every AWS call of the pipeline on the caller's interpreter, so its
request threads, the runner's pollers, the writers and the Salesforce/Amplitude emulators all take turns on one GIL.
Under a burst each moto call then waits behind the others (score_lead spent ~220 ms a record waiting, at ~8
sessions/s) while the second core stayed a third idle. In AWS each service scales on its own; here each server
process gets its own interpreter, and DynamoDB (about a third of moto's time: Powertools' idempotency writes, whose
expressions moto parses on every call) gets a server of its own, reached through boto3's per-service endpoint
variable (AWS_ENDPOINT_URL_DYNAMODB), as a deployed function reaches the regional DynamoDB endpoint.

The child applies the same moto patches `LocalStack` applies in-process (`local.aws.moto_patches.apply_all`), then
serves until its parent closes the pipe or dies (the pipe's EOF), so no server outlives the stack that started it.
"""

from __future__ import annotations

import logging
from multiprocessing.connection import Connection
from typing import Any

from moto.server import ThreadedMotoServer

from local.aws.child_process import spawn_child, stop_child
from local.ports import free_port

READY = "ready"
START_TIMEOUT_S = 60.0


def start_in_thread(port: int = 0) -> tuple[ThreadedMotoServer, str]:
    """moto's server in a thread of this process, bound to loopback only (its default binds every interface); returns
    it and its endpoint URL. Patches are the caller's choice (`local.aws.moto_patches.apply_all`)."""
    # werkzeug logs every request at INFO to stderr (thousands of lines a burst); warnings and errors stay.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port or free_port(), verbose=False)
    server.start()
    host, bound = server.get_host_and_port()
    return server, f"http://{host}:{bound}"


def _serve(conn: Connection, port: int) -> None:  # pragma: no cover - runs in the child process
    from local.aws.moto_patches import apply_all

    apply_all()
    server, _ = start_in_thread(port)
    conn.send(READY)
    try:
        conn.recv()  # blocks until the parent closes its end (stop) or exits (EOF)
    except EOFError:
        pass
    finally:
        server.stop()


class MotoProcess:
    """One moto server in a child process on 127.0.0.1:`port`."""

    def __init__(self, port: int, name: str) -> None:
        self.port = port
        self.name = name
        self._process: Any = None
        self._conn: Connection | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> MotoProcess:
        self._process, parent = spawn_child(_serve, (self.port,), self.name)
        self._conn = parent
        if not parent.poll(START_TIMEOUT_S):
            self.stop()
            raise RuntimeError(f"moto server process {self.name!r} did not start within {START_TIMEOUT_S:.0f} s")
        try:
            message = parent.recv()
        except EOFError:
            message = None
        if message != READY:
            exit_code = self._process.exitcode
            self.stop()
            raise RuntimeError(f"moto server process {self.name!r} failed to start (exit code {exit_code})")
        return self

    def stop(self) -> None:
        stop_child(self._process, self._conn, grace_s=10)  # the child's recv() sees EOF and stops its server
        self._process, self._conn = None, None
