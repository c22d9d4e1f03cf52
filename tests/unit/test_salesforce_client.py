"""functions/common/salesforce_client.py: simple-salesforce imported without its Metadata API and JWT modules, which
are still there, real, when something uses them. Fails when a simple-salesforce version imports more of either
module at import, so that the stand-ins no longer apply."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, sys
from functions.common.salesforce_client import Salesforce
loaded = {name: name in sys.modules for name in ("zeep", "lxml", "jwt.api_jwt", "cryptography")}
client = Salesforce(instance_url="https://example.my.salesforce.com", session_id="00D-session", version="59.0")
metadata_api = client.mdapi
import jwt
token = jwt.encode({"sub": "integration"}, "secret", algorithm="HS256")
print(json.dumps({
    "loaded_at_import": loaded,
    "metadata_api_class": f"{type(metadata_api).__module__}.{type(metadata_api).__name__}",
    "zeep_loaded_on_use": "zeep" in sys.modules,
    "jwt_decodes": jwt.decode(token, "secret", algorithms=["HS256"]) == {"sub": "integration"},
}))
"""


def _probe() -> dict[str, object]:
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, cwd=ROOT, check=True)
    state: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return state


def test_importing_the_client_loads_neither_the_metadata_api_nor_jwt_and_both_work_when_used() -> None:
    state = _probe()
    assert state["loaded_at_import"] == {"zeep": False, "lxml": False, "jwt.api_jwt": False, "cryptography": False}
    assert state["metadata_api_class"] == "simple_salesforce.metadata.SfdcMetadataApi"
    assert state["zeep_loaded_on_use"] is True
    assert state["jwt_decodes"] is True
