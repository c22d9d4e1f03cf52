"""The runtime install (`uv sync --no-dev`, the agent image) holds nothing of the local stack, and what runs there
needs none of it; the demo says what to install instead of failing on an import."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LOCAL_ONLY = ("moto", "aws-sam-translator", "cfn-lint", "matplotlib")
# Import names of the packages above, blocked in the child interpreters below (as if not installed).
BLOCKED = ("moto", "samtranslator", "cfnlint", "matplotlib")
BLOCK = f"import sys\nfor name in {BLOCKED!r}:\n    sys.modules[name] = None\n"


def _uv() -> str:
    uv = os.environ.get("UV") or shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not on PATH")
    return uv


def test_the_locked_runtime_set_lists_none_of_the_local_stacks_packages() -> None:
    exported = subprocess.run(
        [_uv(), "export", "--frozen", "--no-dev", "--no-hashes"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    names = {line.split("==")[0].split("[")[0].strip().lower() for line in exported.splitlines() if "==" in line}
    assert "livekit-agents" in names and "boto3" in names
    assert names.isdisjoint(LOCAL_ONLY), names & set(LOCAL_ONLY)


def _run(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", BLOCK + code, *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_the_agent_entry_and_the_cost_command_run_without_the_local_stacks_packages() -> None:
    agent = _run("import main; print(type(main.server).__name__)")
    assert agent.returncode == 0, agent.stderr
    assert agent.stdout.strip() == "AgentServer"

    cost = _run("from voice_analytics.cli import app; app(['cost', '-n', '1000', '--json'])")
    assert cost.returncode == 0, cost.stderr
    assert '"target"' in cost.stdout


def test_the_demo_without_the_local_stacks_packages_says_what_to_install() -> None:
    demo = _run("from voice_analytics.cli import app; app(['demo'])")
    assert demo.returncode == 2
    assert "moto[server]" in demo.stderr and "uv sync" in demo.stderr and "Traceback" not in demo.stderr
