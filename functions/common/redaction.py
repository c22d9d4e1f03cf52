"""Personal data out of text: the agent's transcript redaction and the log masking of every process.

One implementation for both sides (the agent imports it too, so it stays free of Lambda-only packages):

- `mask_text`: email addresses -> "[email]", phone numbers -> "[phone]", written or said in words ("dana dot lee at
  example dot com", "four one five, five five five, oh one two three"; spoken_pii.py). UUIDs (request, message and
  event ids), ISO dates and times, and AWS account ids in ARNs, queue URLs and bucket names are kept as they are, so
  log lines stay usable for correlation and name the resources they are about.
- `redact_transcript`, for transcript lines in "redacted" mode: `mask_text` plus card, account and other numbers
  and codes of six digits or more, written or said ("[number]"; IBANs, "AB-123456", "four two four two, ...",
  "x j nine four seven k"), shorter numbers after a cue ("my pin is ...", "card ending in ..."), and spelled-out
  letters with the name they spell ("[spelled]"). Counts, amounts, prices, times and years ("a team of twelve",
  "about three hundred a month", "twenty twenty six") are kept: they carry the call's qualification signals.
- `mask_data`: `mask_text` over every string in a JSON-like value, and "[redacted]" for the values of keys that
  name personal data (contact, email, phone, transcript, quote, evidence...), whatever their content.
- `install_log_masking`: for the whole process, whichever logger writes (ours, Powertools', botocore's,
  LiveKit's): the message, its arguments and the traceback are masked when a record is made, and `extra=` fields
  before any root-logger handler formats it. The functions' Powertools handler masks with its formatter
  (functions/common/logs.py).

Masking is a safety net under the rule that log calls name sessions and outcomes, never contact details,
transcript text or quotes: a name or a sentence has no pattern to find, only the keys that carry them.
"""

from __future__ import annotations

import logging
import re
import threading
import traceback
from collections.abc import Mapping
from typing import Any

from functions.common.spoken_pii import EMAIL_MASK, NUMBER_MASK, PHONE_MASK, SPELLED_MASK, mask_spoken

__all__ = ["EMAIL_MASK", "NUMBER_MASK", "PHONE_MASK", "SPELLED_MASK", "mask_text", "redact_transcript"]

REDACTED = "[redacted]"
MASKING_FAILED = "[log message withheld: it could not be masked]"

EMAIL = re.compile(r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,24}")
# Seven or more digits, optionally separated by spaces, dots, dashes or brackets: phone numbers in any format.
# Any non-alphanumeric character may stand before or after one, "_" included, so that a number inside a SIP room
# name ("call-_+14155550123_x7Yz") is found too.
_PHONE = r"(?<![A-Za-z0-9])\+?\d(?:[ ().-]{0,2}\d){6,}(?![A-Za-z0-9])"
# Identifiers and timestamps that look like digit runs but are not personal data; matched first and kept.
_UUID = r"(?<![A-Za-z0-9-])[0-9A-Fa-f]{8}(?:-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}(?![A-Za-z0-9-])"
_DATE_TIME = r"(?<![A-Za-z0-9])\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?)?(?!\d)"
# AWS account ids where AWS puts them: an ARN's account field, a queue URL's path, a bucket name before its region
# (the template names the bucket voice-analytics-sessions-<stage>-<account>-<region>). They name the stack's own
# resources, not a person, and a log line whose queue URL or object URI reads "[phone]" leads nowhere.
_AWS_ACCOUNT = (
    r"arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:\d{12}(?=:)"
    r"|(?<=\.amazonaws\.com/)\d{12}(?=/)"
    r"|(?<![A-Za-z0-9])\d{12}(?=-(?:us|eu|ap|sa|ca|me|af|il|mx)-(?:gov-|iso[a-z]*-)?[a-z]+-\d(?![0-9]))"
)
_PHONE_OR_KEPT = re.compile(f"(?P<kept>{_UUID}|{_DATE_TIME}|{_AWS_ACCOUNT})|(?P<phone>{_PHONE})")
# Remaining long digit runs (codes, account and card numbers); short numbers like "12 people" stay readable.
LONG_DIGITS = re.compile(r"\d{6,}")
# Transcripts only: an IBAN as printed ("DE89 3704 0044 0532 0130 00"), and a reference with a letter prefix or
# suffix ("AB-123456"), whose letters would otherwise stay beside the masked digits.
_IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?:[ -]?[A-Z0-9]{4}){2,7}(?:[ -]?[A-Z0-9]{1,3})?(?![A-Za-z0-9])")
_REFERENCE = re.compile(r"(?<![^\W_])[A-Za-z]{1,4}-?\d{6,}(?:-?[A-Za-z]{1,4})?(?![^\W_])")

# Keys whose values are personal data whatever they look like (compared in lower case).
SENSITIVE_KEYS = frozenset(
    {
        "contact",
        "email",
        "customer_email",
        "phone",
        "phone_number",
        "caller_identity",
        "identity",
        "customer_name",
        "contact_name",
        "first_name",
        "last_name",
        "full_name",
        "transcript",
        "utterance",
        "text",
        "quote",
        "evidence",
        "caller_said",
        "user_text",
    }
)


def _phone_or_kept(match: re.Match[str]) -> str:
    return match.group("kept") or PHONE_MASK


def _mask_written(text: str) -> str:
    return _PHONE_OR_KEPT.sub(_phone_or_kept, EMAIL.sub(EMAIL_MASK, text))


def mask_text(text: str) -> str:
    """Mask email addresses and phone numbers, written or said in words; everything else is left as it was."""
    if not text:
        return text
    return mask_spoken(_mask_written(text), transcript=False)


def redact_transcript(text: str) -> str:
    """Mask emails, phone, card and account numbers, codes and spelled-out letters in a transcript line."""
    if not text:
        return text
    written = LONG_DIGITS.sub(NUMBER_MASK, _REFERENCE.sub(NUMBER_MASK, _mask_written(_IBAN.sub(NUMBER_MASK, text))))
    return mask_spoken(written, transcript=True)


def mask_data(value: Any, *, _depth: int = 0) -> Any:
    """A copy of a JSON-like value with every string masked and the values of sensitive keys redacted.

    Numbers, booleans and None are kept; any other object is logged as its masked `str()`.
    """
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return mask_text(value)
    if _depth > 20:  # a cycle or an absurdly deep structure: never recurse without bound in a logging call
        return REDACTED
    if isinstance(value, Mapping):
        return {
            key: REDACTED if is_sensitive_key(key) and item is not None else mask_data(item, _depth=_depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [mask_data(item, _depth=_depth + 1) for item in value]
    return mask_text(str(value))


# ---------------------------------------------------------------------------------------------------- logging

# Attributes every LogRecord has; anything else on a record came from `extra=` (or a framework's filter).
_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
_install_lock = threading.Lock()
_installed = False


def is_sensitive_key(key: object) -> bool:
    """A key naming personal data: "email", "contact"..., or any key with a "pii" segment (LiveKit marks the
    transcript text and tool arguments it logs as `lk.pii.text`, `lk.pii.arguments`)."""
    if not isinstance(key, str):
        return False
    lowered = key.lower()
    segments = re.split(r"[.\-]", lowered)
    return lowered in SENSITIVE_KEYS or segments[-1] in SENSITIVE_KEYS or "pii" in segments


def mask_log_record(record: logging.LogRecord) -> logging.LogRecord:
    """Mask a record's message (rendered with its arguments), traceback and stack in place; returns it."""
    message = record.msg
    if isinstance(message, Mapping):  # Powertools and LiveKit accept a dict as the message
        record.msg = mask_data(message)
    elif record.args:
        try:
            rendered = record.getMessage()
        except Exception:  # a broken format string must not show the raw arguments either
            rendered = f"{message} [log arguments could not be formatted]"
        record.msg = mask_text(rendered)
        record.args = ()
    elif isinstance(message, str):
        record.msg = mask_text(message)
    else:
        record.msg = mask_text(str(message))
    if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
        # Formatters print exc_text when it is set, so the traceback (which quotes exception messages) is masked.
        record.exc_text = mask_text("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))
    if record.stack_info:
        record.stack_info = mask_text(record.stack_info)
    return record


def mask_record_extras(record: logging.LogRecord) -> logging.LogRecord:
    """Mask the `extra=` fields of a record in place: sensitive keys redacted, every string masked."""
    for key, value in list(vars(record).items()):
        if key in _RECORD_ATTRIBUTES or value is None:
            continue
        record.__dict__[key] = REDACTED if is_sensitive_key(key) else mask_data(value)
    return record


class MaskingFilter(logging.Filter):
    """A handler filter that masks the whole record before the handler's formatter sees it: message, arguments,
    `extra=` fields and traceback. The traceback is kept only as masked text (exc_text, which every standard
    formatter prints; exc_info is cleared because some formatters, LiveKit's JSON one among them, would format
    the exception again from it). Never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            mask_record_extras(mask_log_record(record))
        except Exception:  # never let masking break logging, and never let an unmasked line through
            _withhold(record)
            return True
        if record.exc_info:
            record.exc_info = None
        return True


def _withhold(record: logging.LogRecord) -> None:
    for key in set(vars(record)) - _RECORD_ATTRIBUTES:
        del record.__dict__[key]
    record.msg, record.args, record.exc_info, record.exc_text, record.stack_info = MASKING_FAILED, (), None, None, None


def _filter_root_handlers() -> None:
    """Put a MaskingFilter on every handler of the root logger that has none (handlers come and go: LiveKit's
    CLI and the Lambda runtime install theirs before or after our import)."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(existing, MaskingFilter) for existing in handler.filters):
            handler.addFilter(MaskingFilter())


def install_log_masking() -> None:
    """Mask personal data in every log line this process writes from now on (idempotent, thread-safe).

    Two hooks, both standard logging API:
    - a LogRecord factory (wrapping whatever factory is installed) masks the message, its arguments and the
      traceback when a record is made, for every logger; it also makes sure every root-logger handler carries
      a MaskingFilter, including handlers added after this call;
    - that filter masks the `extra=` fields, which are attached after the factory runs, before any root handler
      formats the record. Handlers elsewhere mask with their formatter (functions/common/logs.py).
    """
    global _installed
    with _install_lock:
        if _installed:
            return
        previous = logging.getLogRecordFactory()

        def masking_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            try:
                _filter_root_handlers()
                return mask_log_record(record)
            except Exception:  # never let masking break logging, and never let an unmasked line through
                _withhold(record)
                return record

        logging.setLogRecordFactory(masking_factory)
        _filter_root_handlers()
        _installed = True
