"""`make mutation`: mutation testing (mutmut 3) of the modules whose mistakes cost the most, with a score per module.

Why: a test proves a behaviour only if breaking the behaviour fails it. mutmut breaks the code in small ways (a `>=`
made `>`, a constant changed, a string emptied, a call's argument dropped), one mutant at a time, and runs the tests
that reach the mutated function; a mutant no test notices "survived". Each survivor is then either killed by a new
test or listed in docs/testing.md with why it is equivalent (no input can tell it from the original).

TARGETS below is the one list of what is mutated and by which tests: a module (one file, or named functions of a
file when only part of it is the concern) and the fast tests that cover it. The run is done in a copy of the sources
under build/mutation/work/ (mutmut writes its mutants/ there), so the worktree is never touched:

    uv run --frozen python -m tests.mutation.run [--only NAME] [--keep] [--resume]

`--resume` continues a run kept with `--keep`: it copies the current tests/ into the copy and tests again only the
mutants not killed yet (the survivors, and those a stopped run had not reached), which is how survivors are worked
off without testing every mutant again. A killed mutant stays killed only while the tests that killed it are kept
as they were: after changing a test's assertions or the mutated code, run afresh.

It prints each module's score (killed / mutants tested; a timeout counts as killed, as mutmut's own score does) and
every survivor with its diff, writes build/mutation/report.json, and exits 1 when a module is under THRESHOLD.

mutmut 3 mutates the code inside functions and methods only (its trampolines switch one function at a time):
module-level constants, such as the regular expressions of redaction.py or the grade floors of scoring.py, are not
mutated; the tests that pin their behaviour are in tests/unit/ all the same.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
WORK = REPO / "build" / "mutation" / "work"
REPORT = REPO / "build" / "mutation" / "report.json"
THRESHOLD = 0.85
# What the tests need besides the mutated packages (mutmut copies tests/, pyproject.toml and uv.lock itself).
COPIED = ("functions", "agent", "local", "voice_analytics", "tests", "events", "schemas", "pyproject.toml", "uv.lock")
ALSO_COPY = ("events", "schemas", "local", "voice_analytics")
KILLED = {"killed", "timeout", "caught by type check"}
NOT_TESTED = {"not checked", "skipped"}


@dataclass(frozen=True)
class Target:
    """A module under mutation: `path`, or only `functions` of it ("name" or "Class.method"), and its tests."""

    name: str
    path: str
    tests: tuple[str, ...]
    functions: tuple[str, ...] = ()

    @property
    def module(self) -> str:
        return self.path.removesuffix(".py").replace("/", ".")

    def patterns(self) -> list[str]:
        """mutmut's mutant names: <module>.x_<function>__mutmut_<n>, <module>.xǁ<Class>ǁ<method>__mutmut_<n>."""
        if not self.functions:
            return [f"{self.module}.*"]
        patterns = []
        for function in self.functions:
            owner, _, method = function.rpartition(".")
            mangled = f"xǁ{owner}ǁ{method}" if owner else f"x_{function}"
            patterns.append(f"{self.module}.{mangled}__mutmut_*")
        return patterns

    def owns(self, mutant: str) -> bool:
        return any(fnmatch.fnmatchcase(mutant, pattern) for pattern in self.patterns())


TARGETS: tuple[Target, ...] = (
    Target("scoring rules", "functions/common/scoring.py", ("tests/unit/test_scoring.py",)),
    Target(
        "lead key",
        "functions/common/events.py",
        ("tests/unit/test_events.py",),
        functions=("lead_key", "normalise_email"),
    ),
    Target(
        "idempotency keys: Powertools idempotency per session and consumer",
        "functions/common/lambda_kit.py",
        ("tests/unit/test_lambda_kit.py",),
        functions=("LambdaKit.once_per_session",),
    ),
    Target(
        "idempotency keys: Salesforce upserts by lead key and session id",
        "functions/salesforce_sync/logic.py",
        ("tests/integration/test_salesforce_sync.py", "tests/unit/test_salesforce_sync_logic.py"),
        functions=("sync_batch", "calls_by_caller", "lead_rounds", "lead_record", "_upsert"),
    ),
    Target(
        "record reader and quarantine decision",
        "functions/score_lead/reader.py",
        ("tests/unit/test_score_lead_reader.py",),
    ),
    Target(
        "record reader: the capped gunzip (a bomb stops at the limit)",
        "functions/common/gzip_capped.py",
        ("tests/unit/test_score_lead_reader.py",),
    ),
    Target(
        "record reader: size limits, missing objects, the quarantine copy",
        "functions/score_lead/storage.py",
        ("tests/unit/test_score_lead_storage.py",),
        functions=("fetch_object", "quarantine_object"),
    ),
    Target(
        "record reader: the contract check",
        "functions/common/record.py",
        ("tests/unit/test_record.py",),
        functions=("parse_record", "SessionRecord._consistent"),
    ),
    Target(
        "record reader: which record a collision copy is scored as",
        "functions/score_lead/logic.py",
        ("tests/unit/test_score_lead_copies.py",),
        functions=("resolve_copy",),
    ),
    Target(
        "redaction",
        "functions/common/redaction.py",
        ("tests/unit/test_redaction.py", "tests/unit/test_redaction_edges.py"),
    ),
    Target(
        "personal data said out loud",
        "functions/common/spoken_pii.py",
        (
            "tests/unit/test_spoken_redaction.py",
            "tests/unit/test_spoken_pii.py",
            "tests/unit/test_redaction.py",
            "tests/unit/test_redaction_edges.py",
        ),
    ),
    Target(
        "exporter: the conditional put, where a record goes, spool and flush",
        "agent/exporter.py",
        ("tests/unit/test_exporter.py", "tests/unit/test_agent_collisions.py"),
        functions=(
            "S3Sink.put",
            "S3Sink.read",
            "DirectorySink.put",
            "DirectorySink.read",
            "collision_key",
            "store",
            "Exporter.export",
            "spool",
            "spooled_keys",
            "flush_spool",
        ),
    ),
)


def prepare(targets: list[Target]) -> None:
    """A fresh copy of the sources with mutmut's configuration for `targets` in its pyproject.toml."""
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in COPIED:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, WORK / name, ignore=ignore)
        else:
            shutil.copy2(source, WORK / name)
    tests = sorted({test for target in targets for test in target.tests})
    files = sorted({target.path for target in targets})
    config = "\n".join(
        [
            "",
            "[tool.mutmut]",
            f"source_paths = {json.dumps(sorted({path.split('/')[0] for path in files}))}",
            f"only_mutate = {json.dumps(files)}",
            f"also_copy = {json.dumps(list(ALSO_COPY))}",
            f"pytest_add_cli_args_test_selection = {json.dumps(tests)}",
            'pytest_add_cli_args = ["-p", "no:cacheprovider"]',
            # Each mutant's tests run in a process forked from one that has only collected them, not run them: a
            # hook a test installs once per process (redaction's log masking) is installed again under each mutant.
            'process_isolation = "forkserver"',
            "",
        ]
    )
    with (WORK / "pyproject.toml").open("a", encoding="utf-8") as pyproject:
        pyproject.write(config)


def mutmut(*arguments: str, capture: bool = False) -> str:
    executable = Path(sys.executable).with_name("mutmut")
    result = subprocess.run(
        [str(executable), *arguments],
        cwd=WORK,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=capture,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        sys.exit(f"mutmut {' '.join(arguments)} failed with exit code {result.returncode}\n{result.stdout or ''}")
    return result.stdout or ""


def statuses() -> dict[str, str]:
    """Every mutant of the run and its status, from `mutmut results --all true`."""
    found = {}
    for line in mutmut("results", "--all", "true", capture=True).splitlines():
        match = re.fullmatch(r"\s+(\S+): (.+)", line)
        if match:
            found[match[1]] = match[2].strip()
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", default=[], help="run only targets whose name contains this")
    parser.add_argument("--keep", action="store_true", help="keep build/mutation/work (mutmut show, browse)")
    parser.add_argument(
        "--resume", action="store_true", help="test again, with the current tests, the mutants a kept run left alive"
    )
    arguments = parser.parse_args()
    targets = [t for t in TARGETS if not arguments.only or any(part in t.name for part in arguments.only)]
    if not targets:
        parser.error(f"no target matches {arguments.only}")

    started = time.monotonic()
    if arguments.resume:
        if not (WORK / "mutants").is_dir():
            parser.error(f"nothing to resume: {WORK.relative_to(REPO)} holds no kept run (run with --keep first)")
        for copy in (WORK / "tests", WORK / "mutants" / "tests"):  # mutmut copies tests/ into mutants/ only once
            shutil.copytree(REPO / "tests", copy, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
        alive = [
            name for name, status in statuses().items() if status not in KILLED and any(t.owns(name) for t in targets)
        ]
        if alive:
            mutmut("run", *alive)
    else:
        prepare(targets)
        mutmut("run", *[pattern for target in targets for pattern in target.patterns()])
    found = statuses()
    elapsed = time.monotonic() - started

    report = []
    failing = []
    print(f"\nMutation score per module (mutmut, {elapsed:.0f} s; threshold {THRESHOLD:.0%}):\n")
    print(f"{'module':<68} {'killed':>7} {'tested':>7} {'score':>7}")
    for target in targets:
        mine = {name: status for name, status in found.items() if target.owns(name)}
        tested = {name: status for name, status in mine.items() if status not in NOT_TESTED}
        killed = sum(status in KILLED for status in tested.values())
        survivors = sorted(name for name, status in tested.items() if status not in KILLED)
        score = killed / len(tested) if tested else 0.0
        label = f"{target.name} ({target.path})"
        print(f"{label[:68]:<68} {killed:>7} {len(tested):>7} {score:>7.1%}")
        if score < THRESHOLD:
            failing.append(target.name)
        report.append(
            {
                "module": target.name,
                "path": target.path,
                "functions": list(target.functions),
                "tests": list(target.tests),
                "mutants": len(tested),
                "killed": killed,
                "score": round(score, 4),
                "survivors": {name: tested[name] for name in survivors},
            }
        )
    survivors_all = [name for entry in report for name in entry["survivors"]]
    if survivors_all:
        print(f"\n{len(survivors_all)} surviving mutant(s) (docs/testing.md says why each is equivalent):\n")
        for name in survivors_all:
            print(mutmut("show", name, capture=True).rstrip(), end="\n\n")
    REPORT.write_text(json.dumps({"seconds": round(elapsed), "modules": report}, indent=2) + "\n", encoding="utf-8")
    print(f"Report: {REPORT.relative_to(REPO)}")
    if not arguments.keep:
        shutil.rmtree(WORK, ignore_errors=True)
    if failing:
        print(f"Under {THRESHOLD:.0%}: {', '.join(failing)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
