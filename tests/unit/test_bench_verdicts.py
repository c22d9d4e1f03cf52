"""`make bench`'s verdicts (what its table calls met) and the cold-import floor probes, on small inputs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks.handlers_bench import SPLIT_MARKER, SPLIT_PROBE, import_self_times_us
from benchmarks.run import verdicts


def _results(**overrides: Any) -> dict[str, Any]:
    results: dict[str, Any] = {
        "signals": {"median_us": 19.0, "p99_us": 120.0, "adversarial_100k_ms": 30.0},
        "export": {"p99_ms": 20.0},
        "collector": {"event_loop_us_per_utterance": {"p50": 50.0, "p99": 120.0}},
        "pipeline": {"sessions_per_s": 15.0, "end_to_end_p95_ms": 90.0, "consistent_runs": True},
        "cost_per_month_usd": {"1000": 9.98},
        "cost_per_month_usd_always_free": {"1000": 4.64},
        "handlers": {
            "score_lead": {"cold_import_ms": 600.0, "import_floor_ms": 520.0},
            "hot_lead_alert": {"cold_import_ms": 500.0},
            "interpreter": "Python 3.12.1",
        },
        "cost_target": {"flow_floor_with_always_free_allowances_usd": 1.54},
    }
    results.update(overrides)
    return results


def test_each_target_is_met_or_not_by_its_operator_and_bound() -> None:
    checks = verdicts(_results())
    assert checks["signals.median_us"]["met"] is True  # <= 20
    assert checks["signals.p99_us"]["met"] is False  # 120 > 100
    assert checks["pipeline.sessions_per_s"]["met"] is True  # >= 15, the bound itself
    assert checks["collector.event_loop_us_per_utterance.p50"]["met"] is False  # < 50, the bound itself is not
    assert checks["cost_per_month_usd.1000"]["met"] is False
    assert checks["handlers.score_lead.cold_import_ms"]["met"] is False
    assert checks["handlers.hot_lead_alert.cold_import_ms"]["met"] is True  # <= 500, the bound itself


def test_a_missing_figure_or_an_inconsistent_pipeline_is_not_met() -> None:
    results = _results(pipeline={"end_to_end_p95_ms": 90.0, "consistent_runs": False})
    checks = verdicts(results)
    assert checks["pipeline.sessions_per_s"] == {"value": None, "target": ">= 15.0", "met": False}
    assert checks["pipeline.consistent_runs"]["met"] is False


def test_floors_are_attached_where_measured() -> None:
    checks = verdicts(_results())
    assert checks["handlers.score_lead.cold_import_ms"]["floor"] == 520.0
    assert "floor" not in checks["handlers.hot_lead_alert.cold_import_ms"]
    assert checks["cost_per_month_usd_always_free.1000"]["floor"] == 1.54
    assert "floor" not in verdicts(_results(cost_target=None))["cost_per_month_usd_always_free.1000"]


def test_the_split_probe_parts_the_function_code_from_the_libraries(tmp_path: Path) -> None:
    package = tmp_path / "functions"
    package.mkdir()
    (package / "__init__.py").write_text("", encoding="utf-8")
    # A body that takes a while of its own, and a library (decimal) that only it imports.
    (package / "probe_target.py").write_text(
        "import decimal\nimport functions.helper\ntotal = sum(i * i for i in range(200_000))\n", encoding="utf-8"
    )
    (package / "helper.py").write_text("", encoding="utf-8")
    stderr = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-c",
            SPLIT_PROBE.format(marker=SPLIT_MARKER, module="functions.probe_target"),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    ).stderr
    assert " site\n" in stderr.split(SPLIT_MARKER)[0]  # the start-up imports come before the marker
    times = import_self_times_us(stderr)
    assert times["functions"] > 0 and times["libraries"] > 0
    lines = [line for line in stderr.split(SPLIT_MARKER)[1].splitlines() if line.startswith("import time:")]
    reported = sum(int(line.split(":")[1].split("|")[0]) for line in lines if "self [us]" not in line)
    assert times["functions"] + times["libraries"] == reported
    # The loop in probe_target's body is ours, decimal's body is the library's.
    assert times["functions"] > times["libraries"] / 10


def test_the_split_ignores_the_interpreters_start_up_imports() -> None:
    stderr = (
        "import time: self [us] | cumulative | imported package\n"
        "import time:       900 |        900 | site\n"
        f"{SPLIT_MARKER}\n"
        "import time:        40 |         40 |   decimal\n"
        "import time:       100 |        140 | functions.score_lead.handler\n"
    )
    assert import_self_times_us(stderr) == {"functions": 100, "libraries": 40}
