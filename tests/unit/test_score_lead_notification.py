"""score_lead's own S3 "Object Created" model accepts and rejects what Powertools' full model does, for its fields."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parser import ValidationError, parse
from aws_lambda_powertools.utilities.parser.models import S3EventNotificationEventBridgeModel

from functions.score_lead.notification import S3ObjectCreatedEvent
from tests.samples import load_event


def _body() -> dict[str, Any]:
    body: dict[str, Any] = json.loads(load_event("score_lead_sqs_event.json")["Records"][0]["body"])
    return body


def _versioned() -> dict[str, Any]:
    body = _body()
    body["detail"]["object"]["version-id"] = "096fKKXTRTtl3on89fVO.nfljtsv6qko"
    return body


def _unversioned_minimal() -> dict[str, Any]:
    body = _body()
    for optional in ("source-ip-address", "reason"):
        del body["detail"][optional]
    body["detail"]["object"] = {"key": body["detail"]["object"]["key"]}
    return body


@pytest.mark.parametrize("event", [_body(), _versioned(), _unversioned_minimal()])
def test_fields_read_by_score_lead_match_powertools_model(event: dict[str, Any]) -> None:
    ours = parse(event=copy.deepcopy(event), model=S3ObjectCreatedEvent)
    theirs = parse(event=copy.deepcopy(event), model=S3EventNotificationEventBridgeModel)
    assert ours.detail.bucket.name == theirs.detail.bucket.name
    assert ours.detail.object.key == theirs.detail.object.key
    assert ours.detail.object.version_id == theirs.detail.object.version_id
    assert ours.detail.object.size == theirs.detail.object.size
    assert ours.detail_type == theirs.detail_type
    assert ours.source == theirs.source
    assert ours.time == theirs.time


def _drop(path: tuple[str, ...]) -> dict[str, Any]:
    body = _body()
    target = body
    for part in path[:-1]:
        target = target[part]
    del target[path[-1]]
    return body


def _set(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    body = _body()
    target = body
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return body


@pytest.mark.parametrize(
    "event",
    [
        _drop(("detail",)),
        _drop(("detail-type",)),
        _drop(("detail", "bucket")),
        _drop(("detail", "bucket", "name")),
        _drop(("detail", "object", "key")),
        _drop(("detail", "request-id")),
        _drop(("detail", "requester")),
        _drop(("detail", "version")),
        _set(("detail", "object", "size"), -1),
        _set(("detail", "object", "key"), None),
        _set(("time",), "not a time"),
        {"Records": []},
    ],
)
def test_both_models_reject_what_is_not_an_s3_eventbridge_event(event: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        parse(event=copy.deepcopy(event), model=S3EventNotificationEventBridgeModel)
    with pytest.raises(ValidationError):
        parse(event=copy.deepcopy(event), model=S3ObjectCreatedEvent)
