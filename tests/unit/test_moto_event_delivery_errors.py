"""local.aws.stack's fix for moto's silent S3 -> EventBridge delivery: a rule whose delivery raises is logged by name,
with the object key, before moto's bare `except` swallows the error."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

import pytest
from moto.events.models import Rule

from local.aws.stack import patch_moto_internals


class _BrokenPattern:
    def matches_event(self, event: Any) -> bool:
        raise RuntimeError("queue went away")


def test_a_failed_rule_delivery_is_logged_with_its_object_key(caplog: pytest.LogCaptureFixture) -> None:
    patch_moto_internals()
    rule = SimpleNamespace(name="SessionCreatedRule", event_pattern=_BrokenPattern())
    event = {"source": "aws.s3", "detail": {"object": {"key": "sessions/year=2026/month=11/day=26/s-1.json.gz"}}}
    with caplog.at_level(logging.ERROR, logger="local.aws.stack"), pytest.raises(RuntimeError, match="queue went away"):
        Rule.send_to_targets(rule, event, transform_input=False)  # type: ignore[arg-type]
    [logged] = [record for record in caplog.records if "failed to deliver" in record.getMessage()]
    assert "SessionCreatedRule" in logged.getMessage()
    assert "sessions/year=2026/month=11/day=26/s-1.json.gz" in logged.getMessage()
    assert logged.levelno == logging.ERROR  # (its traceback may be masked by a log filter other tests install)


def test_a_rule_that_delivers_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    patch_moto_internals()

    class _NoMatch:
        def matches_event(self, event: Any) -> bool:
            return False

    rule = SimpleNamespace(name="Other", event_pattern=_NoMatch(), targets=[])
    with caplog.at_level(logging.DEBUG, logger="local.aws.stack"):
        Rule.send_to_targets(rule, {"source": "aws.s3"}, transform_input=False)  # type: ignore[arg-type]
    assert not [record for record in caplog.records if "failed to deliver" in record.getMessage()]
