"""Shared helpers for the agent's tests: conversation scripts and a real AgentSession run into a folder."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

from agent.exporter import DirectorySink, Exporter
from agent.scripted_llm import ConversationScript
from agent.settings import AgentSettings

EXAMPLE_SCRIPT = Path(__file__).parent / "fixtures" / "agent" / "conversation.json"
SCHEMA_PATH = Path(__file__).parents[1] / "schemas" / "session-record.v1.json"


def example_script(**overrides: Any) -> ConversationScript:
    data = json.loads(EXAMPLE_SCRIPT.read_text())
    data.update(overrides)
    return ConversationScript.model_validate(data)


def folder_exporter(root: Path, *, budget_s: float = 5.0) -> Exporter:
    return Exporter(DirectorySink(root / "out"), spool_dir=root / "spool", budget_s=budget_s)


def make_settings(**overrides: Any) -> AgentSettings:
    return AgentSettings(caller_salt="test-salt", **overrides)


def stored_objects(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*.json.gz") if not path.name.startswith(".tmp-"))


def read_record(path: Path) -> dict[str, Any]:
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    assert len(lines) == 1, "a record object holds exactly one NDJSON line"
    record: dict[str, Any] = json.loads(lines[0])
    return record
