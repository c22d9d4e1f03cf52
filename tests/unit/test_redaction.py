"""functions/common/redaction.py and functions/common/logs.py: what is masked, what is kept, and the log hooks."""

from __future__ import annotations

import io
import json
import logging
import sys

import pytest

from functions.common.logs import MaskingFormatter
from functions.common.redaction import (
    REDACTED,
    MaskingFilter,
    install_log_masking,
    mask_data,
    mask_log_record,
    mask_text,
    redact_transcript,
)


@pytest.mark.parametrize(
    "text",
    [
        "+1 415 555 0123",
        "(415) 555-0123",
        "415.555.0199",
        "+44 20 7946 0958",
        "4155550123",
        "call me on 415-555-0123.",
        "sip_+14155550123",
        "call-_-14155550123_x7Yz",
    ],
)
def test_phone_numbers_in_any_format_are_masked(text: str) -> None:
    masked = mask_text(text)
    assert "[phone]" in masked
    assert not any(run in masked for run in ("555", "7946", "0123"))


@pytest.mark.parametrize(
    "text",
    [
        "request 3f2a1234-5678-9012-3456-789012345678",
        "message c0a8e3b2-1234-5678-9abc-def012345678",
        "at 2026-11-20T15:05:40.400000+00:00",
        "at 2026-11-20 15:05:40,123 UTC",
        "s3://bucket/sessions/year=2026/month=11/day=20/trial-call-0001.json.gz",
        "lead 00Q5g00000ABCdefEAG, task 00T000000123456AAA",
        "trace 1-5759e988-bd862e3fe1be46a994272793",
        "team of 12, 300 contracts a month, 127.0.0.1:5000, 1234.5 ms",
        "insert id trial-call-0001:Voice Call Ended:0",
        "s3://voice-analytics-sessions-prod-123456789012-us-east-1/scored/year=2026/month=11/day=20/a.json.gz",
        "queue https://sqs.eu-west-1.amazonaws.com/123456789012/voice-analytics-score-prod-dlq",
        "function arn:aws:lambda:us-east-1:123456789012:function:voice-analytics-score-lead-prod",
        "topic arn:aws-us-gov:sns:us-gov-west-1:123456789012:hot-leads",
    ],
)
def test_identifiers_dates_and_small_numbers_are_kept(text: str) -> None:
    assert mask_text(text) == text


@pytest.mark.parametrize(
    "text",
    [
        # Twelve digits that are not where AWS puts an account id are still a phone number.
        "call 441234567890 back",
        "caller:441234567890:",
        "sip_441234567890-us",
        "https://example.com/441234567890/",
        # An ARN or bucket keeps its account id, not a number elsewhere in it.
        "arn:aws:sns:us-east-1:123456789012:call-+14155550123",
        "s3://voice-analytics-sessions-prod-123456789012-us-east-1/sessions/+14155550123.json.gz",
    ],
)
def test_digits_outside_an_aws_identifier_are_still_masked(text: str) -> None:
    masked = mask_text(text)
    assert "[phone]" in masked
    assert "441234567890" not in masked and "4155550123" not in masked


def test_emails_are_masked_and_transcripts_also_lose_long_digit_runs() -> None:
    assert mask_text("write to Dana.Lee+trial@example.co.uk today") == "write to [email] today"
    assert redact_transcript("code 123456, dana@example.com") == "code [number], [email]"
    assert mask_text("code 123456") == "code 123456"  # logs keep short ids and counts


def test_mask_data_redacts_sensitive_keys_and_masks_every_string() -> None:
    data = {
        "session_id": "call-_-14155550123_x7Yz",
        "contact": {"name": "Dana", "email": "dana@example.com"},
        "Email": "dana@example.com",
        "lk.pii.text": "I'm Dana",
        "evidence": [{"quote": "team of 12"}],
        "reasons": ["left dana@example.com"],
        "score": 77,
        "hot": True,
        "missing": None,
        "when": ("2026-11-20", 5),
    }
    assert mask_data(data) == {
        "session_id": "call-_-[phone]_x7Yz",
        "contact": REDACTED,
        "Email": REDACTED,
        "lk.pii.text": REDACTED,
        "evidence": REDACTED,
        "reasons": ["left [email]"],
        "score": 77,
        "hot": True,
        "missing": None,
        "when": ["2026-11-20", 5],
    }


def _record(message: str, *args: object, exc_info: bool = False, **extra: object) -> logging.LogRecord:
    info = sys.exc_info() if exc_info else None
    record = logging.LogRecord("test", logging.WARNING, __file__, 1, message, args, info)
    record.__dict__.update(extra)
    return record


def test_masking_filter_masks_message_arguments_extras_and_traceback() -> None:
    try:
        raise ValueError("calendar rejected dana@example.com")
    except ValueError:
        record = _record("booking for %s failed", "+1 415 555 0123", exc_info=True, customer_email="d@example.com")
    record.__dict__["lk.pii.arguments"] = '{"customer_name": "Dana"}'
    record.__dict__["detail"] = {"note": "call 415-555-0123"}

    assert MaskingFilter().filter(record) is True
    line = logging.Formatter("%(message)s").format(record)

    assert record.getMessage() == "booking for [phone] failed"
    assert record.exc_info is None and "ValueError: calendar rejected [email]" in line and "Traceback" in line
    assert record.__dict__["customer_email"] == REDACTED and record.__dict__["lk.pii.arguments"] == REDACTED
    assert record.__dict__["detail"] == {"note": "call [phone]"}


def test_a_broken_format_string_shows_no_arguments() -> None:
    record = mask_log_record(_record("%d items for %s", "dana@example.com"))
    assert "dana" not in record.getMessage() and record.args == ()


def test_install_masks_records_of_any_logger_and_handlers_added_later() -> None:
    install_log_masking()
    install_log_masking()  # idempotent
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)  # added after the install, as LiveKit's CLI does
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        logging.getLogger("some.library").warning("user %s", "dana@example.com", extra={"phone": "+14155550123"})
    finally:
        root.removeHandler(handler)
    assert stream.getvalue() == "user [email]\n"
    assert any(isinstance(existing, MaskingFilter) for existing in handler.filters)


def test_powertools_formatter_masks_all_but_the_structural_fields() -> None:
    formatter = MaskingFormatter()
    formatter.append_keys(service="score_lead", session_id="call-_-14155550123_x7Yz")
    record = _record("Lead scored for dana@example.com", contact={"email": "dana@example.com"}, score=77)

    line = json.loads(formatter.format(record))

    assert line["message"] == "Lead scored for [email]"
    assert line["session_id"] == "call-_-[phone]_x7Yz"
    assert line["contact"] == REDACTED and line["score"] == 77
    assert line["service"] == "score_lead" and line["level"] == "WARNING" and line["timestamp"]


def test_a_log_line_loses_addresses_and_phone_numbers_and_a_transcript_also_codes_and_spellings() -> None:
    """Log lines are masked for what a log can leak (emails, phone numbers); the transcript kept for analytics also
    loses short codes after a cue and spelled names (the two entry points choose the scans)."""
    line = "pin is four two one nine, name k o w a l s k i, call four one five five five one two"

    assert mask_text(line) == "pin is four two one nine, name k o w a l s k i, call [phone]"
    assert redact_transcript(line) == "pin is [number], name [spelled], call [phone]"
