from __future__ import annotations

from typing import Any

from botocore.exceptions import ReadTimeoutError

from functions.common.scoring import HotThresholds, score_by_rules
from functions.score_lead.llm import score_with_llm
from tests.samples import example_record


class FakeBedrock:
    """Stands in for the Bedrock Runtime far end: returns a canned answer or raises."""

    def __init__(self, answer: str | None = None, error: Exception | None = None) -> None:
        self.answer = answer
        self.error = error
        self.requests: list[dict[str, Any]] = []

    def converse(self, **request: Any) -> dict[str, Any]:
        self.requests.append(request)
        if self.error is not None:
            raise self.error
        return {"output": {"message": {"role": "assistant", "content": [{"text": self.answer}]}}}


def test_valid_model_answer_sets_score_grade_and_reasons_but_keeps_the_rules_hot_flag() -> None:
    record = example_record()
    rules = score_by_rules(record, HotThresholds())
    bedrock = FakeBedrock('```json\n{"score": 55, "reasons": ["mid-size legal team"]}\n```')

    result = score_with_llm(record, rules, bedrock, "model-x")

    assert (result.score, result.grade, result.hot, result.method) == (55, "B", True, "llm")
    assert "model: mid-size legal team" in result.reasons
    assert bedrock.requests[0]["modelId"] == "model-x"


def test_out_of_range_score_falls_back_to_the_rules() -> None:
    record = example_record()
    rules = score_by_rules(record, HotThresholds())

    result = score_with_llm(record, rules, FakeBedrock('{"score": 140, "reasons": ["x"]}'), "model-x")

    assert result == rules


def test_prose_answer_falls_back_to_the_rules() -> None:
    record = example_record()
    rules = score_by_rules(record, HotThresholds())

    assert score_with_llm(record, rules, FakeBedrock("I think this is a great lead!"), "model-x") == rules


def test_timeout_falls_back_to_the_rules() -> None:
    record = example_record()
    rules = score_by_rules(record, HotThresholds())
    bedrock = FakeBedrock(error=ReadTimeoutError(endpoint_url="https://bedrock-runtime"))

    assert score_with_llm(record, rules, bedrock, "model-x") == rules
