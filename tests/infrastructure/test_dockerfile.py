"""The agent image as the Dockerfile describes it (no Docker engine here: the file is read, and the image's /app is
rebuilt from its COPY lines in a folder and imported the way the image's command imports it)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from agent.settings import AgentSettings

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"


def _instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "") for line in lines]


def _copied_sources() -> list[str]:
    sources = []
    for keyword, argument in _instructions():
        if keyword == "COPY" and "--from=" not in argument:
            parts = [part for part in argument.split() if not part.startswith("--")]
            sources.extend(part.rstrip("/") for part in parts[:-1])
    return sources


def test_the_image_installs_the_locked_runtime_set_only_and_runs_as_a_user() -> None:
    instructions = _instructions()
    runs = [argument for keyword, argument in instructions if keyword == "RUN"]
    sync = [run for run in runs if "uv sync" in run]
    assert sync and all("--locked" in run and "--no-dev" in run for run in sync), sync
    users = [(index, argument) for index, (keyword, argument) in enumerate(instructions) if keyword == "USER"]
    cmd_index = next(index for index, (keyword, _) in enumerate(instructions) if keyword == "CMD")
    assert users and users[-1][0] < cmd_index and users[-1][1] not in ("root", "0")
    assert "local" not in _copied_sources() and "tests" not in _copied_sources()


def test_the_image_exposes_the_health_port_and_starts_the_current_entry() -> None:
    instructions = _instructions()
    exposed = [argument for keyword, argument in instructions if keyword == "EXPOSE"]
    assert exposed == [str(AgentSettings().health_port)]
    (command,) = [json.loads(argument) for keyword, argument in instructions if keyword == "CMD"]
    assert command == ["python", "-m", "livekit.agents", "start", "main.py"]


def test_the_images_app_folder_holds_everything_the_entry_imports(tmp_path: Path) -> None:
    for source in _copied_sources():
        origin = ROOT / source
        if origin.is_dir():
            shutil.copytree(origin, tmp_path / source, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(origin, tmp_path / source)
    # The project's own folders leave sys.path (the dev install makes them importable from anywhere): only the copy.
    code = (
        f"import sys; sys.path = [p for p in sys.path if p != {str(ROOT)!r}]; sys.path.insert(0, {str(tmp_path)!r})\n"
        "import main\n"
        "assert main.__file__.startswith(sys.path[0]), main.__file__\n"
        "print(type(main.server).__name__)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "AgentServer"
