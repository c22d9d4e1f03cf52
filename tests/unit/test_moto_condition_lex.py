"""local.aws.stack's memoised ConditionExpression lexing in moto: same tokens as moto's own lexer, fresh nodes on every
call, errors raised every time, and a conditional write through moto behaves as before."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.dynamodb.comparisons import ConditionExpressionParser, get_filter_expression

from local.aws.stack import patch_moto_internals

# The expression Powertools' idempotency layer puts every in-progress record with.
EXPRESSION = (
    "attribute_not_exists(#id) OR #expiry < :now OR "
    "(#status = :inprogress AND attribute_exists(#in_progress_expiry) AND #in_progress_expiry < :now_in_millis)"
)
NAMES = {"#id": "id", "#expiry": "expiration", "#status": "status", "#in_progress_expiry": "in_progress_expiration"}


def _values(now: int) -> dict[str, Any]:
    return {":now": {"N": str(now)}, ":inprogress": {"S": "INPROGRESS"}, ":now_in_millis": {"N": str(now * 1000)}}


def test_the_memoised_lexer_builds_the_trees_moto_builds() -> None:
    patch_moto_internals()
    patched = ConditionExpressionParser._lex_condition_expression
    moto_lexer = patched.__wrapped__  # type: ignore[attr-defined]
    for now in (5, 6):  # a second call is answered from the memo, with other values
        parser = ConditionExpressionParser(EXPRESSION, NAMES, _values(now))
        assert list(patched(parser)) == list(moto_lexer(parser))
        assert f"expiration < '{now}'" in str(get_filter_expression(EXPRESSION, NAMES, _values(now)))


def test_each_call_gets_nodes_of_its_own() -> None:
    patch_moto_internals()
    first = ConditionExpressionParser(EXPRESSION, NAMES, _values(5))._lex_condition_expression()
    first[0].children.append("changed by a caller")
    second = ConditionExpressionParser(EXPRESSION, NAMES, _values(5))._lex_condition_expression()
    assert second[0].children == [] and second[0] is not first[0]


@pytest.fixture
def table() -> Iterator[Any]:
    patch_moto_internals()
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="idempotency",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


def test_conditional_puts_through_moto_behave_as_before(table: Any) -> None:
    def put(expression: str) -> None:
        table.put_item(
            TableName="idempotency",
            Item={"id": {"S": "session-1"}, "status": {"S": "INPROGRESS"}, "expiration": {"N": "100"}},
            ConditionExpression=expression,
            ExpressionAttributeNames=NAMES,
            ExpressionAttributeValues=_values(5),
        )

    put(EXPRESSION)
    with pytest.raises(ClientError, match="ConditionalCheckFailed"):
        put(EXPRESSION)  # the record exists, is not expired, and its in-progress expiry is not set


def test_an_expression_that_cannot_be_lexed_fails_every_time() -> None:
    patch_moto_internals()
    for _ in range(2):  # errors are not memoised
        with pytest.raises(ValueError, match=r"Cannot parse condition starting at:\$ #b"):
            ConditionExpressionParser("#a $ #b", {"#a": "a", "#b": "b"}, {})._lex_condition_expression()
