"""The functions' Powertools Logger, with personal data masked in every line it writes.

Two layers, both from functions/common/redaction.py:
- the process-wide LogRecord factory masks the message, its arguments and tracebacks of every record (ours and
  the libraries': Powertools utilities, botocore, the Amplitude SDK, simple-salesforce);
- `MaskingFormatter` masks the structured part of each JSON line: `extra=` fields, appended keys (such as
  `session_id`), the exception and stack trace, and redacts keys that name personal data (`contact`, `email`,
  `transcript`, `quote`...). Only the fields Powertools itself fills (level, location, timestamp, Lambda context,
  X-Ray id) are written unchanged.

`masked_failures` covers the one line no logger writes: an exception that escapes the handler is reported by the
Lambda runtime itself (errorMessage), and Powertools' BatchProcessingError quotes every record's error in it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from functions.common.redaction import install_log_masking, mask_data, mask_text

P = ParamSpec("P")
R = TypeVar("R")

# Filled by Powertools from the record and the Lambda context, never from event data.
STRUCTURAL_KEYS = frozenset(
    {
        "level",
        "location",
        "timestamp",
        "service",
        "sampling_rate",
        "cold_start",
        "function_name",
        "function_memory_size",
        "function_arn",
        "function_request_id",
        "xray_trace_id",
        "exception_name",
    }
)


class MaskingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON formatter, masking every field except the structural ones before serialising."""

    def serialize(self, log: Any) -> str:
        # One mask_data call over the non-structural fields, so top-level keys such as `contact` are redacted too.
        masked = mask_data({key: value for key, value in log.items() if key not in STRUCTURAL_KEYS})
        ordered = {key: value if key in STRUCTURAL_KEYS else masked[key] for key, value in log.items()}
        return super().serialize(log=ordered)


def function_logger(level: str) -> Logger:
    """The handler's Logger (service name from POWERTOOLS_SERVICE_NAME), masking personal data in every line."""
    install_log_masking()
    return Logger(level=level, logger_formatter=MaskingFormatter())


class InvocationFailedError(RuntimeError):
    """An exception escaped the handler; its type and masked message (the original is not chained)."""


def masked_failures(handler: Callable[P, R]) -> Callable[P, R]:
    """Outermost decorator of a Lambda handler: an escaping exception is raised again with masked text, so the
    invocation still fails (SQS delivers the batch again, the Errors alarm counts it) without the runtime writing
    record contents to the log. BatchProcessingError (every record of the batch failed) keeps its type."""

    @functools.wraps(handler)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return handler(*args, **kwargs)
        except BatchProcessingError as error:
            raise BatchProcessingError(mask_text(str(error))) from None
        except Exception as error:
            masked = mask_text(str(error))
            if masked == str(error):
                raise
            raise InvocationFailedError(f"{type(error).__name__}: {masked}") from None

    return wrapper
