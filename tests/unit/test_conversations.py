"""The bundled sample conversations (`conversations/*.json`): valid scripts, unique ids, known tools, safe contacts.

The demo replays every file in that folder through the real agent, so a broken or ambiguous script would only
show up as a confusing demo run; these checks catch it first. Tool names and argument names are read from the
assistant's own tool signatures, so renaming a tool or an argument there fails here too.
"""

from __future__ import annotations

import inspect
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from livekit.agents import llm

from agent.assistant import Assistant
from agent.scripted_llm import ConversationScript

CONVERSATIONS = Path(__file__).parents[2] / "conversations"
SCRIPT_PATHS = sorted(CONVERSATIONS.glob("*.json"))
REQUIRED_KEYS = {"session_id", "caller", "started_at", "turns"}
KNOWLEDGE_CATEGORIES = {"integrations", "pricing", "security", "templates", "general"}
# Contacts in the samples must never be real: reserved example domains (RFC 2606) and 555 numbers.
SAFE_EMAIL_DOMAINS = {"example.com", "example.org"}
EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")
PHONE_RE = re.compile(r"\(?\b(\d{3})\)?[\s.-]*(\d{3})[\s.-]*(\d{4})\b")
DEMO_DAY = datetime(2026, 11, 25, tzinfo=UTC)


def _tool_parameters() -> dict[str, set[str]]:
    """Each tool the assistant offers, with the argument names the model must pass."""
    return {
        tool.info.name: {name for name in inspect.signature(tool).parameters if name not in ("self", "context")}
        for tool in llm.find_function_tools(Assistant)
    }


TOOLS = _tool_parameters()


def _raw(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _scripts() -> list[ConversationScript]:
    return [ConversationScript.load(path) for path in SCRIPT_PATHS]


def _tool_turns(script: ConversationScript) -> list[Any]:
    return [turn for turn in script.turns if turn.role == "assistant" and turn.tool]


def test_there_are_at_least_forty_scripts_in_a_stable_order() -> None:
    assert len(SCRIPT_PATHS) >= 40
    assert [path.name for path in SCRIPT_PATHS] == sorted(path.name for path in CONVERSATIONS.glob("*.json"))


@pytest.mark.parametrize("path", SCRIPT_PATHS, ids=lambda path: path.stem)
def test_every_script_parses_with_the_required_keys(path: Path) -> None:
    raw = _raw(path)
    assert raw.keys() >= REQUIRED_KEYS, f"{path.name} lacks {REQUIRED_KEYS - raw.keys()}"
    script = ConversationScript.model_validate(raw)  # unknown keys are rejected there
    assert script.session_id == path.stem
    assert script.caller.identity
    assert script.turns and script.turns[0].role == "user"
    for turn in script.turns:
        if turn.role == "user":
            assert turn.text is not None and not turn.tool and not turn.args and turn.fail is None
        else:
            assert (turn.text is None) != (turn.tool is None), "an assistant turn is either text or one tool call"


@pytest.mark.parametrize("path", SCRIPT_PATHS, ids=lambda path: path.stem)
def test_every_tool_turn_names_a_known_tool_with_its_argument_names(path: Path) -> None:
    script = ConversationScript.load(path)
    for turn in _tool_turns(script):
        assert turn.tool in TOOLS, f"{path.name}: unknown tool {turn.tool!r}"
        assert set(turn.args) == TOOLS[turn.tool], f"{path.name}: {turn.tool} arguments {sorted(turn.args)}"
        assert all(isinstance(value, str) and value.strip() for value in turn.args.values())
        if turn.tool == "unleash_search_knowledge":
            assert turn.args["category"] in KNOWLEDGE_CATEGORIES


def test_session_ids_are_unique() -> None:
    ids = [script.session_id for script in _scripts()]
    assert len(ids) == len(set(ids))


def test_start_times_are_in_utc_in_the_days_before_the_demo() -> None:
    for path in SCRIPT_PATHS:
        started = _raw(path)["started_at"]
        assert started.endswith("Z"), path.name
        moment = datetime.fromisoformat(started.replace("Z", "+00:00"))
        assert DEMO_DAY - timedelta(days=7) <= moment < DEMO_DAY, path.name


@pytest.mark.parametrize("path", SCRIPT_PATHS, ids=lambda path: path.stem)
def test_contacts_use_example_domains_and_555_numbers(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    for domain in EMAIL_RE.findall(text):
        assert domain.lower() in SAFE_EMAIL_DOMAINS, f"{path.name}: {domain}"
    for _area, exchange, _line in PHONE_RE.findall(text):
        assert exchange == "555", f"{path.name}: a phone number outside the 555 range"
    identity = _raw(path)["caller"]["identity"]
    if identity.startswith("sip_"):
        assert re.fullmatch(r"sip_\+1\d{3}555\d{4}", identity), identity


def test_the_set_covers_the_cases_the_demo_needs() -> None:
    scripts = _scripts()
    tool_turns = [turn for script in scripts for turn in _tool_turns(script)]
    failing = [turn for turn in tool_turns if turn.fail]
    assert len(failing) >= 4
    assert {turn.tool for turn in failing} >= {"unleash_search_knowledge", "book_sales_meeting"}
    assert (
        sum(any(turn.tool == "book_sales_meeting" and not turn.fail for turn in _tool_turns(s)) for s in scripts) >= 10
    )
    assert sum(not any(turn.tool == "book_sales_meeting" for turn in _tool_turns(s)) for s in scripts) >= 10
    # Silence: a caller who says nothing at all, or almost nothing.
    assert any(all(not text.strip() for text in script.user_texts()[1:]) for script in scripts)
    assert any(len(script.user_texts()) >= 20 for script in scripts), "at least one long call"
    assert len({script.end_reason for script in scripts}) >= 4
    identities = {script.caller.identity or "" for script in scripts}
    assert any(identity.startswith("sip_") for identity in identities)
    assert any(not identity.startswith("sip_") for identity in identities)
