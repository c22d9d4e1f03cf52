"""Print the session-record JSON Schema generated from the models (`make schema` writes it to schemas/)."""

from __future__ import annotations

import json
from typing import Any

from functions.common.record import SessionRecord


def session_record_schema() -> dict[str, Any]:
    schema = SessionRecord.model_json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://voice-analytics.example/schemas/session-record.v1.json",
        **schema,
    }


def render() -> str:
    return json.dumps(session_record_schema(), indent=2, sort_keys=False) + "\n"


if __name__ == "__main__":
    print(render(), end="")
