"""The detector meets its precision and recall target on the labelled evaluation set (`make eval`)."""

from __future__ import annotations

from tests.evals.run_eval import FIELDS, TARGET, evaluate, load_set


def test_eval_set_is_large_enough_and_well_formed() -> None:
    cases = load_set()
    assert len(cases) >= 150
    for case in cases:
        assert set(case) - {"note"} == {"text", *FIELDS}


def test_precision_and_recall_meet_the_target_for_every_field() -> None:
    scores = evaluate(load_set())
    below = {
        name: (round(score.precision, 3), round(score.recall, 3), score.misses[:5])
        for name, score in scores.items()
        if score.precision < TARGET or score.recall < TARGET
    }
    assert not below
