"""Headless Chromium for the tests: found on PATH, else installed from Debian's packages, else a reason to skip.

`ensure_chromium()` is what the `chromium` session fixture (tests/conftest.py) calls. It installs only where that
is possible without asking anyone: running as root, with apt-get on PATH; then `apt-get install -y
--no-install-recommends chromium` (after `apt-get update` when the package lists are stale or empty), each step
with a timeout. Everything it did is logged (logger `tests.chromium`, and build/test/chromium-setup.log).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger("tests.chromium")

BINARIES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
DEBIAN_PACKAGE = "chromium"
INSTALL_TIMEOUT_SECONDS = 600
# The flags every headless run here uses: no sandbox (root in a container), no GPU, and nothing that talks to
# the network (QUIC, background services, component updates, sync) so a run is offline and deterministic.
HEADLESS_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


@dataclass
class ChromiumSetup:
    path: str | None
    skip_reason: str | None = None
    steps: list[str] = field(default_factory=list)


Runner = Callable[[Sequence[str], float], "subprocess.CompletedProcess[str]"]


def _run(command: Sequence[str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(command),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
    )


def find_chromium(which: Callable[[str], str | None] = shutil.which) -> str | None:
    for name in BINARIES:
        found = which(name)
        if found:
            return found
    return None


def ensure_chromium(
    *,
    which: Callable[[str], str | None] = shutil.which,
    run: Runner = _run,
    is_root: bool | None = None,
    log_path: Path | None = None,
    timeout_s: float = INSTALL_TIMEOUT_SECONDS,
) -> ChromiumSetup:
    """Chromium's path, installing it with apt-get when missing and possible; else why it cannot be had."""
    setup = ChromiumSetup(path=find_chromium(which))

    def note(step: str) -> None:
        setup.steps.append(step)
        logger.warning("chromium setup: %s", step)
        if log_path is not None:
            log_path.parent.mkdir(parents=True, exist_ok=True)
            with log_path.open("a", encoding="utf-8") as log:
                log.write(step + "\n")

    if setup.path:
        return setup
    root = os.geteuid() == 0 if is_root is None else is_root
    apt_get = which("apt-get")
    if not root or apt_get is None:
        why = "not running as root" if not root else "apt-get is not available (not a Debian-based system)"
        setup.skip_reason = (
            f"Chromium is not installed and cannot be installed here: {why}. "
            f"Install it (e.g. `sudo apt-get install -y {DEBIAN_PACKAGE}`) to run the headless-browser test."
        )
        note(setup.skip_reason)
        return setup

    install = [apt_get, "install", "-y", "--no-install-recommends", DEBIAN_PACKAGE]
    attempts = [[install], [[apt_get, "update"], install]]
    timed_out = False
    for commands in attempts:
        if timed_out:  # a second try would only wait as long again
            break
        failed = None
        for command in commands:
            note(f"running: {' '.join(command)}")
            try:
                result = run(command, timeout_s)
            except subprocess.TimeoutExpired:
                failed = f"`{' '.join(command)}` timed out after {timeout_s:.0f} s"
                timed_out = True
                break
            tail = (result.stderr or result.stdout or "").strip().splitlines()[-3:]
            note(f"exit {result.returncode}{': ' + ' | '.join(tail) if tail else ''}")
            if result.returncode != 0:
                failed = f"`{' '.join(command)}` exited {result.returncode}: {' | '.join(tail)}"
                break
        setup.path = find_chromium(which)
        if setup.path:
            note(f"installed: {setup.path}")
            return setup
        if failed is None:
            failed = f"apt-get finished but no {'/'.join(BINARIES)} is on PATH"
        setup.skip_reason = f"Chromium is not installed and installing it from Debian's packages failed: {failed}"
    note(setup.skip_reason or "")
    return setup
