"""The Salesforce emulator's data model: the Lead and Task sObjects it knows (fields, types, lengths, rules), record
ids as Salesforce makes them, Salesforce's API errors, field value parsing and checks, and the reading of an sObject
Collections upsert body. Split from `local.emulators.salesforce` (the HTTP side) to keep each file readable.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Final, NoReturn

from werkzeug.wrappers import Response

from local.emulators.http import json_response

# sObject Collections upsert: from API 46.0, at most 200 records a call (REST API guide, "Upsert Records Using
# sObject Collections").
COLLECTION_UPSERT_SINCE: Final = 46.0
COLLECTION_MAX_RECORDS: Final = 200

# ---------------------------------------------------------------------------------------------------- schema

_TEXT_TYPES: Final = frozenset({"string", "textarea", "email", "phone", "picklist"})


@dataclass(frozen=True)
class Field:
    """One field of an sObject, with what the emulator validates on writes."""

    name: str
    type: str
    # Text: maximum characters; double: precision (digits in all); int: digits.
    length: int = 0
    scale: int = 0
    required: bool = False  # not nillable: a create without it (and without a default) fails
    default: Any = None
    external_id: bool = False  # usable in an upsert URL; unique and case-insensitive, as Salesforce makes them
    createable: bool = True
    updateable: bool = True
    reference_to: str = ""


@dataclass(frozen=True)
class SObject:
    name: str
    key_prefix: str
    fields: tuple[Field, ...]

    @functools.cached_property
    def _by_lower_name(self) -> dict[str, Field]:
        return {field.name.lower(): field for field in self.fields}

    def field(self, name: str) -> Field | None:
        """Field names resolve case-insensitively, as in the API."""
        return self._by_lower_name.get(name.lower())


def _read_only(name: str, type_: str, length: int = 0, reference_to: str = "") -> Field:
    """A field the server sets: never in a request body."""
    return Field(name, type_, length, reference_to=reference_to, createable=False, updateable=False)


_SYSTEM_FIELDS: Final = (
    _read_only("Id", "id", 18),
    _read_only("IsDeleted", "boolean"),
    _read_only("CreatedDate", "datetime"),
    _read_only("CreatedById", "reference", 18, reference_to="User"),
    _read_only("LastModifiedDate", "datetime"),
    _read_only("LastModifiedById", "reference", 18, reference_to="User"),
    _read_only("SystemModstamp", "datetime"),
    Field("OwnerId", "reference", 18, reference_to="User"),  # writable; the logged-in user when left out
)

# The Lead and Task fields salesforce_sync writes (the custom ones are those docs/backend.md asks admins to create).
LEAD: Final = SObject(
    "Lead",
    "00Q",
    (
        *_SYSTEM_FIELDS,
        _read_only("Name", "string", 121),  # FirstName LastName, computed
        Field("FirstName", "string", 40),
        Field("LastName", "string", 80, required=True),
        Field("Company", "string", 255, required=True),
        Field("Email", "email", 80),
        Field("Phone", "phone", 40),
        Field("Title", "string", 128),
        Field("LeadSource", "picklist", 40),
        Field("Status", "picklist", 40, required=True, default="Open - Not Contacted"),
        Field("Description", "textarea", 32000),
        Field("Industry", "picklist", 40),
        Field("NumberOfEmployees", "int", 8),
        Field("Rating", "picklist", 40),
        Field("Voice_Lead_Key__c", "string", 255, external_id=True),
        Field("Voice_Lead_Score__c", "double", 5, 2),
        Field("Voice_Lead_Grade__c", "string", 1),
        Field("Voice_Hot_Lead__c", "boolean", required=True, default=False),
        Field("Voice_Last_Session_Id__c", "string", 128),
        Field("Voice_Monthly_Volume__c", "double", 18, 2),
        Field("Voice_Integrations__c", "string", 255),
    ),
)
TASK: Final = SObject(
    "Task",
    "00T",
    (
        *_SYSTEM_FIELDS,
        Field("Subject", "string", 255, required=True),
        Field("Description", "textarea", 32000),
        Field("WhoId", "reference", 18, reference_to="Lead"),
        Field("Status", "picklist", 40, required=True, default="Completed"),
        Field("Priority", "picklist", 40, required=True, default="Normal"),
        Field("ActivityDate", "date"),
        Field("Type", "picklist", 40),
        Field("CallDurationInSeconds", "int", 8),
        Field("TaskSubtype", "picklist", 40, updateable=False),  # as in Salesforce: set on create only
        Field("Voice_Session_Id__c", "string", 128, external_id=True),
    ),
)
SOBJECTS: Final = {spec.name.lower(): spec for spec in (LEAD, TASK)}

# ---------------------------------------------------------------------------------------------------- ids

_BASE62: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ID_SUFFIX_ALPHABET: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_ID_PATTERN: Final = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?")
_ID_POD: Final = "5e0"  # pod and reserved characters of the emulated org; real ids carry the instance here


def _id_suffix(id15: str) -> str:
    """The 3-character checksum that makes an 18-character id case-insensitive (Salesforce's algorithm)."""
    chunks = (id15[start : start + 5] for start in range(0, 15, 5))
    return "".join(_ID_SUFFIX_ALPHABET[sum(1 << i for i, c in enumerate(chunk) if "A" <= c <= "Z")] for chunk in chunks)


def make_id(prefix: str, number: int) -> str:
    digits = ""
    for _ in range(9):
        number, remainder = divmod(number, 62)
        digits = _BASE62[remainder] + digits
    id15 = f"{prefix}{_ID_POD}{digits}"
    return id15 + _id_suffix(id15)


def to_id18(value: str) -> str | None:
    """The 18-character form of a 15- or 18-character id, or None when the value is not id-shaped."""
    if not _ID_PATTERN.fullmatch(value):
        return None
    return value if len(value) == 18 else value + _id_suffix(value)


def timestamp_of(moment: datetime) -> str:
    """Salesforce's datetime format: 2026-11-20T10:00:00.000+0000."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


# ---------------------------------------------------------------------------------------------------- errors


class ApiError(Exception):
    """A data API error, answered as `[{"message", "errorCode", "fields"?}]` with its status."""

    def __init__(self, status: int, error_code: str, message: str, fields: list[str] | None = None) -> None:
        super().__init__(f"{error_code}: {message}")
        self.status, self.error_code, self.message, self.fields = status, error_code, message, fields

    def response(self) -> Response:
        error: dict[str, Any] = {"message": self.message, "errorCode": self.error_code}
        if self.fields is not None:
            error["fields"] = self.fields
        return json_response(self.status, [error])


def not_found_error(message: str = "The requested resource does not exist") -> ApiError:
    return ApiError(404, "NOT_FOUND", message)


def parser_error(type_name: str, value: Any) -> ApiError:
    shown = json.dumps(value)[:60] if isinstance(value, list | dict) else value
    return ApiError(
        400,
        "JSON_PARSER_ERROR",
        f"Cannot deserialize instance of {type_name} from value {shown} or request may be missing a required field",
    )


def field_error(code: str, field: Field, message: str) -> ApiError:
    return ApiError(400, code, f"{field.name}: {message}", [field.name])


def _reject_constant(name: str) -> NoReturn:
    # Python's json accepts NaN and Infinity (and json.dumps writes them); Salesforce's parser does not.
    raise ValueError(f"{name} is not valid JSON")


# ---------------------------------------------------------------------------------------------------- values

_EMAIL_PATTERN: Final = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_DATE_PATTERN: Final = re.compile(r"\d{4}-\d{2}-\d{2}")


def _number(field: Field, value: Any, type_name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise parser_error(type_name, value)
    try:
        number = float(value)
    except ValueError:
        raise parser_error(type_name, value) from None
    if not math.isfinite(number):
        raise parser_error(type_name, value)
    return number


def parse_value(field: Field, value: Any) -> Any:
    """One JSON value as the field's type, failing the way Salesforce's JSON parser does."""
    if value is None:
        return False if field.type == "boolean" else None  # a checkbox cannot be null: Salesforce stores false
    if field.type in _TEXT_TYPES:
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, int | float):
            value = json.dumps(value)
        elif not isinstance(value, str):
            raise parser_error("String", value)
        return value or None  # Salesforce stores an empty text as null
    if field.type == "double":
        return _number(field, value, "double")
    if field.type == "int":
        number = _number(field, value, "int")
        if not number.is_integer():
            raise parser_error("int", value)
        return int(number)
    if field.type == "boolean":
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if not isinstance(value, bool):
            raise parser_error("boolean", value)
        return value
    if field.type == "date":
        if isinstance(value, str) and _DATE_PATTERN.fullmatch(value):
            try:
                return date.fromisoformat(value).isoformat()
            except ValueError:
                pass
        raise parser_error("Date", value)
    if field.type in ("id", "reference"):
        id18 = to_id18(value) if isinstance(value, str) else None
        if id18 is None:
            raise field_error("MALFORMED_ID", field, f"id value of incorrect type: {value}")
        return id18
    raise AssertionError(f"the emulator has no parser for {field.name}'s type {field.type!r}")


def check_value(field: Field, value: Any) -> Any:
    """Field rules after parsing: length, email format, numeric range (doubles rounded half up to their scale)."""
    if value is None:
        return None
    if field.type in _TEXT_TYPES:
        if len(value) > field.length:
            message = f"data value too large: {value[:80]} (max length={field.length})"
            raise field_error("STRING_TOO_LONG", field, message)
        if field.type == "email" and not _EMAIL_PATTERN.fullmatch(value):
            raise field_error("INVALID_EMAIL_ADDRESS", field, f"invalid email address: {value}")
        return value
    limit = 10 ** (field.length - field.scale)
    if field.type == "double" and abs(value) < limit:  # range first: quantize() fails on too many digits
        value = float(Decimal(repr(value)).quantize(Decimal(1).scaleb(-field.scale), rounding=ROUND_HALF_UP))
    if field.type in ("double", "int") and abs(value) >= limit:
        raise field_error("NUMBER_OUTSIDE_VALID_RANGE", field, f"value outside of valid range: {value}")
    return value


# ---------------------------------------------------------------------------------------------------- bodies


class MultipleMatches(Exception):
    """Several stored records hold the external id value of an upsert."""

    def __init__(self, records: list[dict[str, Any]]) -> None:
        super().__init__(f"{len(records)} records match")
        self.records = records


def json_body(body: bytes) -> Any:
    try:
        return json.loads(body or b"null", parse_constant=_reject_constant)
    except ValueError as error:
        raise ApiError(400, "JSON_PARSER_ERROR", f"Unexpected character in the request body: {error}") from None


def collection_request(spec: SObject, body: bytes) -> tuple[bool, list[dict[str, Any]]]:
    """(allOrNone, records) of a collection upsert body, or the 400 Salesforce answers a malformed one with."""
    payload = json_body(body)
    if not isinstance(payload, dict):
        raise parser_error("SObjectCollectionRequest", payload)
    records, all_or_none = payload.get("records"), payload.get("allOrNone", False)
    if not isinstance(records, list):
        raise parser_error("List<SObject>", records)
    if not isinstance(all_or_none, bool):
        raise parser_error("boolean", all_or_none)
    if len(records) > COLLECTION_MAX_RECORDS:
        message = f"record limit reached. cannot submit more than {COLLECTION_MAX_RECORDS} records into this call"
        raise ApiError(400, "EXCEEDED_ID_LIMIT", message)
    for record in records:
        if not isinstance(record, dict):
            raise parser_error(spec.name, record)
        attributes = record.get("attributes")
        declared = attributes.get("type") if isinstance(attributes, dict) else None
        if not isinstance(declared, str) or not declared:
            raise ApiError(400, "INVALID_TYPE", "Must send a concrete entity type.")
        if declared.lower() != spec.name.lower():
            # The REST guide: "The list can contain objects only of the type indicated in the request URI."
            raise ApiError(400, "INVALID_TYPE", f"Record of type {declared} in a {spec.name} collection upsert")
    return all_or_none, records


def external_id_of(record: Mapping[str, Any], key: Field) -> str | None:
    """The record's value of the external id field (named case-insensitively), as text; None when absent."""
    for name, value in record.items():
        if name.lower() == key.name.lower() and value is not None and not isinstance(value, dict | list):
            return str(value) if not isinstance(value, bool) else None
    return None


def fields_to_write(spec: SObject, key: Field, record: Mapping[str, Any]) -> dict[str, Any]:
    """A collection record's fields without its attributes and external id (the upsert's key, as in the URL of a
    single upsert); an Id is refused: collection upserts match by external id only."""
    data = {}
    for name, value in record.items():
        named = spec.field(name)
        if name == "attributes" or (named is not None and named.name == key.name):
            continue
        if named is not None and named.name == "Id":
            raise ApiError(400, "INVALID_FIELD", "Id must not be set in an upsert by external id", ["Id"])
        data[name] = value
    return data


def external_ids_in_body(body: bytes, field: str) -> tuple[str | None, ...]:
    """The external id of each record of a collection body, for `collection_log` (nothing for an unreadable one)."""
    try:
        records = json.loads(body).get("records")
    except (ValueError, AttributeError):
        return ()
    if not isinstance(records, list):
        return ()
    key = Field(field, "string")
    return tuple(external_id_of(record, key) if isinstance(record, dict) else None for record in records)


def occurring_once(values: list[str]) -> set[str]:
    """The values that occur exactly once."""
    seen: set[str] = set()
    repeated: set[str] = set()
    for value in values:
        (repeated if value in seen else seen).add(value)
    return seen - repeated


def failed_result(error: ApiError) -> dict[str, Any]:
    failure = {"statusCode": error.error_code, "message": error.message, "fields": error.fields or []}
    return {"id": None, "success": False, "errors": [failure], "created": False}


def rolled_back_result(error: dict[str, Any]) -> dict[str, Any]:
    return {"id": None, "success": False, "errors": [error], "created": False}
