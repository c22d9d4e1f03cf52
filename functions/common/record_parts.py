"""The parts of session record v1 that the "Lead Scored" event carries too: the end reason, the industry and the
contact, with the base of the record's models and the wording of validation errors.

functions/common/record.py re-exports them all: the record reads as one contract, and its JSON Schema is unchanged.
They are defined here so that the consumers of "Lead Scored" (salesforce_sync, amplitude_events, hot_lead_alert),
which never read a session record, import them without building every model of the record (Lambda cold start).
"""

# No `from __future__ import annotations` in this module of pydantic models: with it, pydantic compiles and
# evaluates every field's annotation string when it builds the models at import, about 12% of their cost in
# a Lambda cold start. Names that exist only for type checking are quoted instead.

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class EndReason(StrEnum):
    """Why the session ended; every ending still produces exactly one record."""

    CALLER_HANGUP = "caller_hangup"
    SIP_HANGUP = "sip_hangup"
    AGENT_ENDED = "agent_ended"
    ERROR = "error"
    TIMEOUT = "timeout"
    WORKER_SHUTDOWN = "worker_shutdown"
    UNKNOWN = "unknown"


class Industry(StrEnum):
    LEGAL = "legal"
    REAL_ESTATE = "real_estate"
    HEALTHCARE = "healthcare"
    FINANCE = "finance"
    INSURANCE = "insurance"
    EDUCATION = "education"
    CONSTRUCTION = "construction"
    TECHNOLOGY = "technology"
    MANUFACTURING = "manufacturing"
    NONPROFIT = "nonprofit"
    GOVERNMENT = "government"
    MARKETING = "marketing"
    RECRUITING = "recruiting"
    HOSPITALITY = "hospitality"
    RETAIL = "retail"


class RecordModel(BaseModel):
    # Unknown fields are rejected so that a typo in the producer fails loudly instead of being dropped.
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


class Contact(RecordModel):
    """What the caller gave to book_sales_meeting; kept apart from the (redacted) transcript."""

    name: Annotated[str, Field(max_length=200)] | None = None
    email: Annotated[str, Field(max_length=254)] | None = None
    company: Annotated[str, Field(max_length=255)] | None = None
    preferred_time: Annotated[str, Field(max_length=200)] | None = None


def describe_validation_error(error: ValidationError) -> list[str]:
    """Turn a pydantic error into `field.path: message` strings."""
    described = []
    for item in error.errors(include_url=False):
        location = ".".join(str(part) for part in item["loc"]) or "<record>"
        described.append(f"field '{location}': {item['msg']}")
    return described
