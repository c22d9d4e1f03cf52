"""`make eval`: precision and recall of the signal detector per field on the two labelled sets, then the
transcript redaction's recall and false positives on the personal-data set (tests/evals/pii_eval.py).

Scalar fields count a true positive when the detector gives the labelled value, a false positive when it
gives a value the label does not have (or a different one), and a false negative when the label has a value
the detector missed or got wrong. Integrations are counted per name. Urgency counts presence.

The first set (`utterances.jsonl`) decides the exit code against the target. The second set
(`utterances_generalise.jsonl`, kinds of caller speech the first set does not exercise) is printed after it, with
the lines entirely right per `kind`; it is reported, not gated.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.signals import detect
from functions.common.redaction import redact_transcript
from tests.evals import pii_eval

EVAL_SET = Path(__file__).with_name("utterances.jsonl")
GENERALISE_SET = Path(__file__).with_name("utterances_generalise.jsonl")
FIELDS = ("team_size", "monthly_volume", "integrations", "urgency", "industry")
TARGET = 0.95


@dataclass
class FieldScore:
    true_positives: int = 0
    false_positives: int = 0
    false_negatives: int = 0
    misses: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        found = self.true_positives + self.false_positives
        return self.true_positives / found if found else 1.0

    @property
    def recall(self) -> float:
        expected = self.true_positives + self.false_negatives
        return self.true_positives / expected if expected else 1.0


@dataclass
class SetScore:
    fields: dict[str, FieldScore]
    lines_by_kind: Counter[str] = field(default_factory=Counter)
    right_by_kind: Counter[str] = field(default_factory=Counter)


def load_set(path: Path = EVAL_SET) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def _score_scalar(score: FieldScore, expected: Any, got: Any, text: str) -> bool:
    """Counts one field of one line; True when detector and label agree."""
    if got is None and expected is None:
        return True
    if got is not None and got == expected:
        score.true_positives += 1
        return True
    if got is not None:
        score.false_positives += 1
    if expected is not None:
        score.false_negatives += 1
    score.misses.append(f"expected {expected!r}, got {got!r}: {text}")
    return False


def _score_line(scores: dict[str, FieldScore], case: dict[str, Any]) -> bool:
    """Counts every field of one line; True when the detector agrees with the label on all of them."""
    text = case["text"]
    output = detect(text).as_output()
    agrees = [_score_scalar(scores[name], case[name], output[name], text) for name in ("team_size", "monthly_volume")]
    agrees.append(_score_scalar(scores["industry"], case["industry"], output["industry"], text))
    expected_urgency, got_urgency = True if case["urgency"] else None, True if output["urgency"] else None
    agrees.append(_score_scalar(scores["urgency"], expected_urgency, got_urgency, text))
    expected_names, got_names = set(case["integrations"]), set(output["integrations"])
    integrations = scores["integrations"]
    integrations.true_positives += len(expected_names & got_names)
    integrations.false_positives += len(got_names - expected_names)
    integrations.false_negatives += len(expected_names - got_names)
    if expected_names != got_names:
        integrations.misses.append(f"expected {sorted(expected_names)}, got {sorted(got_names)}: {text}")
    agrees.append(expected_names == got_names)
    return all(agrees)


def evaluate_set(cases: list[dict[str, Any]]) -> SetScore:
    result = SetScore(fields={name: FieldScore() for name in FIELDS})
    for case in cases:
        right = _score_line(result.fields, case)
        if "kind" in case:
            result.lines_by_kind[case["kind"]] += 1
            result.right_by_kind[case["kind"]] += right
    return result


def evaluate(cases: list[dict[str, Any]]) -> dict[str, FieldScore]:
    return evaluate_set(cases).fields


def _print_fields(scores: dict[str, FieldScore], *, verbose: bool, gated: bool) -> bool:
    """Prints the per-field table; returns True when a gated set misses the target."""
    print(f"{'field':<16}{'precision':>10}{'recall':>10}{'tp':>6}{'fp':>6}{'fn':>6}")
    failed = False
    for name, score in scores.items():
        ok = score.precision >= TARGET and score.recall >= TARGET
        failed |= not ok
        print(
            f"{name:<16}{score.precision:>10.3f}{score.recall:>10.3f}{score.true_positives:>6}"
            f"{score.false_positives:>6}{score.false_negatives:>6}{'' if ok or not gated else '  below target'}"
        )
        if verbose:
            for miss in score.misses:
                print(f"    {miss}")
    return failed and gated


def main(argv: list[str]) -> int:
    verbose = "-v" in argv
    cases = load_set()
    print(f"signal detector on {len(cases)} labelled utterances ({EVAL_SET.name}); target >= {TARGET:.2f}")
    failed = _print_fields(evaluate(cases), verbose=verbose, gated=True)

    generalise = load_set(GENERALISE_SET)
    result = evaluate_set(generalise)
    print()
    print(
        f"second set: {len(generalise)} labelled utterances of kinds the first set does not exercise "
        f"({GENERALISE_SET.name}); reported, not gated"
    )
    _print_fields(result.fields, verbose=verbose, gated=False)
    print(f"{'kind':<24}{'lines':>6}{'all fields right':>18}")
    for kind in sorted(result.lines_by_kind):
        print(f"{kind:<24}{result.lines_by_kind[kind]:>6}{result.right_by_kind[kind]:>18}")

    failed |= not pii_eval.report(pii_eval.load_pii_set(), redact_transcript, verbose=verbose)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
