"""functions/common/redaction.py at its edges: how deep mask_data goes, what a log record keeps exactly, and what a
line becomes when masking itself fails (withheld, never printed unmasked)."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
import traceback
from typing import Any

import pytest

from functions.common.redaction import (
    MASKING_FAILED,
    REDACTED,
    MaskingFilter,
    install_log_masking,
    mask_data,
    mask_log_record,
    mask_record_extras,
)


def nested(depth: int, leaf: Any) -> Any:
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


def innermost(value: Any) -> Any:
    while isinstance(value, list):
        value = value[0]
    return value


def test_mask_data_goes_21_containers_deep_then_redacts() -> None:
    assert innermost(mask_data(nested(21, "dana@example.com"))) == "[email]"
    assert innermost(mask_data(nested(22, "dana@example.com"))) == REDACTED
    assert innermost(mask_data({"a": nested(20, "x")})["a"]) == "x"
    assert innermost(mask_data({"a": nested(21, "x")})["a"]) == REDACTED


def test_mask_data_survives_a_cycle() -> None:
    loop: list[Any] = ["call 415-555-0123"]
    loop.append(loop)

    level = mask_data(loop)

    for _ in range(21):  # the list at depths 0 to 20, then cut
        assert level[0] == "call [phone]"
        level = level[1]
    assert level == REDACTED


def test_mask_data_masks_other_objects_by_their_text_and_keys_of_any_type() -> None:
    class Contact:
        def __str__(self) -> str:
            return "Dana <dana@example.com>"

    assert mask_data(Contact()) == "Dana <[email]>"
    assert mask_data({1: "call 4155550123", "caller.email": "x", "caller.note": "ok"}) == {
        1: "call [phone]",
        "caller.email": REDACTED,
        "caller.note": "ok",
    }


def _record(message: Any, *args: object, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("tenant.4155550123", logging.WARNING, __file__, 7, message, args, None)
    record.__dict__.update(extra)
    return record


def test_a_dict_message_and_an_object_message_are_masked() -> None:
    assert mask_log_record(_record({"email": "d@example.com", "note": "call 415-555-0123"})).msg == {
        "email": REDACTED,
        "note": "call [phone]",
    }
    assert mask_log_record(_record(ValueError("no slot for dana@example.com"))).msg == "no slot for [email]"


def test_a_broken_format_string_keeps_the_message_and_says_so() -> None:
    record = mask_log_record(_record("%d items for %s", "dana@example.com"))

    assert record.msg == "%d items for %s [log arguments could not be formatted]"


@pytest.mark.parametrize("ending", ["X", "X "])
def test_the_traceback_and_the_stack_are_masked_and_kept_whole(ending: str) -> None:
    """Exactly the formatted traceback, masked, without its final newline (nothing else trimmed)."""
    try:
        raise ValueError(f"no slot for dana@example.com {ending}")
    except ValueError:
        info = sys.exc_info()
    record = logging.LogRecord("test", logging.ERROR, __file__, 1, "failed", (), info)
    record.stack_info = "Stack (most recent call last):\n  caller dana@example.com"
    expected = "".join(traceback.format_exception(*info)).rstrip("\n").replace("dana@example.com", "[email]")

    mask_log_record(record)

    assert record.exc_text == expected and record.exc_text.endswith(f"no slot for [email] {ending}")
    assert record.stack_info == "Stack (most recent call last):\n  caller [email]"


def test_extras_are_masked_and_the_records_own_attributes_left_as_they_are() -> None:
    record = _record("ok", note="call 415-555-0123", empty=None)

    mask_record_extras(record)

    assert (record.note, record.empty) == ("call [phone]", None)
    assert (record.name, record.msg, record.args, record.lineno) == ("tenant.4155550123", "ok", (), 7)


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("cannot show dana@example.com")


def test_a_record_that_cannot_be_masked_is_withheld_whole_and_still_written() -> None:
    record = _record(Unprintable(), customer_email="dana@example.com", detail="x")
    record.exc_text, record.stack_info = "Traceback: dana@example.com", "stack of dana@example.com"

    assert MaskingFilter().filter(record) is True

    assert (record.msg, record.args, record.exc_info, record.exc_text, record.stack_info) == (
        MASKING_FAILED,
        (),
        None,
        None,
        None,
    )
    assert not {"customer_email", "detail"} & set(vars(record))
    assert logging.Formatter("%(name)s %(message)s").format(record) == f"tenant.4155550123 {MASKING_FAILED}"


INSTALL_IN_A_FRESH_PROCESS = """
import io, logging
from functions.common.redaction import install_log_masking

class Unprintable:
    def __str__(self):
        raise RuntimeError("cannot show dana@example.com")

stream = io.StringIO()
logging.getLogger().addHandler(logging.StreamHandler(stream))
install_log_masking()
factory = logging.getLogRecordFactory()
install_log_masking()
logging.getLogger("some.library").warning("user %s", "dana@example.com", extra={"phone": "+14155550123"})
logging.getLogger("some.library").warning(Unprintable())
print(repr(stream.getvalue()), logging.getLogRecordFactory() is factory)
"""


def test_installing_masking_in_a_fresh_process_masks_every_logger_and_installs_once() -> None:
    """The hook is process-wide and installed once (the agent's import does it), so it is proven where it starts:
    in a new interpreter importing the same code as this test. Installing it again where it runs already adds no
    second hook."""
    install_log_masking()
    factory = logging.getLogRecordFactory()
    install_log_masking()
    assert logging.getLogRecordFactory() is factory

    result = subprocess.run(
        [sys.executable, "-c", INSTALL_IN_A_FRESH_PROCESS],
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )

    written = "user [email]\n" + MASKING_FAILED + "\n"
    assert result.stdout.strip() == f"{written!r} True"


def test_installed_masking_withholds_what_it_cannot_mask() -> None:
    install_log_masking()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("some.library.edges")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning(Unprintable())
        logger.warning("user %s", "dana@example.com")
    finally:
        logger.removeHandler(handler)
        logger.propagate = True

    assert stream.getvalue() == f"{MASKING_FAILED}\nuser [email]\n"
