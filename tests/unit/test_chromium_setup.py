"""tests/chromium.py: when the Chromium fixture installs from Debian's packages, and when it skips (and why)."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

from tests.chromium import ensure_chromium


class FakeSystem:
    def __init__(self, *, chromium: bool = False, apt_get: bool = True, results: Sequence[int] = ()) -> None:
        self.installed = chromium
        self.apt_get = apt_get
        self.results = list(results)
        self.commands: list[list[str]] = []

    def which(self, name: str) -> str | None:
        if name == "apt-get":
            return "/usr/bin/apt-get" if self.apt_get else None
        return "/usr/bin/chromium" if self.installed and name == "chromium" else None

    def run(self, command: Sequence[str], timeout: float) -> subprocess.CompletedProcess[str]:
        self.commands.append(list(command))
        code = self.results.pop(0)
        if code == -1:
            raise subprocess.TimeoutExpired(list(command), timeout)
        if code == 0 and "install" in command:
            self.installed = True
        return subprocess.CompletedProcess(
            list(command), code, "", "E: Unable to locate package chromium" if code else ""
        )


def test_a_chromium_on_path_is_used_as_is() -> None:
    system = FakeSystem(chromium=True)
    setup = ensure_chromium(which=system.which, run=system.run, is_root=True)
    assert setup.path == "/usr/bin/chromium" and setup.skip_reason is None and system.commands == []


def test_installs_with_apt_get_as_root_and_logs_it(tmp_path: Path) -> None:
    system = FakeSystem(results=[0])
    log = tmp_path / "chromium-setup.log"
    setup = ensure_chromium(which=system.which, run=system.run, is_root=True, log_path=log)
    assert setup.path == "/usr/bin/chromium"
    assert system.commands == [["/usr/bin/apt-get", "install", "-y", "--no-install-recommends", "chromium"]]
    assert "running: /usr/bin/apt-get install -y --no-install-recommends chromium" in log.read_text()
    assert "installed: /usr/bin/chromium" in log.read_text()


def test_updates_the_package_lists_when_the_first_install_fails() -> None:
    system = FakeSystem(results=[100, 0, 0])
    setup = ensure_chromium(which=system.which, run=system.run, is_root=True)
    assert setup.path == "/usr/bin/chromium"
    assert [command[1] for command in system.commands] == ["install", "update", "install"]


def test_skips_with_the_reason_when_it_cannot_install() -> None:
    not_root = ensure_chromium(which=FakeSystem().which, run=FakeSystem().run, is_root=False)
    assert not_root.path is None and "not running as root" in (not_root.skip_reason or "")

    no_apt = FakeSystem(apt_get=False)
    without_apt = ensure_chromium(which=no_apt.which, run=no_apt.run, is_root=True)
    assert "apt-get is not available" in (without_apt.skip_reason or "") and no_apt.commands == []

    failing = FakeSystem(results=[100, 0, 100])
    failed = ensure_chromium(which=failing.which, run=failing.run, is_root=True)
    assert failed.path is None
    assert "installing it from Debian's packages failed" in (failed.skip_reason or "")
    assert "exited 100: E: Unable to locate package chromium" in (failed.skip_reason or "")


def test_a_timeout_is_not_retried() -> None:
    system = FakeSystem(results=[-1])
    setup = ensure_chromium(which=system.which, run=system.run, is_root=True, timeout_s=5)
    assert setup.path is None and "timed out after 5 s" in (setup.skip_reason or "")
    assert len(system.commands) == 1
