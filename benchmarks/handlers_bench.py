"""Cold import of each Lambda handler: a fresh interpreter importing the module, as Lambda's init phase does.

The figure is the import alone (interpreter start-up excluded), median of several fresh processes, with the
environment a deployed function has: the variables the Lambda runtime sets and the template's (names only; nothing
is called at import). The interpreter is a Lambda-like one: CPython 3.12 with only `functions/requirements.txt` and
boto3 installed (what the deployed artifact and the runtime hold), not the project's development environment, whose
extra packages change what gets imported (zeep, for one, imports httpx, and with it rich, when httpx is installed).
Its bytecode is compiled as the artifact's is (the Makefile's build-lambda): unchecked-hash .pyc files.

Each figure comes with its split: `import_floor_ms`, the libraries' part (self time of every module outside
`functions` under `-X importtime`), and `own_import_ms`, the rest (see `cold_import_ms`).
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
# The function code as the artifact holds it (Lambda's /var/task): a copy of functions/ with the artifact's bytecode,
# which is never compiled into the repository's functions/ (a .pyc that does not check its source would outlive edits).
TASK_ROOT = ROOT / "build" / "bench" / "task"

HANDLERS = {
    "score_lead": "functions.score_lead.handler",
    "salesforce_sync": "functions.salesforce_sync.handler",
    "amplitude_events": "functions.amplitude_events.handler",
    "hot_lead_alert": "functions.hot_lead_alert.handler",
}

# What the Lambda runtime sets in every function (names and shapes as in AWS; values are placeholders). Without
# LAMBDA_TASK_ROOT the X-Ray SDK believes it runs outside Lambda: it builds the centralized-sampling sampler, with two
# botocore clients (about 150 ms that a deployed function never spends), and Powertools' Tracer disables itself, so
# the patching a deployed function does pay (`Tracing: Active` in template.yaml) would go unmeasured.
LAMBDA_RUNTIME_ENV = {
    "LAMBDA_TASK_ROOT": str(TASK_ROOT),
    "LAMBDA_RUNTIME_DIR": "/var/runtime",
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
    "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_SESSION_TOKEN": "bench",
    "AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129:2000",
    "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
    "_AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129",
    "_AWS_XRAY_DAEMON_PORT": "2000",
    "TZ": ":UTC",
}

# template.yaml's Globals and per-function variables (defaults of its parameters). POWERTOOLS_TRACE_DISABLED is not
# among them: the deployed functions trace (`Tracing: Active`), so the bench traces too.
LAMBDA_LIKE_ENV = {
    **LAMBDA_RUNTIME_ENV,
    "STAGE": "bench",
    "LOG_LEVEL": "INFO",
    "POWERTOOLS_METRICS_NAMESPACE": "VoiceAnalytics",
    "SESSIONS_BUCKET": "bench-sessions",
    "IDEMPOTENCY_TABLE": "bench-idempotency",
}

FUNCTION_ENV = {
    "score_lead": {
        "EVENT_BUS_NAME": "bench-bus",
        "HOT_TEAM_SIZE": "5",
        "HOT_MONTHLY_VOLUME": "100",
        "LLM_SCORING_ENABLED": "false",
        "LLM_MODEL_ID": "anthropic.claude-3-haiku-20240307-v1:0",
        "MAX_RECORD_BYTES": "1048576",
    },
    "salesforce_sync": {"SALESFORCE_SECRET_NAME": "bench/salesforce"},
    "amplitude_events": {"AMPLITUDE_SECRET_NAME": "bench/amplitude"},
    "hot_lead_alert": {"HOT_LEAD_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:bench-hot-leads"},
}


def function_env(name: str) -> dict[str, str]:
    """The environment of the deployed function `name` (runtime, template Globals and its own variables)."""
    return {
        **LAMBDA_LIKE_ENV,
        "AWS_LAMBDA_FUNCTION_NAME": f"voice-analytics-bench-{name}",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/voice-analytics-bench-{name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2024/01/01/[$LATEST]0123456789abcdef0123456789abcdef",
        "_HANDLER": f"{HANDLERS[name]}.lambda_handler",
        "POWERTOOLS_SERVICE_NAME": name,
        "DEAD_LETTER_QUEUE_URL": f"https://sqs.us-east-1.amazonaws.com/123456789012/bench-{name}-dlq",
        **FUNCTION_ENV[name],
    }


PROBE = (
    "import time, importlib; t = time.perf_counter(); importlib.import_module({module!r}); "
    "print(time.perf_counter() - t)"
)
# The same import under `-X importtime`, after a marker on stderr (the interpreter's own start-up imports come
# before it): every module's self time, i.e. its body without the modules it imports.
SPLIT_MARKER = "-- handler import --"
SPLIT_PROBE = "import sys; sys.stderr.write({marker!r} + '\\n'); sys.stderr.flush(); import {module}"


def import_self_times_us(importtime_stderr: str) -> dict[str, int]:
    """Self time (µs) of each module `-X importtime` reports after SPLIT_MARKER, by its top-level package, with
    `functions` (the function code) kept apart from the libraries and the standard library."""
    totals = {"functions": 0, "libraries": 0}
    for line in importtime_stderr.split(SPLIT_MARKER, 1)[-1].splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, _cumulative, name = line.removeprefix("import time:").split("|")
        totals["functions" if name.strip().split(".")[0] == "functions" else "libraries"] += int(self_us)
    return totals


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


def compile_like_the_artifact(python: Path, *paths: Path) -> None:
    """Bytecode as the Makefile's build-lambda compiles the artifact: unchecked-hash .pyc files, read without
    looking at their source. Recompiled whatever is there (`-f`)."""
    env = {**os.environ}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # set on this machine; compileall writes .pyc files regardless
    command = [str(python), "-m", "compileall", "-q", "-f", "-j", "0", "--invalidation-mode", "unchecked-hash"]
    subprocess.run([*command, *map(str, paths)], env=env, check=True, stdout=subprocess.DEVNULL)


def lambda_like_python() -> Path:
    """A CPython 3.12 venv holding only what a deployed function has; built once under build/bench/."""
    python = LAMBDA_VENV / "bin" / "python"
    stamp = LAMBDA_VENV / ".unchecked-hash-bytecode"
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
                "--compile-bytecode",  # recompiled below as the artifact's is
                "--python",
                str(python),
                "-r",
                str(ROOT / "functions" / "requirements.txt"),
                f"boto3=={_locked_version('boto3')}",
            ],
            check=True,
        )
    if not stamp.exists():
        site_packages = subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        compile_like_the_artifact(python, Path(site_packages))
        stamp.touch()
    return python


def stage_task_root(python: Path) -> None:
    """Copy functions/ to TASK_ROOT and compile it as build-lambda compiles the artifact."""
    shutil.rmtree(TASK_ROOT, ignore_errors=True)
    shutil.copytree(ROOT / "functions", TASK_ROOT / "functions", ignore=shutil.ignore_patterns("__pycache__"))
    compile_like_the_artifact(python, TASK_ROOT / "functions")


def _handler_env(name: str) -> dict[str, str]:
    env = {**os.environ, **function_env(name), "PYTHONPATH": str(TASK_ROOT)}
    for variable in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "POWERTOOLS_TRACE_DISABLED", "POWERTOOLS_DEV", "AWS_SAM_LOCAL"):
        env.pop(variable, None)
    return env


def _probe(python: Path, code: str, env: dict[str, str], *options: str) -> str:
    """Run `code` in a fresh interpreter; its stdout, or with `-X importtime` among `options` its stderr."""
    result = subprocess.run(
        [str(python), *options, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        cwd=TASK_ROOT,  # `-c` puts the working directory first on sys.path, as /var/task is in Lambda
        check=True,
    )
    return (result.stderr if "importtime" in options else result.stdout).strip()


def cold_import_ms(name: str, python: Path, runs: int = 5) -> dict[str, float]:
    """`cold_import_ms`: median over `runs` fresh interpreters importing the handler module. `import_floor_ms`: the
    part of it spent in library modules' bodies (boto3, Powertools, pydantic, the X-Ray SDK, simple-salesforce,
    amplitude, the standard library), from the same import under `-X importtime` (median share of self time over as
    many runs, alternated with the plain ones so a slow spell of this shared machine weighs on both); `own_import_ms`
    the rest: our modules' bodies, including the library calls they make at import (pydantic building our models,
    boto3 clients and Powertools objects created at init). No amount of work on our code takes a cold import below
    the floor."""
    module = HANDLERS[name]
    env = _handler_env(name)
    full, library_shares = [], []
    for _ in range(runs):
        full.append(float(_probe(python, PROBE.format(module=module), env)) * 1000)
        split = _probe(python, SPLIT_PROBE.format(marker=SPLIT_MARKER, module=module), env, "-X", "importtime")
        times = import_self_times_us(split)
        library_shares.append(times["libraries"] / (times["libraries"] + times["functions"]))
    cold = statistics.median(full)
    floor = cold * statistics.median(library_shares)
    return {
        "cold_import_ms": round(cold, 1),
        "import_floor_ms": round(floor, 1),
        "own_import_ms": round(cold - floor, 1),
    }


def run(runs: int = 9) -> dict[str, Any]:
    python = lambda_like_python()
    stage_task_root(python)
    version = subprocess.run([str(python), "--version"], capture_output=True, text=True, check=True).stdout.strip()
    figures: dict[str, Any] = {name: cold_import_ms(name, python, runs) for name in HANDLERS}
    figures["interpreter"] = version
    return figures


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
