"""Loading the sample payloads in events/ (shared by unit, integration and infrastructure tests)."""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

from functions.common.record import SessionRecord, parse_record

REPO_ROOT = Path(__file__).resolve().parent.parent
EVENTS_DIR = REPO_ROOT / "events"


def load_event(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EVENTS_DIR / name).read_text())
    return data


def example_record_data() -> dict[str, Any]:
    return load_event("session_record_example.json")


def example_record(**changes: Any) -> SessionRecord:
    """The example session record, with top-level fields replaced by `changes`."""
    data = example_record_data()
    data.update(changes)
    return parse_record(data, source="events/session_record_example.json")


def sqs_event(bodies: list[str]) -> dict[str, Any]:
    """An SQS event shaped like events/*.json, one record per body, each with its own message id."""
    template = load_event("lead_scored_sqs_event.json")["Records"][0]
    records = []
    for body in bodies:
        record = copy.deepcopy(template)
        record.update(messageId=str(uuid.uuid4()), body=body)
        records.append(record)
    return {"Records": records}
