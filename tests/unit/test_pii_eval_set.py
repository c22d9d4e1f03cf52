"""The personal-data eval set is well formed, and its scorer tells a masked item from one that survived."""

from __future__ import annotations

import re

from tests.evals.pii_eval import CATEGORIES, KEYS, evaluate_pii, load_pii_set, occurrences, overall


def test_pii_set_is_large_enough_and_well_formed() -> None:
    cases = load_pii_set()
    assert len(cases) >= 100
    for case in cases:
        assert set(case) - {"note"} == KEYS, case
        assert case["category"] in CATEGORIES, case
        assert isinstance(case["text"], str) and case["text"].strip(), case
        assert all(isinstance(item, str) and item for item in case["pii"] + case["keep"]), case
        if case["category"] == "ordinary":
            assert not case["pii"] and case["keep"], case
        else:
            assert case["pii"], case


def test_every_label_is_a_whole_word_substring_and_no_word_is_both_pii_and_kept() -> None:
    for case in load_pii_set():
        text = case["text"]
        spans = {item: occurrences(text, item) for item in case["pii"] + case["keep"]}
        assert all(spans.values()), (text, [item for item, found in spans.items() if not found])
        pii = [span for item in case["pii"] for span in spans[item]]
        keep = [span for item in case["keep"] for span in spans[item]]
        assert not [(a, b) for a in pii for b in keep if a[0] < b[1] and b[0] < a[1]], text


def test_every_category_has_personal_data_or_signal_numbers_to_score() -> None:
    cases = load_pii_set()
    for category in CATEGORIES:
        lines = [case for case in cases if case["category"] == category]
        assert len(lines) >= 20, category
    assert sum(len(case["keep"]) for case in cases) >= 80


def test_scorer_counts_nothing_masked_and_everything_masked_at_the_extremes() -> None:
    cases = load_pii_set()
    untouched = overall(evaluate_pii(cases, lambda text: text))
    assert untouched.recall == 0.0 and untouched.false_positive_rate == 0.0
    blanked = overall(evaluate_pii(cases, lambda text: re.sub(r"[^\W_]+", "[x]", text)))
    assert blanked.recall == 1.0 and blanked.false_positive_rate == 1.0


def test_an_item_with_one_surviving_word_is_not_masked_and_a_keep_item_losing_one_is_lost() -> None:
    case = {"text": "call four one five five five five oh one two three team of twelve", "category": "spoken_phone"}
    case |= {"pii": ["four one five five five five oh one two three"], "keep": ["team of twelve"]}
    partly = evaluate_pii([case], lambda text: "call four one five [phone] team of [number]")["spoken_phone"]
    assert (partly.masked, partly.lost) == (0, 1)
    fully = evaluate_pii([case], lambda text: "call [phone] team of twelve")["spoken_phone"]
    assert (fully.masked, fully.lost) == (1, 0)
