"""Cold import of each Lambda handler: a fresh interpreter importing the module, as Lambda's init phase does.

The figure is the import alone (interpreter start-up excluded), median of several fresh processes, with the
environment a deployed function has (names only; nothing is called at import). The interpreter is a
Lambda-like one: CPython 3.12 with only `functions/requirements.txt` and boto3 installed (what the deployed
artifact and the runtime hold), not the project's development environment, whose extra packages change what
gets imported (zeep, for one, imports httpx, and with it rich, when httpx is installed).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
LAMBDA_VENV = ROOT / "build" / "bench" / "lambda-py312"

HANDLERS = {
    "score_lead": "functions.score_lead.handler",
    "salesforce_sync": "functions.salesforce_sync.handler",
    "amplitude_events": "functions.amplitude_events.handler",
    "hot_lead_alert": "functions.hot_lead_alert.handler",
}

LAMBDA_LIKE_ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "STAGE": "bench",
    "SESSIONS_BUCKET": "bench-sessions",
    "IDEMPOTENCY_TABLE": "bench-idempotency",
    "EVENT_BUS_NAME": "bench-bus",
    "DEAD_LETTER_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/bench-dlq",
    "HOT_LEAD_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:bench-hot-leads",
    "SALESFORCE_SECRET_NAME": "bench/salesforce",
    "AMPLITUDE_SECRET_NAME": "bench/amplitude",
    "POWERTOOLS_TRACE_DISABLED": "1",
}

PROBE = (
    "import time, importlib; t = time.perf_counter(); importlib.import_module({module!r}); "
    "print(time.perf_counter() - t)"
)


def _uv() -> list[str]:
    found = shutil.which("uv")
    return [found] if found else ["python3", "-m", "uv"]


def _locked_version(package: str) -> str:
    lock = (ROOT / "uv.lock").read_text(encoding="utf-8")
    marker = f'name = "{package}"\nversion = "'
    start = lock.index(marker) + len(marker)
    return lock[start : lock.index('"', start)]


def _python_312() -> str:
    """CPython 3.12 (Lambda's runtime) from pyenv or PATH; else this interpreter, which the output names."""
    candidates = [*sorted(str(p) for p in Path.home().glob(".pyenv/versions/3.12*/bin/python3.12"))]
    candidates += [found] if (found := shutil.which("python3.12")) else []
    for candidate in candidates:
        if subprocess.run([candidate, "--version"], capture_output=True, check=False).returncode == 0:
            return candidate
    return sys.executable


def lambda_like_python() -> Path:
    """A CPython 3.12 venv holding only what a deployed function has; built once under build/bench/."""
    python = LAMBDA_VENV / "bin" / "python"
    if not python.exists():
        interpreter = _python_312()
        subprocess.run(
            [*_uv(), "venv", "--quiet", "--no-python-downloads", "--python", interpreter, str(LAMBDA_VENV)], check=True
        )
        subprocess.run(
            [
                *_uv(),
                "pip",
                "install",
                "--quiet",
                "--compile-bytecode",  # pip's default, and what a built artifact holds
                "--python",
                str(python),
                "-r",
                str(ROOT / "functions" / "requirements.txt"),
                f"boto3=={_locked_version('boto3')}",
            ],
            check=True,
        )
    return python


def cold_import_ms(module: str, python: Path, runs: int = 5) -> float:
    env = {**os.environ, **LAMBDA_LIKE_ENV, "PYTHONPATH": str(ROOT)}
    env.pop("AWS_ENDPOINT_URL", None)
    # This machine sets PYTHONDONTWRITEBYTECODE; without bytecode every run would compile every module anew.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run([str(python), "-m", "compileall", "-q", str(ROOT / "functions")], env=env, check=True)
    samples = []
    for _ in range(runs):
        result = subprocess.run(
            [str(python), "-c", PROBE.format(module=module)], capture_output=True, text=True, env=env, check=True
        )
        samples.append(float(result.stdout.strip()) * 1000)
    return round(statistics.median(samples), 1)


def run(runs: int = 5) -> dict[str, Any]:
    python = lambda_like_python()
    version = subprocess.run([str(python), "--version"], capture_output=True, text=True, check=True).stdout.strip()
    figures: dict[str, Any] = {
        name: {"cold_import_ms": cold_import_ms(module, python, runs)} for name, module in HANDLERS.items()
    }
    figures["interpreter"] = version
    return figures


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
