"""Every change this project makes inside moto's private code, in one place.

moto is pinned to the minor version these were written for (pyproject.toml: `moto[server]>=5.2.5,<5.3`), and each
patch has its test in tests/unit/test_moto_patches.py: the source of every function or constant a patch replaces is
pinned there by its hash, so a moto release that changes one of them fails that test (read the new code, adjust or
drop the patch, update the hash), and the patch's effect is checked through moto itself.

A patch whose target is gone raises `MotoPatchError` instead of being skipped: the local stack never runs on a moto
it was not fixed for without saying so. `apply_all()` applies them once per process, in the process that runs
moto's server (this one for `LocalStack(server="thread")`, each child for `server="processes"`).

Why each one (details in each function's docstring):
- `event_account`: moto's EventBridge leaves "account" out of events it delivers to SQS targets; AWS always sends
  it and Powertools' `EventBridgeModel` requires it, so every "Lead Scored" event would be dead-lettered.
- `event_delivery_errors`: an S3 -> EventBridge delivery that raises inside moto's bare `except` is logged.
- `sqs_receive_race`, `sqs_delete_race`: ReceiveMessage and DeleteMessage under the queue's lock (correctness with
  several pollers a queue).
- `s3_content_md5`: moto stores a PutObject whose body does not match its Content-MD5; S3 refuses it (BadDigest).
  The agent's write check relies on that refusal to prove its permission without creating an object.
- `jsonpath_parse_memo`, `sqs_receive_speed`, `request_overhead`, `update_expression_memo`, `condition_lex_memo`:
  speed only, same results (the 10,000-session burst of `make bench` needs them).
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger("local.aws.moto_patches")

# Set on every replacement, so applying twice (or a test re-applying) never wraps a wrapper.
_MARK = "_voice_analytics_patch"


class MotoPatchError(RuntimeError):
    """A patch's target is not in the installed moto: the pin in pyproject.toml and the patches disagree."""


@dataclass(frozen=True)
class MotoPatch:
    name: str
    # Dotted names of what the patch replaces or edits (their source is pinned by the tests).
    targets: tuple[str, ...]
    apply: Callable[[], None]


def _missing(patch: str, target: str) -> MotoPatchError:
    from importlib.metadata import version

    return MotoPatchError(
        f"moto patch {patch!r}: moto {version('moto')} has no {target}. The patches in local/aws/moto_patches.py are "
        "written for the moto version pyproject.toml pins; read the new moto code, then adjust or drop the patch "
        "(tests/unit/test_moto_patches.py pins each target)"
    )


def _marked(function: Callable[..., Any]) -> Callable[..., Any]:
    setattr(function, _MARK, True)
    return function


def _is_marked(function: Any) -> bool:
    return bool(getattr(function, _MARK, False))


# ---------------------------------------------------------------------------------------------------- EventBridge

# moto 5.2.5's default input template, and the same with "account" (what AWS sends); the test pins the former.
EVENT_TEMPLATE_PREFIX = '{"id": "<id>",'
EVENT_TEMPLATE_PREFIX_WITH_ACCOUNT = '{"id": "<id>", "account": "<account>",'


def _event_account() -> None:
    """moto formats every event it delivers to a target with `EventTemplateParser.DEFAULT_EVENT_INPUT_TEMPLATE`,
    which has no "account" (its paths map has one): the field is added to the template."""
    from moto.events.utils import EventTemplateParser

    template = EventTemplateParser.DEFAULT_EVENT_INPUT_TEMPLATE
    if '"account"' in template:
        return
    if not template.startswith(EVENT_TEMPLATE_PREFIX):
        raise _missing("event_account", "EventTemplateParser.DEFAULT_EVENT_INPUT_TEMPLATE of the expected form")
    EventTemplateParser.DEFAULT_EVENT_INPUT_TEMPLATE = template.replace(
        EVENT_TEMPLATE_PREFIX, EVENT_TEMPLATE_PREFIX_WITH_ACCOUNT, 1
    )


def _event_delivery_errors() -> None:
    """moto delivers S3's "Object Created" events to EventBridge rules inside a bare `except: pass` (in AWS the
    delivery is asynchronous), so an error there loses the event without a trace. A rule's delivery that raises is
    now logged, with the event's source and object key, before moto swallows it: a session that never reaches
    score_lead shows up in the log instead of only in a count."""
    from moto.events.models import Rule

    original = Rule.send_to_targets
    if _is_marked(original):
        return

    @functools.wraps(original)
    def send_to_targets(self: Any, original_event: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return original(self, original_event, *args, **kwargs)
        except Exception:
            event = original_event if isinstance(original_event, dict) else {}
            detail = event.get("detail")
            key = detail.get("object", {}).get("key") if isinstance(detail, dict) else None
            logger.exception(
                "moto: rule %s failed to deliver a %s event (object %s); moto drops it",
                getattr(self, "name", "?"),
                event.get("source", "?"),
                key,
            )
            raise

    setattr(Rule, "send_to_targets", _marked(send_to_targets))  # noqa: B010


def _jsonpath_parse_memo() -> None:
    """moto builds a new jsonpath parser (PLY tables) for every input path of every event it delivers to a target
    (`EventTemplateParser.parse` imports `jsonpath_ng.ext.parse` at each call): about 40 ms per PutEvents here, most
    of the local pipeline's time. The parsed expressions are immutable, so memoising `parse` changes nothing but the
    speed."""
    import jsonpath_ng.ext

    parse = getattr(jsonpath_ng.ext, "parse", None)  # not re-exported in the stubs
    if parse is None:
        raise _missing("jsonpath_parse_memo", "jsonpath_ng.ext.parse")
    if not _is_marked(parse):
        setattr(jsonpath_ng.ext, "parse", _marked(functools.lru_cache(maxsize=256)(parse)))  # noqa: B010


# ---------------------------------------------------------------------------------------------------- S3


def _s3_content_md5() -> None:
    """S3 checks a PutObject's body against its Content-MD5 header and refuses a mismatch with 400 BadDigest, after
    it authorized the request and before it stores anything; moto 5.2.5 never reads the header. The check now runs
    first in moto's PutObject handler, on the body moto decoded (aws-chunked included). Parts and copies are not
    covered (nothing here sends them with a Content-MD5)."""
    import base64
    import hashlib

    from moto.s3.exceptions import S3ClientError
    from moto.s3.responses import S3Response

    original = S3Response.put_object
    if _is_marked(original):
        return

    class BadDigest(S3ClientError):
        code = "BadDigest"

    @functools.wraps(original)
    def put_object(self: Any) -> Any:
        claimed = self.headers.get("Content-MD5")
        if claimed:
            body = self.body if isinstance(self.body, bytes) else (self.body or "").encode()
            actual = base64.b64encode(hashlib.md5(body).digest()).decode()  # noqa: S324 - S3's digest, not security
            if claimed.strip() != actual:
                raise BadDigest("BadDigest", "The Content-MD5 you specified did not match what we received.")
        return original(self)

    setattr(S3Response, "put_object", _marked(put_object))  # noqa: B010


# ---------------------------------------------------------------------------------------------------- SQS


def _under_queue_lock(original: Callable[..., Any], queue_of: Callable[..., Any]) -> Callable[..., Any]:
    """`original` (a moto SQS method) run under the lock of the queue `queue_of(self, *args)` names: the re-entrant
    `_messages_lock` that SendMessage and the long poll use."""

    @functools.wraps(original)
    def locked(self: Any, *args: Any, **kwargs: Any) -> Any:
        with queue_of(self, *args)._messages_lock:
            return original(self, *args, **kwargs)

    return _marked(locked)


def _sqs_receive_race() -> None:
    """moto's ReceiveMessage scans a queue and marks messages received without a lock, so two request threads
    receiving from one queue can interleave between "is it visible" and "mark it received" and both return the
    message. SQS does not hand one message to two receivers within its visibility timeout, and the runner has
    several pollers a queue, so the scan now runs under the queue's own lock. That lock is the re-entrant one
    moto's long poll waits on, and waiting releases it, so a waiting poller does not hold up the others."""
    from moto.sqs import models

    original = models.SQSBackend.receive_message
    if not _is_marked(original):
        locked = _under_queue_lock(original, lambda backend, queue_name, *_: backend.get_queue(queue_name))
        setattr(models.SQSBackend, "receive_message", locked)  # noqa: B010


def _sqs_delete_race() -> None:
    """moto's DeleteMessage changes a queue's in-flight set and rebuilds its message list without the queue's lock,
    which ReceiveMessage holds (see above) while it iterates the same set. A delete landing in the middle raises
    "Set changed size during iteration" in the receive (seen in a stress run: 3,000 puts, 8 consumers), which moto
    answers with a 500 and the client retries; if it comes inside the receive's loop, after messages were marked
    received, those stay invisible for the visibility timeout without reaching anyone. The delete now takes the same
    re-entrant lock."""
    from moto.sqs import models

    original = models.Queue.delete_message
    if not _is_marked(original):
        setattr(models.Queue, "delete_message", _under_queue_lock(original, lambda queue, *_: queue))  # noqa: B010


def _sqs_receive_speed() -> None:
    """moto's ReceiveMessage is quadratic in the queue's depth: for every message it returns it checks the retention
    period through `get_queue_attributes`, which computes ALL the queue's attributes, three approximate counts among
    them, each a pass over every message with two datetime conversions per message. With a few thousand messages
    queued a receive took seconds and the writers' puts timed out (the 10,000-session burst died at ~7,900).
    Read the retention period from the queue itself, and give `unix_time_millis` (called per message for
    visibility and delay) the same value from `time.time()` without the naive-datetime round trip. Same results,
    same clock."""
    from moto.core.utils import unix_time
    from moto.sqs import models

    original = models.SQSBackend.is_message_valid_based_on_retention_period
    if _is_marked(original):
        return
    original_millis = getattr(models, "unix_time_millis", None)
    if original_millis is None:
        raise _missing("sqs_receive_speed", "moto.sqs.models.unix_time_millis")

    @functools.wraps(original)
    def is_message_valid_based_on_retention_period(self: Any, queue_name: str, message: Any) -> bool:
        retention_s = int(self.get_queue(queue_name).message_retention_period)
        return bool(retention_s + message.sent_timestamp / 1000 > unix_time())

    @functools.wraps(original_millis)
    def unix_time_millis(dt: Any = None) -> float:
        return time.time() * 1000.0 if dt is None else unix_time(dt) * 1000.0

    setattr(  # noqa: B010
        models.SQSBackend,
        "is_message_valid_based_on_retention_period",
        _marked(is_message_valid_based_on_retention_period),
    )
    setattr(models, "unix_time_millis", _marked(unix_time_millis))  # noqa: B010


# ---------------------------------------------------------------------------------------------------- server


def _request_overhead() -> None:
    """Two per-request costs of moto's server that never change while it runs: the host check lists moto's package
    folder (a listdir and ~150 isdir calls per request), and every action call lists the response class's methods
    with `inspect.getmembers`. Both are memoised (the folder and the classes are fixed once imported)."""
    from moto import backends
    from moto.core import responses, utils

    original = backends.list_of_moto_modules
    if not _is_marked(original):
        modules = tuple(original())

        @functools.wraps(original)
        def list_of_moto_modules() -> tuple[str, ...]:
            return modules

        setattr(backends, "list_of_moto_modules", _marked(list_of_moto_modules))  # noqa: B010
    current = getattr(responses, "method_names_from_class", None)
    if current is None:
        raise _missing("request_overhead", "moto.core.responses.method_names_from_class")
    if not _is_marked(current):
        cached = functools.lru_cache(maxsize=None)(utils.method_names_from_class)
        setattr(responses, "method_names_from_class", _marked(cached))  # noqa: B010


# ---------------------------------------------------------------------------------------------------- DynamoDB


def _update_expression_memo() -> None:
    """moto tokenises and parses an UpdateExpression twice per UpdateItem (request check, then update), and
    Powertools' idempotency sends the same few expression strings on every record: a sixth of moto's DynamoDB time
    in a burst. The parse result is only read (moto's validator deep-copies it before putting values in), so it is
    memoised by expression text."""
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser  # type: ignore[attr-defined]

    make = getattr(UpdateExpressionParser, "make", None)
    if make is None:
        raise _missing("update_expression_memo", "UpdateExpressionParser.make")
    if not _is_marked(make):
        setattr(UpdateExpressionParser, "make", staticmethod(_marked(functools.lru_cache(maxsize=256)(make))))  # noqa: B010


def _condition_lex_memo() -> None:
    """moto lexes a ConditionExpression (six regular expressions tried per token) twice per conditional PutItem
    (request check, then the write), and Powertools' idempotency sends the same expression on every record: a tenth
    of moto's DynamoDB time in a burst. The tokens depend on the expression text alone, so they are memoised by it;
    each call still gets new token nodes (a node carries a mutable `children` list), and the later parse stages,
    which read the attribute names and values, run as before. An expression that fails to lex raises as before
    (errors are not cached)."""
    from collections import deque

    from moto.dynamodb.comparisons import ConditionExpressionParser

    original = ConditionExpressionParser._lex_condition_expression
    if _is_marked(original):
        return
    node = ConditionExpressionParser.Node

    @functools.lru_cache(maxsize=256)
    def tokens(expression: str) -> tuple[tuple[str, str, str, Any], ...]:
        lexed = original(ConditionExpressionParser(expression, None, None))
        return tuple((n.nonterminal, n.kind, n.text, n.value) for n in lexed)

    @functools.wraps(original)
    def _lex_condition_expression(self: Any) -> Any:
        if not isinstance(self.condition_expression, str):
            return original(self)
        return deque(
            node(nonterminal=nonterminal, kind=kind, text=text, value=value, children=[])
            for nonterminal, kind, text, value in tokens(self.condition_expression)
        )

    setattr(ConditionExpressionParser, "_lex_condition_expression", _marked(_lex_condition_expression))  # noqa: B010


PATCHES: tuple[MotoPatch, ...] = (
    MotoPatch("s3_content_md5", ("moto.s3.responses.S3Response.put_object",), _s3_content_md5),
    MotoPatch("event_account", ("moto.events.utils.EventTemplateParser.DEFAULT_EVENT_INPUT_TEMPLATE",), _event_account),
    MotoPatch("event_delivery_errors", ("moto.events.models.Rule.send_to_targets",), _event_delivery_errors),
    MotoPatch("jsonpath_parse_memo", ("jsonpath_ng.ext.parse",), _jsonpath_parse_memo),
    MotoPatch(
        "sqs_receive_speed",
        ("moto.sqs.models.SQSBackend.is_message_valid_based_on_retention_period", "moto.sqs.models.unix_time_millis"),
        _sqs_receive_speed,
    ),
    MotoPatch("sqs_receive_race", ("moto.sqs.models.SQSBackend.receive_message",), _sqs_receive_race),
    MotoPatch("sqs_delete_race", ("moto.sqs.models.Queue.delete_message",), _sqs_delete_race),
    MotoPatch(
        "request_overhead",
        ("moto.backends.list_of_moto_modules", "moto.core.responses.method_names_from_class"),
        _request_overhead,
    ),
    MotoPatch(
        "update_expression_memo",
        ("moto.dynamodb.parsing.expressions.UpdateExpressionParser.make",),
        _update_expression_memo,
    ),
    MotoPatch(
        "condition_lex_memo",
        ("moto.dynamodb.comparisons.ConditionExpressionParser._lex_condition_expression",),
        _condition_lex_memo,
    ),
)

_apply_lock = threading.Lock()


def apply_all() -> None:
    """Apply every patch (once per process; later calls change nothing). Raises MotoPatchError naming the first
    patch whose target the installed moto lacks."""
    with _apply_lock:
        for patch in PATCHES:
            try:
                patch.apply()
            except (ImportError, AttributeError) as error:
                raise _missing(patch.name, f"{', '.join(patch.targets)} ({error})") from error
