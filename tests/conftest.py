"""Fixtures shared by every test folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chromium import ensure_chromium

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def chromium() -> str:
    """Path of a headless-capable Chromium: on PATH, or installed now from Debian's packages (as root, with
    apt-get; logged to build/test/chromium-setup.log), or the test is skipped with the reason."""
    setup = ensure_chromium(log_path=REPO / "build" / "test" / "chromium-setup.log")
    if setup.path is None:
        pytest.skip(setup.skip_reason or "Chromium is not available")
    return setup.path
