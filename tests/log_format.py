"""A log formatter for the masking tests: each record with its extras, as a JSON log format would show them."""

from __future__ import annotations

import json
import logging

_STANDARD_ATTRIBUTES = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class EverythingFormatter(logging.Formatter):
    """A record with its extras and traceback, as a JSON log format would show them."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = {key: value for key, value in vars(record).items() if key not in _STANDARD_ATTRIBUTES}
        return f"{line} {json.dumps(extras, default=str)}" if extras else line
