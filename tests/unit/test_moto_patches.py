"""local/aws/moto_patches.py: every patch of moto's private code has a test here that fails when moto changes so
that the patch no longer applies, and a test of its effect through moto itself.

The first kind pins, by a hash of its source, each function a patch replaces or relies on (and the one constant it
edits, by its patched value): a moto release that changes any of them fails
`test_each_target_is_the_code_the_patch_was_written_for` naming the target. Then read moto's new code, adjust or
drop the patch, and update the hash.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import logging
import threading
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.dynamodb.comparisons import ConditionExpressionParser, get_filter_expression
from moto.events.models import Rule
from moto.events.utils import EventTemplateParser
from moto.sqs.models import Message, SQSBackend, sqs_backends

from local.aws import moto_patches

REGION = "us-east-1"
# sha256 (first 16 hex) of the source of each function a patch replaces or calls through, in moto 5.2.5 and
# jsonpath-ng 1.7: the patch's target and, where the patch only works because moto calls it from there, the caller.
PINNED_SOURCES = {
    "s3_content_md5": {"moto.s3.responses.S3Response.put_object": "992229be920b6363"},
    "event_account": {"moto.events.utils.EventTemplateParser.parse": "40a5a46a321811bb"},
    "event_delivery_errors": {"moto.events.models.Rule.send_to_targets": "472e002e2dab8a59"},
    "jsonpath_parse_memo": {
        "jsonpath_ng.ext.parse": "8e8fc5e91980418d",
        "moto.events.utils.EventTemplateParser.parse": "40a5a46a321811bb",
    },
    "sqs_receive_speed": {
        "moto.sqs.models.SQSBackend.is_message_valid_based_on_retention_period": "cca23b94a5f3af9d",
        "moto.sqs.models.unix_time_millis": "7a37e1337d02962e",
        "moto.sqs.models.SQSBackend.receive_message": "065f3e5e7d214408",
    },
    "sqs_receive_race": {"moto.sqs.models.SQSBackend.receive_message": "065f3e5e7d214408"},
    "sqs_delete_race": {"moto.sqs.models.Queue.delete_message": "fa6fd5b9bd2cafb4"},
    "request_overhead": {
        "moto.backends.list_of_moto_modules": "4f741a10b06500e8",
        "moto.moto_server.werkzeug_app.DomainDispatcherApplication.get_backend_for_host": "1f41972c1e4e660f",
        "moto.core.responses.method_names_from_class": "9dbac89d082b655f",
        "moto.core.responses.BaseResponse.call_action": "26076963fd17fd1a",
    },
    "update_expression_memo": {"moto.dynamodb.parsing.expressions.UpdateExpressionParser.make": "2c00ed96d6e191f2"},
    "condition_lex_memo": {
        "moto.dynamodb.comparisons.ConditionExpressionParser._lex_condition_expression": "a815288359216b2e"
    },
}


def _resolve(dotted: str) -> Any:
    parts = dotted.split(".")
    for split in range(len(parts), 0, -1):
        try:
            found: Any = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for name in parts[split:]:
            found = getattr(found, name)
        return found
    raise AssertionError(f"cannot import {dotted}")


def _source_digest(dotted: str) -> str:
    """The digest of the library's own code at `dotted`, under any of our wrappers (they keep it as __wrapped__)."""
    target = _resolve(dotted)
    while getattr(target, "_voice_analytics_patch", False):
        target = target.__wrapped__
    return hashlib.sha256(inspect.getsource(target).encode()).hexdigest()[:16]


def test_every_patch_has_its_targets_pinned() -> None:
    assert {patch.name for patch in moto_patches.PATCHES} == set(PINNED_SOURCES)
    for patch in moto_patches.PATCHES:
        functions = {target for target in patch.targets if not target.endswith("DEFAULT_EVENT_INPUT_TEMPLATE")}
        assert functions <= set(PINNED_SOURCES[patch.name]), patch.name


@pytest.mark.parametrize(
    ("patch", "target"), [(patch, target) for patch, targets in PINNED_SOURCES.items() for target in targets]
)
def test_each_target_is_the_code_the_patch_was_written_for(patch: str, target: str) -> None:
    moto_patches.apply_all()
    assert _source_digest(target) == PINNED_SOURCES[patch][target], (
        f"{target} changed in this moto: patch {patch!r} (local/aws/moto_patches.py) may no longer apply"
    )


def test_applying_twice_wraps_nothing_twice() -> None:
    moto_patches.apply_all()
    receive = SQSBackend.receive_message
    moto_patches.apply_all()
    assert SQSBackend.receive_message is receive
    assert not getattr(receive.__wrapped__, "_voice_analytics_patch", False)  # type: ignore[attr-defined]


def test_a_patch_whose_target_is_gone_stops_with_the_patch_named(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.sqs import models

    moto_patches.apply_all()
    monkeypatch.delattr(models, "unix_time_millis")
    # Unmarked again, so the patch tries to apply and finds its other target missing.
    monkeypatch.setattr(SQSBackend, "is_message_valid_based_on_retention_period", lambda *_: True)
    with pytest.raises(moto_patches.MotoPatchError, match=r"sqs_receive_speed.*unix_time_millis"):
        moto_patches.apply_all()


# ---------------------------------------------------------------------------------------------------- EventBridge


def _event(**detail: Any) -> dict[str, Any]:
    return {
        "id": "1",
        "account": "123456789012",
        "time": 1764151200,  # moto keeps it as a number (its template does not quote <time>)
        "detail-type": "Lead Scored",
        "source": "voice-analytics.scoring",
        "region": REGION,
        "resources": [],
        "detail": detail,
        "ingestion-time": "2026-11-26T10:00:00Z",
    }


def test_events_delivered_to_targets_carry_the_account() -> None:
    moto_patches.apply_all()
    assert EventTemplateParser.DEFAULT_EVENT_INPUT_TEMPLATE == (
        '{"id": "<id>", "account": "<account>", "time": <time>, "version": "0", "detail-type": "<detail-type>", '
        '"source": "<source>", "region": "<region>", "resources": <resources>, "detail": <detail>}'
    )
    delivered = EventTemplateParser.parse(input_template="", input_paths_map={}, event=_event(session_id="s-1"))  # type: ignore[arg-type]
    assert delivered["account"] == "123456789012" and delivered["detail"] == {"session_id": "s-1"}


def test_event_input_paths_are_parsed_once() -> None:
    moto_patches.apply_all()
    import jsonpath_ng.ext

    parse: Any = jsonpath_ng.ext.parse
    EventTemplateParser.parse("", {}, _event())  # type: ignore[arg-type]
    hits = parse.cache_info().hits
    EventTemplateParser.parse("", {}, _event())  # type: ignore[arg-type]
    assert parse.cache_info().hits >= hits + len(EventTemplateParser.DEFAULT_EVENT_INPUT_PATHS_MAP)


class _BrokenPattern:
    def matches_event(self, event: Any) -> bool:
        raise RuntimeError("queue went away")


def test_a_failed_rule_delivery_is_logged_with_its_object_key(caplog: pytest.LogCaptureFixture) -> None:
    moto_patches.apply_all()
    rule = SimpleNamespace(name="SessionCreatedRule", event_pattern=_BrokenPattern())
    event = {"source": "aws.s3", "detail": {"object": {"key": "sessions/year=2026/month=11/day=26/s-1.json.gz"}}}
    with (
        caplog.at_level(logging.ERROR, logger="local.aws.moto_patches"),
        pytest.raises(RuntimeError, match="queue went away"),
    ):
        Rule.send_to_targets(rule, event, transform_input=False)  # type: ignore[arg-type]
    [logged] = [record for record in caplog.records if "failed to deliver" in record.getMessage()]
    assert "SessionCreatedRule" in logged.getMessage()
    assert "sessions/year=2026/month=11/day=26/s-1.json.gz" in logged.getMessage()
    assert logged.levelno == logging.ERROR  # (its traceback may be masked by a log filter other tests install)


def test_a_rule_that_delivers_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    moto_patches.apply_all()

    class _NoMatch:
        def matches_event(self, event: Any) -> bool:
            return False

    rule = SimpleNamespace(name="Other", event_pattern=_NoMatch(), targets=[])
    with caplog.at_level(logging.DEBUG, logger="local.aws.moto_patches"):
        Rule.send_to_targets(rule, {"source": "aws.s3"}, transform_input=False)  # type: ignore[arg-type]
    assert not [record for record in caplog.records if "failed to deliver" in record.getMessage()]


# ---------------------------------------------------------------------------------------------------- S3


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    moto_patches.apply_all()
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        client = boto3.client("s3", region_name=REGION, aws_access_key_id="t", aws_secret_access_key="t")
        client.create_bucket(Bucket="md5-check")
        yield client


def _md5(data: bytes) -> str:
    import base64

    return base64.b64encode(hashlib.md5(data).digest()).decode()


def test_a_put_whose_body_does_not_match_its_content_md5_is_refused_and_stores_nothing(s3: Any) -> None:
    with pytest.raises(ClientError) as refused:
        s3.put_object(Bucket="md5-check", Key="k", Body=b"{}", IfNoneMatch="*", ContentMD5=_md5(b"other bytes"))

    assert refused.value.response["Error"]["Code"] == "BadDigest"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "Contents" not in s3.list_objects_v2(Bucket="md5-check")


def test_a_put_with_its_own_content_md5_or_none_is_stored_as_before(s3: Any) -> None:
    s3.put_object(Bucket="md5-check", Key="with-md5", Body=b"{}", ContentMD5=_md5(b"{}"))
    s3.put_object(Bucket="md5-check", Key="without", Body=b"[]")

    assert s3.get_object(Bucket="md5-check", Key="with-md5")["Body"].read() == b"{}"
    assert s3.get_object(Bucket="md5-check", Key="without")["Body"].read() == b"[]"


# ---------------------------------------------------------------------------------------------------- SQS


@pytest.fixture
def backend() -> Iterator[SQSBackend]:
    moto_patches.apply_all()
    with mock_aws():
        yield sqs_backends[DEFAULT_ACCOUNT_ID][REGION]


def test_a_receive_checks_retention_without_computing_every_queue_attribute(
    backend: SQSBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.sqs import models

    backend.create_queue("sessions", MessageRetentionPeriod="60")
    backend.send_message("sessions", "kept")
    backend.send_message("sessions", "expired")
    [_, expired] = backend.get_queue("sessions")._messages
    expired.sent_timestamp -= 61_000
    computed: list[str] = []
    original = SQSBackend.get_queue_attributes

    def counted(self: SQSBackend, *args: Any, **kwargs: Any) -> Any:
        computed.append("all attributes")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SQSBackend, "get_queue_attributes", counted)

    received = backend.receive_message("sessions", 10, 0, 60)

    assert [message.body for message in received] == ["kept"]  # the expired one is dropped, as moto does
    assert computed == []
    assert abs(models.unix_time_millis() - time.time() * 1000) < 1000


def test_a_receive_waits_for_the_queue_lock(backend: SQSBackend) -> None:
    backend.create_queue("sessions")
    backend.send_message("sessions", "only")
    queue = backend.get_queue("sessions")
    received: list[Any] = []
    receiver = threading.Thread(target=lambda: received.extend(backend.receive_message("sessions", 10, 0, 60)))
    with queue._messages_lock:
        receiver.start()
        receiver.join(timeout=0.3)
        assert receiver.is_alive() and received == []  # held back while another request holds the queue
    receiver.join(timeout=5)
    assert [message.body for message in received] == ["only"]


def test_a_delete_during_a_receive_waits_and_the_receive_succeeds(backend: SQSBackend) -> None:
    """Interleaved deterministically: the receive pauses inside its iteration of the in-flight set (on a message of
    the set) until the delete has returned, or 0.3 s have passed, which is what happens when the delete has to wait
    for the receive's lock. Without the lock: "Set changed size during iteration"."""
    backend.create_queue("sessions")
    for body in ("first", "second", "third"):
        backend.send_message("sessions", body)
    in_flight = backend.receive_message("sessions", 2, 0, 60)  # two in flight, "third" still visible
    queue = backend.get_queue("sessions")
    in_iteration = threading.Event()
    deleted = threading.Event()

    class PausingMessage(Message):
        @property  # type: ignore[override]
        def group_id(self) -> None:  # read by the receive for every in-flight message (its FIFO group check)
            if not in_iteration.is_set():
                in_iteration.set()
                deleted.wait(timeout=0.3)
            return None

    for message in queue.pending_messages:
        message.__class__ = PausingMessage

    def delete_during_receive() -> None:
        assert in_iteration.wait(timeout=5)
        backend.delete_message("sessions", in_flight[0].receipt_handle)
        deleted.set()

    deleter = threading.Thread(target=delete_during_receive)
    deleter.start()
    received = backend.receive_message("sessions", 10, 0, 60)
    deleter.join(timeout=5)

    assert [message.body for message in received] == ["third"]
    assert sorted(message.body for message in queue._messages) == sorted(["third", in_flight[1].body])


# ---------------------------------------------------------------------------------------------------- server


def test_per_request_listings_are_made_once(backend: SQSBackend) -> None:
    from moto import backends
    from moto.core import responses

    assert backends.list_of_moto_modules() is backends.list_of_moto_modules()
    assert "sqs" in backends.list_of_moto_modules()
    method_names: Any = responses.method_names_from_class
    client = boto3.client("sqs", region_name=REGION)
    client.list_queues()
    hits = method_names.cache_info().hits
    client.list_queues()
    assert method_names.cache_info().hits > hits


# ---------------------------------------------------------------------------------------------------- DynamoDB

# The expression Powertools' idempotency layer puts every in-progress record with.
EXPRESSION = (
    "attribute_not_exists(#id) OR #expiry < :now OR "
    "(#status = :inprogress AND attribute_exists(#in_progress_expiry) AND #in_progress_expiry < :now_in_millis)"
)
NAMES = {"#id": "id", "#expiry": "expiration", "#status": "status", "#in_progress_expiry": "in_progress_expiration"}


def _values(now: int) -> dict[str, Any]:
    return {":now": {"N": str(now)}, ":inprogress": {"S": "INPROGRESS"}, ":now_in_millis": {"N": str(now * 1000)}}


@pytest.fixture
def table() -> Iterator[Any]:
    moto_patches.apply_all()
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        client.create_table(
            TableName="idempotency",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


def test_an_update_expression_is_parsed_once_and_updates_as_before(table: Any) -> None:
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser  # type: ignore[attr-defined]

    expression = "SET #status = :done"
    assert UpdateExpressionParser.make(expression) is UpdateExpressionParser.make(expression)
    table.put_item(TableName="idempotency", Item={"id": {"S": "s-1"}, "status": {"S": "INPROGRESS"}})
    for _ in range(2):
        table.update_item(
            TableName="idempotency",
            Key={"id": {"S": "s-1"}},
            UpdateExpression=expression,
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":done": {"S": "COMPLETED"}},
        )
    item = table.get_item(TableName="idempotency", Key={"id": {"S": "s-1"}})["Item"]
    assert item["status"] == {"S": "COMPLETED"}


def test_the_memoised_lexer_builds_the_trees_moto_builds() -> None:
    moto_patches.apply_all()
    patched = ConditionExpressionParser._lex_condition_expression
    moto_lexer = patched.__wrapped__  # type: ignore[attr-defined]
    for now in (5, 6):  # a second call is answered from the memo, with other values
        parser = ConditionExpressionParser(EXPRESSION, NAMES, _values(now))
        assert list(patched(parser)) == list(moto_lexer(parser))
        assert f"expiration < '{now}'" in str(get_filter_expression(EXPRESSION, NAMES, _values(now)))


def test_each_call_gets_nodes_of_its_own() -> None:
    moto_patches.apply_all()
    first = ConditionExpressionParser(EXPRESSION, NAMES, _values(5))._lex_condition_expression()
    first[0].children.append("changed by a caller")
    second = ConditionExpressionParser(EXPRESSION, NAMES, _values(5))._lex_condition_expression()
    assert second[0].children == [] and second[0] is not first[0]


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
    moto_patches.apply_all()
    for _ in range(2):  # errors are not memoised
        with pytest.raises(ValueError, match=r"Cannot parse condition starting at:\$ #b"):
            ConditionExpressionParser("#a $ #b", {"#a": "a", "#b": "b"}, {})._lex_condition_expression()
