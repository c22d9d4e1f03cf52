"""functions/common/cold_start.py: no garbage collection during Lambda's init only, and collection back on after it."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import gc, importlib, json, sys
importlib.import_module(sys.argv[1])
print(json.dumps({"enabled": gc.isenabled(), "frozen": gc.get_freeze_count()}))
"""


def _import_in_fresh_interpreter(module: str, **env: str) -> dict[str, object]:
    environment = {
        key: value for key, value in os.environ.items() if key not in {"_HANDLER", "AWS_ENDPOINT_URL", "AWS_PROFILE"}
    }
    environment.update(
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        POWERTOOLS_TRACE_DISABLED="true",
        **env,
    )
    result = subprocess.run(
        [sys.executable, "-c", PROBE, module], capture_output=True, text=True, env=environment, cwd=ROOT, check=True
    )
    state: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return state


def test_importing_function_code_outside_lambda_leaves_the_collector_alone() -> None:
    from functions.common import cold_start

    assert gc.isenabled()
    cold_start.init_done()  # a no-op when init did not pause collection
    assert gc.isenabled()


@pytest.mark.parametrize("function", ["score_lead", "salesforce_sync", "amplitude_events", "hot_lead_alert"])
def test_lambda_init_of_each_handler_ends_with_collection_on_and_init_frozen(function: str) -> None:
    handler = f"functions.{function}.handler"
    state = _import_in_fresh_interpreter(handler, _HANDLER=f"{handler}.lambda_handler")
    assert state["enabled"] is True
    assert isinstance(state["frozen"], int) and state["frozen"] > 50_000


def test_a_module_other_than_a_handler_without_lambda_init_keeps_the_collector_on() -> None:
    state = _import_in_fresh_interpreter("functions.hot_lead_alert.logic")
    assert state["enabled"] is True
