"""The S3 "Object Created" event as EventBridge delivers it (S3 -> EventBridge rule -> SQS): score_lead's trigger.

Powertools has this model (`parser.models.S3EventNotificationEventBridgeModel`), but importing it imports its module
of every S3 event model (notifications, batch operations, Object Lambda, Glacier...): about 50 M instructions, some
2.5% of score_lead's cold import (measured under callgrind, CPython 3.12). This is the same model cut to the fields an
"Object Created" event carries, with Powertools' names, aliases and types, on Powertools' own `EventBridgeModel` (the
envelope, also used by the "Lead Scored" event) and still validated by Powertools' `parse` (see handler.py). Fields of
other S3 events (deletion type, restore expiry, storage-class changes) are ignored, as unknown fields are.
"""

# No `from __future__ import annotations` (pydantic models: see functions/common/record_parts.py).

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import BaseModel, Field, NonNegativeFloat


class S3NotificationBucket(BaseModel):
    name: str


class S3NotificationObject(BaseModel):
    key: str
    size: NonNegativeFloat | None = None
    etag: str = ""
    version_id: str | None = Field(default=None, alias="version-id")
    sequencer: str | None = None


class S3ObjectCreatedDetail(BaseModel):
    version: str
    bucket: S3NotificationBucket
    object: S3NotificationObject
    request_id: str = Field(alias="request-id")
    requester: str
    source_ip_address: str | None = Field(default=None, alias="source-ip-address")
    reason: str | None = None


class S3ObjectCreatedEvent(EventBridgeModel):
    """An S3 event notification sent to EventBridge (Powertools' S3EventNotificationEventBridgeModel, cut down)."""

    detail: S3ObjectCreatedDetail
