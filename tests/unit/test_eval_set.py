"""The labelled evaluation sets are well formed, and the detector meets its target on the first (`make eval`)."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from functions.common.record_parts import Industry
from tests.evals.run_eval import EVAL_SET, FIELDS, GENERALISE_SET, TARGET, evaluate, load_set, main

README = Path(EVAL_SET).with_name("README.md")
# For these kinds a near-miss line must leave the kind's field empty; `rate` and `change` near-misses keep a value.
EMPTY_FIELD_OF_NEAR_MISS = {
    "members": ("team_size", None),
    "integration": ("integrations", []),
    "industry": ("industry", None),
    "urgency": ("urgency", False),
}


def _ids_in_table(heading: str) -> set[str]:
    """The backquoted first cells of the Markdown table under `heading` in the evaluation README."""
    section = README.read_text(encoding="utf-8").split(heading, 1)[1]
    section = re.split(r"\n#{2,3} ", section, maxsplit=1)[0]
    return set(re.findall(r"^\| `([a-z0-9_]+)` \|", section, flags=re.MULTILINE))


CATALOGUE = _ids_in_table("### Integration catalogue")
KINDS = _ids_in_table("`kind` names the kind of speech")


def _format_problems(case: dict[str, Any], *, kind_required: bool) -> list[str]:
    problems = []
    allowed = {"text", *FIELDS, "note"} | ({"kind"} if kind_required else set())
    if set(case) - allowed or not {"text", *FIELDS} <= set(case) or (kind_required and "kind" not in case):
        problems.append(f"keys {sorted(case)}")
    if not isinstance(case.get("text"), str) or not case["text"].strip():
        problems.append("text is not a non-empty string")
    for name, least in (("team_size", 1), ("monthly_volume", 0)):
        value = case.get(name)
        if value is not None and (type(value) is not int or value < least):
            problems.append(f"{name} {value!r} is not null or an int >= {least}")
    names = case.get("integrations")
    if not isinstance(names, list) or len(set(names)) != len(names) or not set(names) <= CATALOGUE:
        problems.append(f"integrations {names!r} are not distinct ids of the catalogue")
    if type(case.get("urgency")) is not bool:
        problems.append(f"urgency {case.get('urgency')!r} is not a bool")
    if case.get("industry") is not None and case["industry"] not in {member.value for member in Industry}:
        problems.append(f"industry {case['industry']!r} is not an Industry value")
    if "note" in case and not isinstance(case["note"], str):
        problems.append("note is not a string")
    if kind_required and case.get("kind") not in KINDS | {f"{kind}_near_miss" for kind in KINDS}:
        problems.append(f"kind {case.get('kind')!r} is not in the README's table")
    return problems


def test_the_readme_tables_define_the_catalogue_and_the_kinds() -> None:
    assert {"salesforce", "hubspot", "crm", "api", "box", "onedrive", "sharepoint", "xero", "netsuite"} <= CATALOGUE
    assert {"outlook", "gmail", "google_calendar", "microsoft_teams", "slack", "stripe", "paypal"} <= CATALOGUE
    assert {"rate", "members", "change", "integration", "industry", "urgency"} == KINDS


def test_eval_set_is_large_enough_and_well_formed() -> None:
    cases = load_set()
    assert len(cases) >= 150
    for case in cases:
        assert set(case) - {"note"} == {"text", *FIELDS}
    problems = {case["text"]: found for case in cases if (found := _format_problems(case, kind_required=False))}
    assert not problems


def test_second_set_is_large_enough_and_well_formed() -> None:
    cases = load_set(GENERALISE_SET)
    assert len(cases) >= 150
    problems = {case["text"]: found for case in cases if (found := _format_problems(case, kind_required=True))}
    assert not problems
    texts = Counter(case["text"] for case in cases)
    assert not [text for text, count in texts.items() if count > 1]


def test_second_set_covers_every_kind_with_near_misses_on_at_least_a_quarter_of_its_lines() -> None:
    kinds = Counter(case["kind"] for case in load_set(GENERALISE_SET))
    for kind in KINDS:
        assert kinds[kind] >= 10, kind
        assert kinds[f"{kind}_near_miss"] >= 5, kind
    assert sum(count for kind, count in kinds.items() if kind.endswith("_near_miss")) * 4 >= sum(kinds.values())


@pytest.mark.parametrize("kind", sorted(EMPTY_FIELD_OF_NEAR_MISS))
def test_near_misses_leave_their_kinds_field_empty(kind: str) -> None:
    name, empty = EMPTY_FIELD_OF_NEAR_MISS[kind]
    cases = [case for case in load_set(GENERALISE_SET) if case["kind"] == f"{kind}_near_miss"]
    assert cases
    assert not [case["text"] for case in cases if case[name] != empty]


def test_precision_and_recall_meet_the_target_for_every_field() -> None:
    scores = evaluate(load_set())
    below = {
        name: (round(score.precision, 3), round(score.recall, 3), score.misses[:5])
        for name, score in scores.items()
        if score.precision < TARGET or score.recall < TARGET
    }
    assert not below


def test_make_eval_reports_the_first_set_then_the_second_and_only_the_first_decides_the_exit_code(
    capsys: pytest.CaptureFixture[str],
) -> None:
    exit_code = main([])
    lines = capsys.readouterr().out.splitlines()
    first = next(i for i, line in enumerate(lines) if f"({EVAL_SET.name}); target >=" in line)
    second = next(i for i, line in enumerate(lines) if f"({GENERALISE_SET.name}); reported, not gated" in line)
    assert first == 0 < second
    for start in (first, second):
        rows = {line.split()[0] for line in lines[start + 2 : start + 2 + len(FIELDS)]}
        assert rows == set(FIELDS)
    # The kinds table runs from after its header to the blank line before the redaction report.
    kinds_table = lines[second + 2 + len(FIELDS) + 1 :]
    kinds_reported = {line.split()[0] for line in kinds_table[: kinds_table.index("")]}
    assert kinds_reported == KINDS | {f"{kind}_near_miss" for kind in KINDS}
    # Only the first set decides the exit code. Before the detector change the second set is far below the
    # target, so a zero here also shows that the second set does not gate `make eval`.
    assert exit_code == 0
