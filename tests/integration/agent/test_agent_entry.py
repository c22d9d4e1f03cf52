"""The real entry, as LiveKit's CLI runs it, in fresh interpreters with deprecation warnings as errors.

- `python -m livekit.agents start` (production) and `start --dev` (what `lk agent dev` runs) find main.py at the
  repository root, start the worker, and in production run the prewarm (Silero) in the idle job processes.
- `python -m livekit.agents console --connect-addr HOST:PORT` (what `lk agent console` runs) talks to a stand-in
  for the LiveKit CLI on a loopback port and runs the job on a thread, as console does: the prewarm and the
  entrypoint run there without "Plugins must be registered on the main thread", and the call's record is exported
  from on_session_end when the console stops.

Nothing leaves the machine: LiveKit, LiveKit Inference and S3 are loopback ports where nothing listens.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from local.ports import free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
FORBIDDEN = re.compile(r"DeprecationWarning|deprecated|Plugins must be registered|Traceback", re.IGNORECASE)


class _Agent:
    """A subprocess whose combined output is collected by a thread, so a test can wait for a line."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-W", "error::DeprecationWarning", "-m", "livekit.agents", *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, pattern: str, timeout_s: float = 90.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if re.search(pattern, self.output):
                return
            if self.process.poll() is not None or FORBIDDEN.search(self.output):
                break
            time.sleep(0.2)
        raise AssertionError(f"no line matching {pattern!r}; output:\n{self.output[-4000:]}")

    def stop(self) -> int:
        """SIGINT, as Ctrl+C or an orchestrator's stop: the worker drains and exits."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            code = self.process.wait(timeout=90)
        finally:
            if self.process.poll() is None:
                self.process.kill()
        self._reader.join(timeout=5)
        return code


def _environment(tmp_path: Path) -> dict[str, str]:
    nowhere = f"127.0.0.1:{free_port()}"
    env = {key: value for key, value in os.environ.items() if not key.startswith(("LIVEKIT_", "AGENT_", "ANALYTICS_"))}
    env.update(
        {
            "LIVEKIT_URL": f"ws://{nowhere}",
            "LIVEKIT_API_KEY": "test-api-key",
            "LIVEKIT_API_SECRET": "test-api-secret-of-thirty-two-bytes-or-more",
            "LIVEKIT_INFERENCE_URL": f"http://{nowhere}",
            "AGENT_MODEL_BACKEND": "inference",
            "AGENT_HEALTH_PORT": str(free_port()),
            "ANALYTICS_BUCKET": "analytics",
            "ANALYTICS_SPOOL_DIR": str(tmp_path / "spool"),
            "ANALYTICS_CALLER_SALT": "entry-test-salt",
            "ANALYTICS_EXPORT_BUDGET_S": "2",
            "ANALYTICS_S3_MAX_ATTEMPTS": "1",
            "ANALYTICS_S3_CONNECT_TIMEOUT_S": "0.3",
            "AWS_ENDPOINT_URL": f"http://{nowhere}",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
    )
    return env


@pytest.mark.parametrize("mode", ["production", "dev"])
def test_the_worker_entry_starts_from_the_repository_root_without_deprecation_warnings(
    tmp_path: Path, mode: str
) -> None:
    env = _environment(tmp_path)
    agent = _Agent(["start"] if mode == "production" else ["start", "--dev"], env)
    try:
        if mode == "production":
            # Idle job processes ran the prewarm (Silero loaded), and the health check answers on our port.
            agent.wait_for(r"process initialized")
            with urllib.request.urlopen(f"http://127.0.0.1:{env['AGENT_HEALTH_PORT']}/", timeout=5) as response:
                assert response.status == 200
        agent.wait_for(r"failed to connect to livekit")
    finally:
        code = agent.stop()
    assert code == 0, agent.output[-4000:]
    assert not FORBIDDEN.search(agent.output), FORBIDDEN.search(agent.output)


@contextmanager
def _livekit_cli_stand_in() -> Iterator[tuple[int, list[bytes]]]:
    """The LiveKit CLI's side of console: a TCP server on loopback reading length-prefixed session messages."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    messages: list[bytes] = []

    def serve() -> None:
        connection, _ = server.accept()
        with connection:
            while header := connection.recv(4, socket.MSG_WAITALL):
                if len(header) < 4:
                    break
                (length,) = struct.unpack(">I", header)
                messages.append(connection.recv(length, socket.MSG_WAITALL))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1], messages
    finally:
        server.close()


def test_console_runs_the_job_on_a_thread_and_exports_its_record_from_on_session_end(tmp_path: Path) -> None:
    env = _environment(tmp_path)
    with _livekit_cli_stand_in() as (port, messages):
        agent = _Agent(["console", "--connect-addr", f"127.0.0.1:{port}"], env)
        try:
            agent.wait_for(r"session console-mock-job-\S+ started in room console")
        finally:
            code = agent.stop()

    assert code == 0, agent.output[-4000:]
    assert not FORBIDDEN.search(agent.output), FORBIDDEN.search(agent.output)
    assert messages, "the console never talked to the LiveKit CLI's side"
    # The job ran on a thread: its log lines carry a thread id that is not the process's main thread (pid on Linux).
    job_threads = {int(tid) for tid in re.findall(r'"tid": (\d+)', agent.output)}
    assert job_threads and agent.process.pid not in job_threads
    assert "exported at session end: spooled" in agent.output
    spooled = sorted((tmp_path / "spool").rglob("*.json.gz"))
    assert len(spooled) == 1, spooled
    record = json.loads(gzip.decompress(spooled[0].read_bytes()))
    assert re.fullmatch(r"console-mock-job-[0-9a-f]+", record["session_id"])
    assert record["room"] == "console"
    assert record["end_reason"] == "worker_shutdown"
