"""A local HTTPS emulator of the Salesforce REST API: exactly what the product and its tests use.

salesforce_sync (functions/common/salesforce.py, with the real simple-salesforce client) logs in with the OAuth 2.0
username-password flow and upserts each batch's Leads and Tasks by external id with sObject Collections calls. So
this serves (`ROUTES`):

    POST  /services/oauth2/token                                            token (grant types: `_grants`)
    PATCH /services/data/vXX.X/composite/sobjects/{SObject}/{ExternalIdField} collection upsert (API 46.0+): up to
                                                                            200 records, 200 with one result each
    PATCH /services/data/vXX.X/sobjects/{SObject}/{ExternalIdField}/{Value}  upsert: 201 created, 200 updated
                                                                            (204 before API 46.0), 300 ambiguous
    GET   /services/data/vXX.X/sobjects/{SObject}/{ExternalIdField}/{Value}  the record, 404, or 300

with Salesforce's answers: error bodies `[{"message", "errorCode", "fields"}]` with the status codes simple-salesforce
maps to its exceptions, 401 INVALID_SESSION_ID for an expired token, and the field rules the product must respect
(unknown and read-only fields, types, lengths, email format, numeric ranges, required fields and their defaults,
a WhoId that must name an existing Lead). A collection upsert answers 200 whenever the request is well formed, with
one result per record in request order (`{"id", "success", "errors": [{"statusCode", "message", "fields"}],
"created"}`): a record that breaks a field rule fails alone (with `allOrNone` true the others are rolled back), two
records of one request with the same external id both fail with DUPLICATE_VALUE, and an external id that matches
several stored records fails with DUPLICATE_EXTERNAL_ID. The single-record routes stay for the tests of the client
library's own calls. Nothing else: no SOQL, SOAP login, describe or delete (the product uses none of them). A new
endpoint is one `Rule` in `ROUTES` and one `_<endpoint>` method. A new grant type (client credentials, JWT bearer)
is one method returning an OAuth error or None, added to `_grants`.

TLS is real (a self-signed certificate, `ca_bundle`), because the client must run with certificate verification on,
as in AWS. Emulator-only conveniences: `records()`, `seed()`, `request_log`, `collection_log` (the external ids each
collection call carried in its body, and its answer), `export_state()` / `load_state()` (records kept between demo
runs), the fault switches `fail_next()` (a whole call), `reject_records()` (a validation rule: the records it names
fail, the rest of their call goes through), `delay_next()`, `expire_sessions()`, `reset_faults()`, and
`faults_served` / `rejections_served` / `delays_served` (how many switches actually answered a call or a record).
"""

from __future__ import annotations

import base64
import copy
import functools
import hashlib
import hmac
import itertools
import json
import math
import re
import secrets
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Final, NamedTuple, NoReturn

from werkzeug.routing import BaseConverter, Map, Rule
from werkzeug.wrappers import Request, Response

from local.emulators.http import LoopbackEmulator, SelfSignedTLS, json_response

__all__ = ["LEAD", "TASK", "CollectionCall", "Field", "SObject", "SalesforceEmulator"]

# From API 46.0 an upsert that updates answers 200 with a body; before, 204 with none (Salesforce REST API guide).
_UPSERT_UPDATE_BODY_SINCE: Final = 46.0
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
_SOBJECTS: Final = {spec.name.lower(): spec for spec in (LEAD, TASK)}

# ---------------------------------------------------------------------------------------------------- ids

_BASE62: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ID_SUFFIX_ALPHABET: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_ID_PATTERN: Final = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?")
_ID_POD: Final = "5e0"  # pod and reserved characters of the emulated org; real ids carry the instance here


def _id_suffix(id15: str) -> str:
    """The 3-character checksum that makes an 18-character id case-insensitive (Salesforce's algorithm)."""
    chunks = (id15[start : start + 5] for start in range(0, 15, 5))
    return "".join(_ID_SUFFIX_ALPHABET[sum(1 << i for i, c in enumerate(chunk) if "A" <= c <= "Z")] for chunk in chunks)


def _make_id(prefix: str, number: int) -> str:
    digits = ""
    for _ in range(9):
        number, remainder = divmod(number, 62)
        digits = _BASE62[remainder] + digits
    id15 = f"{prefix}{_ID_POD}{digits}"
    return id15 + _id_suffix(id15)


def _to_id18(value: str) -> str | None:
    """The 18-character form of a 15- or 18-character id, or None when the value is not id-shaped."""
    if not _ID_PATTERN.fullmatch(value):
        return None
    return value if len(value) == 18 else value + _id_suffix(value)


def _timestamp(moment: datetime) -> str:
    """Salesforce's datetime format: 2026-11-20T10:00:00.000+0000."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


# ---------------------------------------------------------------------------------------------------- errors


class _ApiError(Exception):
    """A data API error, answered as `[{"message", "errorCode", "fields"?}]` with its status."""

    def __init__(self, status: int, error_code: str, message: str, fields: list[str] | None = None) -> None:
        super().__init__(f"{error_code}: {message}")
        self.status, self.error_code, self.message, self.fields = status, error_code, message, fields

    def response(self) -> Response:
        error: dict[str, Any] = {"message": self.message, "errorCode": self.error_code}
        if self.fields is not None:
            error["fields"] = self.fields
        return json_response(self.status, [error])


def _not_found(message: str = "The requested resource does not exist") -> _ApiError:
    return _ApiError(404, "NOT_FOUND", message)


def _parser_error(type_name: str, value: Any) -> _ApiError:
    shown = json.dumps(value)[:60] if isinstance(value, list | dict) else value
    return _ApiError(
        400,
        "JSON_PARSER_ERROR",
        f"Cannot deserialize instance of {type_name} from value {shown} or request may be missing a required field",
    )


def _field_error(code: str, field: Field, message: str) -> _ApiError:
    return _ApiError(400, code, f"{field.name}: {message}", [field.name])


def _reject_constant(name: str) -> NoReturn:
    # Python's json accepts NaN and Infinity (and json.dumps writes them); Salesforce's parser does not.
    raise ValueError(f"{name} is not valid JSON")


# ---------------------------------------------------------------------------------------------------- values

_EMAIL_PATTERN: Final = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_DATE_PATTERN: Final = re.compile(r"\d{4}-\d{2}-\d{2}")


def _number(field: Field, value: Any, type_name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _parser_error(type_name, value)
    try:
        number = float(value)
    except ValueError:
        raise _parser_error(type_name, value) from None
    if not math.isfinite(number):
        raise _parser_error(type_name, value)
    return number


def _parse_value(field: Field, value: Any) -> Any:
    """One JSON value as the field's type, failing the way Salesforce's JSON parser does."""
    if value is None:
        return False if field.type == "boolean" else None  # a checkbox cannot be null: Salesforce stores false
    if field.type in _TEXT_TYPES:
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, int | float):
            value = json.dumps(value)
        elif not isinstance(value, str):
            raise _parser_error("String", value)
        return value or None  # Salesforce stores an empty text as null
    if field.type == "double":
        return _number(field, value, "double")
    if field.type == "int":
        number = _number(field, value, "int")
        if not number.is_integer():
            raise _parser_error("int", value)
        return int(number)
    if field.type == "boolean":
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if not isinstance(value, bool):
            raise _parser_error("boolean", value)
        return value
    if field.type == "date":
        if isinstance(value, str) and _DATE_PATTERN.fullmatch(value):
            try:
                return date.fromisoformat(value).isoformat()
            except ValueError:
                pass
        raise _parser_error("Date", value)
    if field.type in ("id", "reference"):
        id18 = _to_id18(value) if isinstance(value, str) else None
        if id18 is None:
            raise _field_error("MALFORMED_ID", field, f"id value of incorrect type: {value}")
        return id18
    raise AssertionError(f"the emulator has no parser for {field.name}'s type {field.type!r}")


def _check_value(field: Field, value: Any) -> Any:
    """Field rules after parsing: length, email format, numeric range (doubles rounded half up to their scale)."""
    if value is None:
        return None
    if field.type in _TEXT_TYPES:
        if len(value) > field.length:
            message = f"data value too large: {value[:80]} (max length={field.length})"
            raise _field_error("STRING_TOO_LONG", field, message)
        if field.type == "email" and not _EMAIL_PATTERN.fullmatch(value):
            raise _field_error("INVALID_EMAIL_ADDRESS", field, f"invalid email address: {value}")
        return value
    limit = 10 ** (field.length - field.scale)
    if field.type == "double" and abs(value) < limit:  # range first: quantize() fails on too many digits
        value = float(Decimal(repr(value)).quantize(Decimal(1).scaleb(-field.scale), rounding=ROUND_HALF_UP))
    if field.type in ("double", "int") and abs(value) >= limit:
        raise _field_error("NUMBER_OUTSIDE_VALID_RANGE", field, f"value outside of valid range: {value}")
    return value


# ---------------------------------------------------------------------------------------------------- bodies


class _MultipleMatches(Exception):
    """Several stored records hold the external id value of an upsert."""

    def __init__(self, records: list[dict[str, Any]]) -> None:
        super().__init__(f"{len(records)} records match")
        self.records = records


def _json_body(body: bytes) -> Any:
    try:
        return json.loads(body or b"null", parse_constant=_reject_constant)
    except ValueError as error:
        raise _ApiError(400, "JSON_PARSER_ERROR", f"Unexpected character in the request body: {error}") from None


def _collection_request(spec: SObject, body: bytes) -> tuple[bool, list[dict[str, Any]]]:
    """(allOrNone, records) of a collection upsert body, or the 400 Salesforce answers a malformed one with."""
    payload = _json_body(body)
    if not isinstance(payload, dict):
        raise _parser_error("SObjectCollectionRequest", payload)
    records, all_or_none = payload.get("records"), payload.get("allOrNone", False)
    if not isinstance(records, list):
        raise _parser_error("List<SObject>", records)
    if not isinstance(all_or_none, bool):
        raise _parser_error("boolean", all_or_none)
    if len(records) > COLLECTION_MAX_RECORDS:
        message = f"record limit reached. cannot submit more than {COLLECTION_MAX_RECORDS} records into this call"
        raise _ApiError(400, "EXCEEDED_ID_LIMIT", message)
    for record in records:
        if not isinstance(record, dict):
            raise _parser_error(spec.name, record)
        attributes = record.get("attributes")
        declared = attributes.get("type") if isinstance(attributes, dict) else None
        if not isinstance(declared, str) or not declared:
            raise _ApiError(400, "INVALID_TYPE", "Must send a concrete entity type.")
        if declared.lower() != spec.name.lower():
            # The REST guide: "The list can contain objects only of the type indicated in the request URI."
            raise _ApiError(400, "INVALID_TYPE", f"Record of type {declared} in a {spec.name} collection upsert")
    return all_or_none, records


def _external_id_of(record: Mapping[str, Any], key: Field) -> str | None:
    """The record's value of the external id field (named case-insensitively), as text; None when absent."""
    for name, value in record.items():
        if name.lower() == key.name.lower() and value is not None and not isinstance(value, dict | list):
            return str(value) if not isinstance(value, bool) else None
    return None


def _fields_to_write(spec: SObject, key: Field, record: Mapping[str, Any]) -> dict[str, Any]:
    """A collection record's fields without its attributes and external id (the upsert's key, as in the URL of a
    single upsert); an Id is refused: collection upserts match by external id only."""
    data = {}
    for name, value in record.items():
        named = spec.field(name)
        if name == "attributes" or (named is not None and named.name == key.name):
            continue
        if named is not None and named.name == "Id":
            raise _ApiError(400, "INVALID_FIELD", "Id must not be set in an upsert by external id", ["Id"])
        data[name] = value
    return data


def _external_ids(body: bytes, field: str) -> tuple[str | None, ...]:
    """The external id of each record of a collection body, for `collection_log` (nothing for an unreadable one)."""
    try:
        records = json.loads(body).get("records")
    except (ValueError, AttributeError):
        return ()
    if not isinstance(records, list):
        return ()
    key = Field(field, "string")
    return tuple(_external_id_of(record, key) if isinstance(record, dict) else None for record in records)


def _once(values: list[str]) -> set[str]:
    """The values that occur exactly once."""
    seen: set[str] = set()
    repeated: set[str] = set()
    for value in values:
        (repeated if value in seen else seen).add(value)
    return seen - repeated


def _failed(error: _ApiError) -> dict[str, Any]:
    failure = {"statusCode": error.error_code, "message": error.message, "fields": error.fields or []}
    return {"id": None, "success": False, "errors": [failure], "created": False}


def _rolled_back(error: dict[str, Any]) -> dict[str, Any]:
    return {"id": None, "success": False, "errors": [error], "created": False}


# ---------------------------------------------------------------------------------------------------- routes


class _ApiVersion(BaseConverter):
    regex = r"\d+\.\d"


ROUTES: Final = Map(
    [
        Rule("/services/oauth2/token", methods=["POST"], endpoint="token"),
        Rule(
            "/services/data/v<version:version>/composite/sobjects/<sobject>/<field>",
            methods=["PATCH"],
            endpoint="collection_upsert",
        ),
        Rule(
            "/services/data/v<version:version>/sobjects/<sobject>/<field>/<path:value>",
            methods=["GET", "PATCH"],
            endpoint="external_id",
        ),
    ],
    converters={"version": _ApiVersion},
    strict_slashes=False,
)

# An OAuth error: (error, error_description), answered with 400.
OAuthError = tuple[str, str]


@dataclass(frozen=True)
class _Fault:
    status: int
    error_code: str
    message: str


@dataclass(frozen=True)
class _Rejection:
    """A validation rule of the emulated org: a write leaving `field` equal to `value` fails with `error_code`."""

    sobject: str
    field: str
    value: str  # compared case-insensitively, as text
    error_code: str
    message: str


class CollectionCall(NamedTuple):
    """One sObject Collections call as `collection_log` keeps it: its answer's status, the sObject and external id
    field of its path, and the external id value of each record of its body (in body order; None for a record
    without one). A body that could not be read as records logs no ids."""

    status: int
    sobject: str
    field: str
    external_ids: tuple[str | None, ...]


class SalesforceEmulator(LoopbackEmulator[_Fault]):
    """An in-memory Salesforce org behind HTTPS on 127.0.0.1, for the real simple-salesforce client.

    Use as a context manager (or `start()` / `stop()`). After start, `base_url` is the instance URL and
    `ca_bundle` the PEM file to trust; log in on `token_url` (grant_type=password: username, password +
    security_token, client_id, client_secret), then send `Authorization: Bearer <access_token>`.
    """

    name = "Salesforce emulator"
    routes = ROUTES

    def __init__(
        self,
        username: str = "demo@example.com",
        password: str = "demo-password",  # noqa: S107 - a fixed credential of a local fake org, not a secret
        security_token: str = "demo-token",  # noqa: S107 - as above
        client_id: str = "demo-client",
        client_secret: str = "demo-secret",  # noqa: S107 - as above
        *,
        port: int = 0,
    ) -> None:
        super().__init__(port=port)
        self.username, self.password, self.security_token = username, password, security_token
        self.client_id, self.client_secret = client_id, client_secret
        self._tls = SelfSignedTLS("voice-analytics local Salesforce emulator")
        self._id_numbers = itertools.count(1)
        self.org_id = _make_id("00D", next(self._id_numbers))
        self.user_id = _make_id("005", next(self._id_numbers))
        self._records: dict[str, dict[str, dict[str, Any]]] = {spec.name: {} for spec in _SOBJECTS.values()}
        # (sObject, external id field) -> lower-cased value -> record ids: an upsert finds its record in O(1)
        # however many there are (a scan made a 10,000-session run quadratic).
        self._index: dict[tuple[str, str], dict[str, set[str]]] = {}
        self._tokens: set[str] = set()
        self._rejections: list[_Rejection] = []
        self._rejections_served = 0
        self._collection_log: list[CollectionCall] = []
        self._grants: dict[str, Callable[[Mapping[str, str]], OAuthError | None]] = {"password": self._password_grant}

    # -- addresses and lifecycle -------------------------------------------------------------------------------

    def _ssl_context(self) -> ssl.SSLContext:
        return self._tls.context()

    def _release(self) -> None:
        self._tls.remove()

    @property
    def base_url(self) -> str:
        """The instance URL, "https://127.0.0.1:PORT" (what the token response calls instance_url)."""
        return f"https://127.0.0.1:{self.port}"

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/services/oauth2/token"

    @property
    def ca_bundle(self) -> str:
        """Path of the PEM certificate to trust (requests: `session.verify = ca_bundle`)."""
        return self._tls.ca_bundle

    def secret(self) -> dict[str, str]:
        """The Salesforce secret (the shape salesforce_sync reads from Secrets Manager) pointing at this emulator."""
        return {
            "login_url": self.base_url,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "username": self.username,
            "password": self.password,
            "security_token": self.security_token,
        }

    # -- inspection, state and switches ------------------------------------------------------------------------

    def records(self, sobject: str) -> list[dict[str, Any]]:
        """Copies of the stored records of `sobject` ("Lead" or "Task"), oldest first."""
        spec = self._spec_or_raise(sobject)
        with self._lock:
            return copy.deepcopy(list(self._records[spec.name].values()))

    def seed(self, sobject: str, values: Mapping[str, Any]) -> str:
        """Store a record directly, skipping validation; returns its id. For states the API would refuse to create,
        e.g. two Leads with one Voice_Lead_Key__c, so that an upsert answers 300. A field name that does not exist
        raises ValueError rather than being ignored."""
        spec = self._spec_or_raise(sobject)
        resolved = {}
        for name, value in values.items():
            field = spec.field(name)
            if field is None:
                raise ValueError(f"{spec.name} has no field {name!r}")
            resolved[field.name] = value
        with self._lock:
            return self._insert(spec, resolved)

    def export_state(self) -> dict[str, Any]:
        """The stored records and the id counter as JSON-able data, for `load_state()` in a later run (the demo
        keeps it in build/demo/state/salesforce.json). The org and user ids are the same in every run."""
        with self._lock:
            next_number = next(self._id_numbers)
            self._id_numbers = itertools.count(next_number)
            return {"version": 1, "next_id_number": next_number, "records": copy.deepcopy(self._records)}

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Replace every stored record with those of `export_state()`; ids continue after the highest one issued."""
        records: dict[str, dict[str, dict[str, Any]]] = {spec.name: {} for spec in _SOBJECTS.values()}
        for sobject, by_id in (state.get("records") or {}).items():
            records[self._spec_or_raise(sobject).name] = {str(key): dict(record) for key, record in by_id.items()}
        with self._lock:
            next_number = max(int(state.get("next_id_number") or 0), next(self._id_numbers))
            self._id_numbers = itertools.count(next_number)
            self._records, self._index = records, {}
            for spec in _SOBJECTS.values():
                for record in records[spec.name].values():
                    self._index_record(spec, record, add=True)

    def fail_next(
        self, count: int, status: int = 503, error_code: str = "SERVER_UNAVAILABLE", message: str | None = None
    ) -> None:
        """Make the next `count` data API calls fail with `status` and `[{"errorCode", "message"}]`; the failed calls
        change nothing. E.g. fail_next(1, 403, "REQUEST_LIMIT_EXCEEDED"). The token endpoint is not affected."""
        if not 400 <= status <= 599:
            raise ValueError("fail_next needs an error status between 400 and 599")
        message = message or f"{error_code} (injected by the local Salesforce emulator)"
        self._queue_faults(_Fault(status, error_code, message), count)

    def reject_records(
        self,
        sobject: str,
        field: str,
        value: str,
        error_code: str = "FIELD_CUSTOM_VALIDATION_EXCEPTION",
        message: str | None = None,
    ) -> None:
        """Add a validation rule: every create or update (single or in a collection) after which `field` of
        `sobject` equals `value` (as text, case-insensitively) fails with `error_code`, as a validation rule of the
        org would. In a collection call only those records fail; the others go through. Until `reset_faults()`."""
        spec = self._spec_or_raise(sobject)
        named = spec.field(field)
        if named is None:
            raise ValueError(f"{spec.name} has no field {field!r}")
        message = message or f"{named.name}: rejected by a validation rule (injected by the local Salesforce emulator)"
        with self._lock:
            self._rejections.append(_Rejection(spec.name, named.name, value.lower(), error_code, message))

    @property
    def rejections_served(self) -> int:
        """Records a `reject_records()` rule refused so far."""
        with self._lock:
            return self._rejections_served

    @property
    def collection_log(self) -> list[CollectionCall]:
        """Every sObject Collections call, oldest first, whatever its answer: which external ids its body carried
        (the path names none)."""
        with self._lock:
            return list(self._collection_log)

    def reset_faults(self) -> None:
        """Cancel pending fail_next and delay_next switches and every reject_records rule."""
        super().reset_faults()
        with self._lock:
            self._rejections.clear()

    def expire_sessions(self) -> None:
        """Invalidate every access token issued so far: data calls answer 401 INVALID_SESSION_ID until a new login."""
        with self._lock:
            self._tokens.clear()

    # -- answers every route shares ----------------------------------------------------------------------------

    def _not_found(self, request: Request) -> Response:
        return _not_found().response()

    def _method_not_allowed(self, request: Request, allowed: list[str]) -> Response:
        if request.path.startswith("/services/oauth2/"):
            return json_response(405, {"error": "invalid_request", "error_description": "must use HTTP POST"})
        message = f"HTTP Method '{request.method}' not allowed. Allowed are {','.join(allowed)}"
        return _ApiError(405, "METHOD_NOT_ALLOWED", message).response()

    def _internal_error(self, error: Exception) -> Response:
        return _ApiError(500, "UNKNOWN_EXCEPTION", f"local Salesforce emulator error: {error!r}").response()

    @staticmethod
    def _spec_or_raise(sobject: str) -> SObject:
        spec = _SOBJECTS.get(sobject.lower())
        if spec is None:
            raise ValueError(
                f"the emulator has no sObject {sobject!r}; it knows {[s.name for s in _SOBJECTS.values()]}"
            )
        return spec

    # -- login -------------------------------------------------------------------------------------------------

    def _token(self, request: Request) -> Response:
        """The OAuth token endpoint: the grant type picks the check, a granted login gets a bearer token."""
        form = request.form
        grant = self._grants.get(form.get("grant_type", ""))
        if grant is None:
            # Only the flows in `_grants` are emulated; say so rather than fake another one.
            return json_response(
                400, {"error": "unsupported_grant_type", "error_description": "grant type not supported"}
            )
        refused = grant(form)
        if refused is not None:
            return json_response(400, {"error": refused[0], "error_description": refused[1]})
        token = f"{self.org_id[:15]}!{secrets.token_urlsafe(48)}"
        with self._lock:
            self._tokens.add(token)
        issued_at = str(int(time.time() * 1000))
        identity = f"{self.base_url}/id/{self.org_id}/{self.user_id}"
        signature = hmac.new(self.client_secret.encode(), (identity + issued_at).encode(), hashlib.sha256).digest()
        body = {
            "access_token": token,
            "instance_url": self.base_url,
            "id": identity,
            "token_type": "Bearer",
            "issued_at": issued_at,
            "signature": base64.b64encode(signature).decode(),
        }
        return json_response(200, body)

    def _client_check(self, form: Mapping[str, str]) -> OAuthError | None:
        """The connected app's credentials, which the password and client-credentials flows both send."""
        if not hmac.compare_digest(form.get("client_id", ""), self.client_id):
            return "invalid_client_id", "client identifier invalid"
        if not hmac.compare_digest(form.get("client_secret", ""), self.client_secret):
            return "invalid_client", "invalid client credentials"
        return None

    def _password_grant(self, form: Mapping[str, str]) -> OAuthError | None:
        """The username-password flow: the password field is the user's password followed by the security token."""
        good_user = hmac.compare_digest(form.get("username", ""), self.username)
        good_password = hmac.compare_digest(form.get("password", ""), self.password + self.security_token)
        user_error = None if good_user and good_password else ("invalid_grant", "authentication failure")
        return self._client_check(form) or user_error

    # -- data API ----------------------------------------------------------------------------------------------

    def _data_call(self, request: Request, operation: Callable[[], Response]) -> tuple[Response, float]:
        """A data API call: an injected fault first (it changes nothing), then the session, then the operation."""
        fault, delay = self._take_switches()
        try:
            if fault is not None:
                raise _ApiError(fault.status, fault.error_code, fault.message)
            scheme, _, token = request.headers.get("Authorization", "").partition(" ")
            with self._lock:
                valid = scheme.lower() in ("bearer", "oauth") and token.strip() in self._tokens
            if not valid:
                raise _ApiError(401, "INVALID_SESSION_ID", "Session expired or invalid")
            return operation(), delay
        except _ApiError as error:
            return error.response(), delay

    def _external_id(
        self, request: Request, version: str, sobject: str, field: str, value: str
    ) -> tuple[Response, float]:
        """GET or PATCH (upsert) of the record whose external id `field` is `value`."""

        def operation() -> Response:
            spec = _SOBJECTS.get(sobject.lower())
            if spec is None:
                raise _not_found()
            key = spec.field(field)
            if key is None or not key.external_id:
                raise _not_found(f"Provided external ID field does not exist or is not accessible: {field}")
            if request.method == "GET":
                return self._get_one(spec, version, key, value)
            return self._upsert_one(spec, version, key, value, request.get_data())

        return self._data_call(request, operation)

    def _get_one(self, spec: SObject, version: str, key: Field, value: str) -> Response:
        with self._lock:
            found = self._find(spec, key, value)
            if len(found) > 1:
                return self._multiple_choices(spec, version, found)
            if not found:
                raise _not_found()
            url = f"/services/data/v{version}/sobjects/{spec.name}/{found[0]['Id']}"
            return json_response(200, {"attributes": {"type": spec.name, "url": url}, **found[0]})

    def _upsert_one(self, spec: SObject, version: str, key: Field, value: str, body: bytes) -> Response:
        """Create or update the record `key` = `value` from one JSON object, as an upsert by external id does."""
        data = _json_body(body)
        if not isinstance(data, dict):
            raise _parser_error(spec.name, data)
        for name in data:  # the REST guide: neither Id nor the external id field in the body
            named = spec.field(name)
            if named is not None and named.name in ("Id", key.name):
                message = f"{named.name} is given in the URL of an upsert and must not be in the request body as well"
                raise _ApiError(400, "INVALID_FIELD", message, [named.name])
        with self._lock:
            try:
                record_id, created = self._upsert_values(spec, key, value, data)
            except _MultipleMatches as matches:
                return self._multiple_choices(spec, version, matches.records)
        if not created and float(version) < _UPSERT_UPDATE_BODY_SINCE:
            return Response(status=204)
        result: dict[str, Any] = {"id": record_id, "success": True, "errors": []}
        if float(version) >= _UPSERT_UPDATE_BODY_SINCE:
            result["created"] = created
        return json_response(201 if created else 200, result)

    def _upsert_values(self, spec: SObject, key: Field, value: str, data: Mapping[str, Any]) -> tuple[str, bool]:
        """Create or update the record whose `key` is `value` with `data`; returns (its id, created). Raises
        _MultipleMatches when several records hold that value, _ApiError when a field rule refuses the write. The
        caller holds the lock."""
        found = self._find(spec, key, value)
        if len(found) > 1:
            raise _MultipleMatches(found)
        if found:
            record = found[0]
            self._update(spec, record, self._parse_fields(spec, data, creating=False))
            return record["Id"], False
        return self._create(spec, self._parse_fields(spec, {**data, key.name: value}, creating=True)), True

    # -- sObject Collections -----------------------------------------------------------------------------------

    def _collection_upsert(self, request: Request, version: str, sobject: str, field: str) -> tuple[Response, float]:
        """PATCH composite/sobjects/{SObject}/{ExternalIdField}: upsert each record of the body by its own external
        id value, in order; 200 with one result per record, or 400 for a request that is not well formed."""
        body = request.get_data()

        def operation() -> Response:
            spec = _SOBJECTS.get(sobject.lower())
            if float(version) < COLLECTION_UPSERT_SINCE or spec is None:
                raise _not_found()
            key = spec.field(field)
            if key is None or not key.external_id:
                raise _not_found(f"Provided external ID field does not exist or is not accessible: {field}")
            all_or_none, records = _collection_request(spec, body)
            with self._lock:
                return json_response(200, self._upsert_records(spec, key, records, all_or_none=all_or_none))

        response, delay = self._data_call(request, operation)
        with self._lock:
            self._collection_log.append(
                CollectionCall(response.status_code, sobject, field, _external_ids(body, field))
            )
        return response, delay

    def _upsert_records(
        self, spec: SObject, key: Field, records: list[dict[str, Any]], *, all_or_none: bool
    ) -> list[dict[str, Any]]:
        """One result per record, in order. With `all_or_none`, one failure undoes every write of the call (the
        ids it used stay used, as in Salesforce). The caller holds the lock."""
        values = [_external_id_of(record, key) for record in records]
        repeated = {value.lower() for value in values if value} - _once([value.lower() for value in values if value])
        before = (copy.deepcopy(self._records), copy.deepcopy(self._index)) if all_or_none else None
        results: list[dict[str, Any]] = []
        for record, value in zip(records, values, strict=True):
            try:
                if not value:
                    raise _ApiError(400, "MISSING_ARGUMENT", f"{key.name} not specified", [key.name])
                if value.lower() in repeated:
                    raise _ApiError(400, "DUPLICATE_VALUE", f"Duplicate external id specified: {value}", [key.name])
                record_id, created = self._upsert_values(spec, key, value, _fields_to_write(spec, key, record))
            except _MultipleMatches as matches:
                ids = ", ".join(found["Id"] for found in matches.records)
                message = f"{key.name}: more than one record found for external id field: [{ids}]"
                results.append(_failed(_ApiError(300, "DUPLICATE_EXTERNAL_ID", message, [key.name])))
            except _ApiError as error:
                results.append(_failed(error))
            else:
                results.append({"id": record_id, "success": True, "errors": [], "created": created})
        if before is not None and not all(result["success"] for result in results):
            self._records, self._index = before
            rolled_back = {
                "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                "message": "Record rolled back because not all records were valid and the request was using "
                "AllOrNone header",
                "fields": [],
            }
            results = [result if not result["success"] else _rolled_back(rolled_back) for result in results]
        return results

    @staticmethod
    def _multiple_choices(spec: SObject, version: str, records: list[dict[str, Any]]) -> Response:
        return json_response(300, [f"/services/data/v{version}/sobjects/{spec.name}/{r['Id']}" for r in records])

    # -- records -----------------------------------------------------------------------------------------------

    def _parse_fields(self, spec: SObject, data: Mapping[str, Any], *, creating: bool) -> dict[str, Any]:
        """Names and types first (as Salesforce deserializes the whole body), then each field's rules."""
        parsed: dict[Field, Any] = {}
        for name, raw in data.items():
            if name == "attributes":  # allowed in a body, as records returned by the API carry it
                continue
            field = spec.field(name)
            if field is None:
                raise _ApiError(400, "INVALID_FIELD", f"No such column '{name}' on sobject of type {spec.name}", [name])
            if not (field.createable if creating else field.updateable):
                message = (
                    f"Unable to create/update fields: {field.name}. Please check the security settings of this field."
                )
                raise _ApiError(400, "INVALID_FIELD_FOR_INSERT_UPDATE", message, [field.name])
            parsed[field] = _parse_value(field, raw)
        return {field.name: _check_value(field, value) for field, value in parsed.items()}

    def _check_writes(self, spec: SObject, values: Mapping[str, Any], *, creating: bool) -> None:
        """Required fields (the caller holds the lock), and references that must name an existing record."""
        fields = [field for field in spec.fields if field.name in values or creating]
        missing = [field.name for field in fields if field.required and values.get(field.name) is None]
        if missing:
            raise _ApiError(
                400, "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]", missing
            )
        for field in spec.fields:
            target = _SOBJECTS.get(field.reference_to.lower())  # Users are not emulated: OwnerId is only id-shaped
            value = values.get(field.name)
            if target is not None and value is not None and value not in self._records[target.name]:
                message = f"invalid cross reference id: {field.name} must be an existing {field.reference_to}"
                raise _field_error("INVALID_CROSS_REFERENCE_KEY", field, message)

    def _create(self, spec: SObject, values: dict[str, Any]) -> str:
        for field in spec.fields:  # an explicit null on a defaulted field means "use the default"
            if field.default is not None and values.get(field.name) is None:
                values[field.name] = field.default
        self._check_writes(spec, values, creating=True)
        self._check_rules(spec, values)
        return self._insert(spec, values)

    def _check_rules(self, spec: SObject, record: Mapping[str, Any]) -> None:
        """The `reject_records()` rules, on the record as the write would leave it; the caller holds the lock."""
        for rule in self._rejections:
            value = record.get(rule.field)
            if rule.sobject == spec.name and value is not None and str(value).lower() == rule.value:
                self._rejections_served += 1
                raise _ApiError(400, rule.error_code, rule.message, [rule.field])

    def _insert(self, spec: SObject, values: Mapping[str, Any]) -> str:
        """Store a new record with defaults and system fields; the caller holds the lock (and validated, or seeds)."""
        record_id = _make_id(spec.key_prefix, next(self._id_numbers))
        now = _timestamp(datetime.now(UTC))
        record: dict[str, Any] = {field.name: field.default for field in spec.fields}
        record.update(Id=record_id, IsDeleted=False, CreatedDate=now, LastModifiedDate=now, SystemModstamp=now)
        record.update(CreatedById=self.user_id, LastModifiedById=self.user_id, OwnerId=self.user_id)
        record.update({name: value for name, value in values.items() if value is not None})
        self._store(spec, record)
        return record_id

    def _update(self, spec: SObject, record: dict[str, Any], values: Mapping[str, Any]) -> None:
        self._check_writes(spec, values, creating=False)
        self._check_rules(spec, {**record, **values})
        self._index_record(spec, record, add=False)
        now = _timestamp(datetime.now(UTC))
        record.update(values, LastModifiedDate=now, SystemModstamp=now, LastModifiedById=self.user_id)
        self._store(spec, record)

    def _store(self, spec: SObject, record: dict[str, Any]) -> None:
        if spec is LEAD:
            record["Name"] = " ".join(part for part in (record.get("FirstName"), record.get("LastName")) if part)
        self._records[spec.name][record["Id"]] = record
        self._index_record(spec, record, add=True)

    def _index_record(self, spec: SObject, record: Mapping[str, Any], *, add: bool) -> None:
        """Add the record's external id values to the index, or remove them; the caller holds the lock."""
        for field in spec.fields:
            if field.external_id and record.get(field.name) is not None:
                by_value = self._index.setdefault((spec.name, field.name), {})
                ids = by_value.setdefault(str(record[field.name]).lower(), set())
                (ids.add if add else ids.discard)(record["Id"])

    def _find(self, spec: SObject, key: Field, value: str) -> list[dict[str, Any]]:
        """The records whose external id `key` is `value` (case-insensitive), oldest first; the caller holds the
        lock."""
        ids = self._index.get((spec.name, key.name), {}).get(value.lower(), set())
        return sorted((self._records[spec.name][record_id] for record_id in ids), key=lambda record: record["Id"])
