"""A local HTTPS emulator of the Salesforce REST API, for tests and the offline demo.

There is no network here, so the Lambda functions' real `simple-salesforce` client talks to this instead of an org.
It answers the calls that client makes with the shapes Salesforce uses: OAuth password grant and SOAP login, the
data API (versions, describe, create, read, update, delete, upsert by external id, a SOQL subset) and the error
bodies (`[{"message", "errorCode", "fields"}]`) with the status codes that simple-salesforce maps to its exception
classes. Records live in memory; the schema is the Lead and Task fields the project writes (see `LEAD`, `TASK`).

Why no web framework: the stdlib `ThreadingHTTPServer` in a daemon thread needs zero extra dependencies, the
emulator binds 127.0.0.1 only and serves a handful of routes to one test process, so a framework would add install
weight and nothing else. TLS is real (a self-signed certificate made with `cryptography` at start) because the
client code under test must be exercised with certificate verification on, exactly as in AWS.

Emulator-only conveniences, not part of the Salesforce API: `records()`, `request_log`, `seed()`,
`export_state()` / `load_state()` (records kept between runs), the fault switches `fail_next()`, `delay_next()`,
`expire_sessions()`, `reset_faults()`, and `faults_served` / `delays_served` (how many of them actually answered a
call, so a test can prove its fault fired).
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import functools
import hashlib
import hmac
import html
import ipaddress
import itertools
import json
import logging
import math
import re
import secrets
import shutil
import socket
import ssl
import tempfile
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, Final, NoReturn, cast
from urllib.parse import parse_qs, unquote, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from local.emulators.http import LoopbackEmulator, LoopbackHTTPServer

__all__ = ["LEAD", "TASK", "FieldSpec", "SObjectSpec", "SalesforceEmulator"]

_log = logging.getLogger(__name__)

DEFAULT_API_VERSION: Final = "59.0"
# Versions the emulator answers for; a URL with another version gets the 404 a real org gives.
SUPPORTED_API_VERSIONS: Final = tuple(f"{major}.0" for major in range(40, 60))
# From API 46.0 an upsert that updates answers 200 with a body; before, 204 with none (Salesforce REST API guide).
_UPSERT_UPDATE_BODY_SINCE: Final = 46.0
_DAILY_API_LIMIT: Final = 15000
# An idle keep-alive connection, or a client that stalls mid-request, is dropped after this many seconds.
_SOCKET_TIMEOUT_SECONDS: Final = 5.0
# Larger bodies are refused before reading them: nothing the project sends comes close.
_MAX_BODY_BYTES: Final = 10 * 1024 * 1024
_JSON_CONTENT_TYPE: Final = "application/json;charset=UTF-8"
_XML_CONTENT_TYPE: Final = "text/xml;charset=UTF-8"

# ---------------------------------------------------------------------------------------------------------------
# Schema
# ---------------------------------------------------------------------------------------------------------------

_TEXT_TYPES: Final = frozenset({"string", "textarea", "email", "phone", "picklist", "url"})
_ID_TYPES: Final = frozenset({"id", "reference"})
_SOAP_TYPES: Final = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "boolean": "xsd:boolean",
    "int": "xsd:int",
    "double": "xsd:double",
    "date": "xsd:date",
    "datetime": "xsd:dateTime",
}


@dataclass(frozen=True)
class FieldSpec:
    """One field as `describe` reports it, plus what the emulator needs to validate writes."""

    name: str
    type: str
    label: str
    length: int = 0
    nillable: bool = True
    createable: bool = True
    updateable: bool = True
    external_id: bool = False
    unique: bool = False
    # Salesforce's default for unique text fields: "ABC" and "abc" are the same value.
    case_sensitive: bool = False
    default: Any = None
    precision: int = 0
    scale: int = 0
    digits: int = 0
    reference_to: tuple[str, ...] = ()
    relationship_name: str | None = None
    picklist_values: tuple[str, ...] = ()
    restricted_picklist: bool = False
    calculated: bool = False
    # Set by the server (Id, audit fields): never in a request body.
    system: bool = False
    # Writable, but the server fills it in when a create leaves it out (OwnerId: the logged-in user).
    server_default: bool = False

    @property
    def required_on_create(self) -> bool:
        """Not nillable and nothing fills it in: a create without it fails with REQUIRED_FIELD_MISSING."""
        return not self.nillable and self.createable and self.default is None and not self.server_default

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "type": self.type,
            "soapType": _SOAP_TYPES.get(self.type, "xsd:string"),
            "length": self.length,
            "byteLength": self.length * 3,
            "digits": self.digits,
            "precision": self.precision,
            "scale": self.scale,
            "nillable": self.nillable,
            "unique": self.unique,
            "caseSensitive": self.case_sensitive,
            "externalId": self.external_id,
            "idLookup": self.external_id or self.name == "Id",
            "createable": self.createable,
            "updateable": self.updateable,
            "defaultedOnCreate": self.default is not None
            or self.system
            or self.server_default
            or self.type == "boolean",
            "defaultValue": self.default,
            "custom": self.name.endswith("__c"),
            "calculated": self.calculated,
            "filterable": self.type != "textarea",
            "sortable": self.type != "textarea",
            "referenceTo": list(self.reference_to),
            "relationshipName": self.relationship_name,
            "restrictedPicklist": self.restricted_picklist,
            "picklistValues": [
                {
                    "active": True,
                    "defaultValue": value == self.default,
                    "label": value,
                    "validFor": None,
                    "value": value,
                }
                for value in self.picklist_values
            ],
        }


@dataclass(frozen=True)
class SObjectSpec:
    """An sObject type: its name, id prefix and fields. Field names resolve case-insensitively, like the API."""

    name: str
    label: str
    label_plural: str
    key_prefix: str
    fields: tuple[FieldSpec, ...]
    _by_lower_name: dict[str, FieldSpec] = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_lower_name", {f.name.lower(): f for f in self.fields})

    def field(self, name: str) -> FieldSpec | None:
        return self._by_lower_name.get(name.lower())

    def urls(self, version: str) -> dict[str, str]:
        base = f"/services/data/v{version}/sobjects/{self.name}"
        return {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"}

    def summary(self, version: str) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "labelPlural": self.label_plural,
            "keyPrefix": self.key_prefix,
            "custom": False,
            "createable": True,
            "updateable": True,
            "deletable": True,
            "queryable": True,
            "searchable": True,
            "urls": self.urls(version),
        }


def _system_field(name: str, type_: str, label: str, *, length: int = 0, relationship: str | None = None) -> FieldSpec:
    """A field the server sets on every record (Id, audit fields): never writable."""
    reference_to = ("User",) if type_ == "reference" else ()
    return FieldSpec(
        name,
        type_,
        label,
        length=length,
        nillable=False,
        createable=False,
        updateable=False,
        reference_to=reference_to,
        relationship_name=relationship,
        system=True,
    )


def _system_fields() -> tuple[FieldSpec, ...]:
    """Fields every record has."""
    return (
        _system_field("Id", "id", "Record ID", length=18),
        _system_field("IsDeleted", "boolean", "Deleted"),
        _system_field("CreatedDate", "datetime", "Created Date"),
        _system_field("CreatedById", "reference", "Created By ID", length=18, relationship="CreatedBy"),
        _system_field("LastModifiedDate", "datetime", "Last Modified Date"),
        _system_field("LastModifiedById", "reference", "Last Modified By ID", length=18, relationship="LastModifiedBy"),
        _system_field("SystemModstamp", "datetime", "System Modstamp"),
        # Owner is writable in Salesforce; it defaults to the logged-in user.
        FieldSpec(
            "OwnerId",
            "reference",
            "Owner ID",
            length=18,
            nillable=False,
            reference_to=("User",),
            relationship_name="Owner",
            server_default=True,
        ),
    )


# Salesforce's standard Industry values (the picklist is unrestricted, so others are accepted too).
_INDUSTRIES: Final = tuple(
    "Agriculture|Apparel|Banking|Biotechnology|Chemicals|Communications|Construction|Consulting|"
    "Education|Electronics|Energy|Engineering|Entertainment|Environmental|Finance|Food & Beverage|"
    "Government|Healthcare|Hospitality|Insurance|Machinery|Manufacturing|Media|Not For Profit|Other|"
    "Recreation|Retail|Shipping|Technology|Telecommunications|Transportation|Utilities".split("|")
)


LEAD: Final = SObjectSpec(
    name="Lead",
    label="Lead",
    label_plural="Leads",
    key_prefix="00Q",
    fields=(
        *_system_fields(),
        # Computed from FirstName and LastName, read-only.
        FieldSpec(
            "Name",
            "string",
            "Full Name",
            length=121,
            nillable=False,
            createable=False,
            updateable=False,
            calculated=True,
            system=True,
        ),
        FieldSpec("FirstName", "string", "First Name", length=40),
        FieldSpec("LastName", "string", "Last Name", length=80, nillable=False),
        FieldSpec("Company", "string", "Company", length=255, nillable=False),
        FieldSpec("Email", "email", "Email", length=80),
        FieldSpec("Phone", "phone", "Phone", length=40),
        FieldSpec("Title", "string", "Title", length=128),
        FieldSpec(
            "LeadSource",
            "picklist",
            "Lead Source",
            length=40,
            picklist_values=("Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other"),
        ),
        FieldSpec(
            "Status",
            "picklist",
            "Status",
            length=40,
            nillable=False,
            default="Open - Not Contacted",
            picklist_values=(
                "Open - Not Contacted",
                "Working - Contacted",
                "Closed - Converted",
                "Closed - Not Converted",
            ),
        ),
        FieldSpec("Description", "textarea", "Description", length=32000),
        FieldSpec("Industry", "picklist", "Industry", length=40, picklist_values=_INDUSTRIES),
        FieldSpec("NumberOfEmployees", "int", "Employees", digits=8),
        FieldSpec("Rating", "picklist", "Rating", length=40, picklist_values=("Hot", "Warm", "Cold")),
        FieldSpec("Voice_Lead_Key__c", "string", "Voice Lead Key", length=255, external_id=True, unique=True),
        FieldSpec("Voice_Lead_Score__c", "double", "Voice Lead Score", precision=5, scale=2),
        FieldSpec("Voice_Lead_Grade__c", "string", "Voice Lead Grade", length=1),
        FieldSpec("Voice_Hot_Lead__c", "boolean", "Voice Hot Lead", nillable=False, default=False),
        FieldSpec("Voice_Last_Session_Id__c", "string", "Voice Last Session Id", length=128),
        FieldSpec("Voice_Monthly_Volume__c", "double", "Voice Monthly Volume", precision=18, scale=2),
        FieldSpec("Voice_Integrations__c", "string", "Voice Integrations", length=255),
    ),
)

TASK: Final = SObjectSpec(
    name="Task",
    label="Task",
    label_plural="Tasks",
    key_prefix="00T",
    fields=(
        *_system_fields(),
        FieldSpec("Subject", "string", "Subject", length=255, nillable=False),
        FieldSpec("Description", "textarea", "Comments", length=32000),
        FieldSpec("WhoId", "reference", "Name ID", length=18, reference_to=("Lead",), relationship_name="Who"),
        FieldSpec(
            "Status",
            "picklist",
            "Status",
            length=40,
            nillable=False,
            default="Completed",
            picklist_values=("Not Started", "In Progress", "Completed", "Waiting on someone else", "Deferred"),
        ),
        FieldSpec(
            "Priority",
            "picklist",
            "Priority",
            length=40,
            nillable=False,
            default="Normal",
            picklist_values=("High", "Normal", "Low"),
        ),
        FieldSpec("ActivityDate", "date", "Due Date Only"),
        FieldSpec("Type", "picklist", "Type", length=40, picklist_values=("Call", "Email", "Meeting", "Other")),
        FieldSpec("CallDurationInSeconds", "int", "Call Duration", digits=8),
        # As in Salesforce: set on create only, and only to one of its values.
        FieldSpec(
            "TaskSubtype",
            "picklist",
            "Task Subtype",
            length=40,
            updateable=False,
            restricted_picklist=True,
            picklist_values=("Task", "Email", "ListEmail", "Cadence", "Call", "LinkedIn"),
        ),
        FieldSpec("Voice_Session_Id__c", "string", "Voice Session Id", length=128, external_id=True, unique=True),
    ),
)

_SCHEMAS: Final = {spec.name.lower(): spec for spec in (LEAD, TASK)}

# ---------------------------------------------------------------------------------------------------------------
# Ids
# ---------------------------------------------------------------------------------------------------------------

_BASE62: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ID_SUFFIX_ALPHABET: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_ID_PATTERN: Final = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?")
# Pod and reserved characters of the emulated org; real ids carry the instance here.
_ID_POD: Final = "5e0"


def _id_suffix(id15: str) -> str:
    """The 3-character checksum that makes an 18-character id case-insensitive (Salesforce's algorithm)."""
    suffix = ""
    for chunk_start in range(0, 15, 5):
        bits = sum(1 << i for i, char in enumerate(id15[chunk_start : chunk_start + 5]) if "A" <= char <= "Z")
        suffix += _ID_SUFFIX_ALPHABET[bits]
    return suffix


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


# ---------------------------------------------------------------------------------------------------------------
# Responses and errors
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Response:
    status: int
    body: bytes = b""
    content_type: str = _JSON_CONTENT_TYPE
    headers: tuple[tuple[str, str], ...] = ()


def _json_response(status: int, payload: Any, headers: tuple[tuple[str, str], ...] = ()) -> _Response:
    return _Response(status, json.dumps(payload).encode(), _JSON_CONTENT_TYPE, headers)


class _ApiError(Exception):
    """A data API error: answered as `[{"message", "errorCode", "fields"?}]` with its status."""

    def __init__(self, status: int, error_code: str, message: str, fields: list[str] | None = None) -> None:
        super().__init__(f"{error_code}: {message}")
        self.status = status
        self.error_code = error_code
        self.message = message
        self.fields = fields

    def response(self) -> _Response:
        error: dict[str, Any] = {"message": self.message, "errorCode": self.error_code}
        if self.fields is not None:
            error["fields"] = self.fields
        return _json_response(self.status, [error])


def _not_found(message: str = "The requested resource does not exist") -> _ApiError:
    return _ApiError(404, "NOT_FOUND", message)


def _method_not_allowed(method: str, allowed: str) -> _ApiError:
    return _ApiError(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{method}' not allowed. Allowed are {allowed}")


def _parser_error(type_name: str, value: Any) -> _ApiError:
    token = {
        bool: "VALUE_TRUE" if value is True else "VALUE_FALSE",
        int: "VALUE_NUMBER_INT",
        float: "VALUE_NUMBER_FLOAT",
        str: "VALUE_STRING",
        list: "START_ARRAY",
        dict: "START_OBJECT",
    }.get(type(value), "VALUE")
    shown = json.dumps(value)[:60] if isinstance(value, list | dict) else value
    return _ApiError(
        400,
        "JSON_PARSER_ERROR",
        f"Cannot deserialize instance of {type_name} from {token} value {shown} "
        "or request may be missing a required field",
    )


def _reject_constant(name: str) -> NoReturn:
    # Python's json accepts NaN and Infinity (and json.dumps writes them); Salesforce's parser does not.
    raise ValueError(f"{name} is not valid JSON")


# ---------------------------------------------------------------------------------------------------------------
# Field validation
# ---------------------------------------------------------------------------------------------------------------

_EMAIL_PATTERN: Final = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_DATE_PATTERN: Final = re.compile(r"\d{4}-\d{2}-\d{2}")


def _parse_value(spec: SObjectSpec, fld: FieldSpec, value: Any) -> Any:
    """Deserialize one JSON value into the field's type, failing the way Salesforce's JSON parser does."""
    if value is None:
        # A checkbox cannot be null; Salesforce stores false.
        return False if fld.type == "boolean" else None
    if fld.type in _TEXT_TYPES:
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, int | float):
            text = json.dumps(value)
        elif isinstance(value, str):
            text = value
        else:
            raise _parser_error("String", value)
        # Salesforce stores an empty text value as null.
        return text or None
    if fld.type == "double":
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise _parser_error("double", value)
        try:
            number = float(value)
        except ValueError:
            raise _parser_error("double", value) from None
        if not math.isfinite(number):
            raise _parser_error("double", value)
        return number
    if fld.type == "int":
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise _parser_error("int", value)
        try:
            number = float(value)
        except ValueError:
            raise _parser_error("int", value) from None
        if not number.is_integer():
            raise _parser_error("int", value)
        return int(number)
    if fld.type == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise _parser_error("boolean", value)
    if fld.type == "date":
        if isinstance(value, str) and _DATE_PATTERN.fullmatch(value):
            try:
                return date.fromisoformat(value).isoformat()
            except ValueError:
                pass
        raise _parser_error("Date", value)
    if fld.type in _ID_TYPES:
        id18 = _to_id18(value) if isinstance(value, str) else None
        if id18 is None:
            raise _ApiError(400, "MALFORMED_ID", f"{fld.label}: id value of incorrect type: {value}", [fld.name])
        return id18
    raise AssertionError(f"{spec.name}.{fld.name}: the emulator has no parser for type {fld.type!r}")


def _check_value(fld: FieldSpec, value: Any) -> Any:
    """Field-level rules that come after parsing: length, email format, numeric range, restricted picklists."""
    if value is None:
        return None
    if fld.type in _TEXT_TYPES:
        if len(value) > fld.length:
            raise _ApiError(
                400,
                "STRING_TOO_LONG",
                f"{fld.label}: data value too large: {value[:80]} (max length={fld.length})",
                [fld.name],
            )
        if fld.type == "email" and not _EMAIL_PATTERN.fullmatch(value):
            raise _ApiError(400, "INVALID_EMAIL_ADDRESS", f"{fld.label}: invalid email address: {value}", [fld.name])
        if fld.restricted_picklist and value not in fld.picklist_values:
            raise _ApiError(
                400,
                "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                f"{fld.label}: bad value for restricted picklist field: {value}",
                [fld.name],
            )
    elif fld.type == "double":
        # Salesforce rounds half up to the field's scale and refuses more integer digits than precision - scale.
        # Range first: quantize() itself fails on numbers with more digits than the decimal context holds.
        limit = 10 ** (fld.precision - fld.scale)
        if abs(value) < limit:
            value = float(Decimal(repr(value)).quantize(Decimal(1).scaleb(-fld.scale), rounding=ROUND_HALF_UP))
        if abs(value) >= limit:
            raise _ApiError(
                400,
                "NUMBER_OUTSIDE_VALID_RANGE",
                f"{fld.label}: value outside of valid range on numeric field: {value}",
                [fld.name],
            )
    elif fld.type == "int" and abs(value) >= 10**fld.digits:
        raise _ApiError(
            400,
            "NUMBER_OUTSIDE_VALID_RANGE",
            f"{fld.label}: value outside of valid range on numeric field: {value}",
            [fld.name],
        )
    return value


# ---------------------------------------------------------------------------------------------------------------
# SOQL subset
# ---------------------------------------------------------------------------------------------------------------

_SOQL_TOKEN: Final = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^'\\]|\\.)*')
      | (?P<date>\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))?)
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<op><=|>=|!=|<>|=|<|>)
      | (?P<punct>[(),])
      | (?P<word>[A-Za-z_][A-Za-z0-9_.]*)
    )""",
    re.VERBOSE,
)
_SOQL_ESCAPES: Final = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f"}


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    pos: int

    def is_word(self, *words: str) -> bool:
        return self.kind == "word" and self.text.upper() in words


@dataclass(frozen=True)
class _Condition:
    field: FieldSpec
    op: str
    values: tuple[Any, ...]
    negate: bool = False


@dataclass(frozen=True)
class _Soql:
    sobject: SObjectSpec
    fields: tuple[FieldSpec, ...]
    conditions: tuple[_Condition, ...]
    order_by: tuple[tuple[FieldSpec, bool, bool], ...]  # field, descending, nulls first
    limit: int | None
    offset: int


def _soql_unescape(body: str) -> str:
    out: list[str] = []
    chars = iter(body)
    for char in chars:
        if char == "\\":
            escaped = next(chars, "")
            out.append(_SOQL_ESCAPES.get(escaped, escaped))
        else:
            out.append(char)
    return "".join(out)


def _like_regex(body: str) -> re.Pattern[str]:
    """SOQL LIKE: % is any run, _ is one character, \\% and \\_ are literal; case-insensitive."""
    parts: list[str] = []
    chars = iter(body)
    for char in chars:
        if char == "\\":
            escaped = next(chars, "")
            parts.append(re.escape(_SOQL_ESCAPES.get(escaped, escaped)))
        elif char == "%":
            parts.append(".*")
        elif char == "_":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


class _SoqlParser:
    """Parses `SELECT f1, f2 FROM Obj [WHERE a = 'x' AND b IN (...) ...] [ORDER BY f [DESC]] [LIMIT n] [OFFSET n]`.

    Anything outside that subset (OR, parentheses, functions, relationship fields, subqueries) is refused with
    MALFORMED_QUERY naming the emulator's limit, so a test never passes on a query the emulator silently misread.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[_Token] = []
        pos = 0
        while pos < len(text):
            match = _SOQL_TOKEN.match(text, pos)
            if match is None or match.lastgroup is None:
                if not text[pos:].strip():
                    break
                start = pos + len(text[pos:]) - len(text[pos:].lstrip())
                raise self._error("MALFORMED_QUERY", start, f"unexpected character {text[start]!r}")
            self.tokens.append(_Token(match.lastgroup, match.group(match.lastgroup), match.start(match.lastgroup)))
            pos = match.end()
        self.tokens.append(_Token("end", "", len(text)))
        self.index = 0

    def _error(self, code: str, pos: int, detail: str) -> _ApiError:
        line_start = self.text.rfind("\n", 0, pos) + 1
        line_end = self.text.find("\n", pos)
        line = self.text[line_start : line_end if line_end >= 0 else len(self.text)]
        row = self.text.count("\n", 0, pos) + 1
        column = pos - line_start
        return _ApiError(400, code, f"\n{line}\n{' ' * column}^\nERROR at Row:{row}:Column:{column + 1}\n{detail}")

    def _unsupported(self, token: _Token, what: str) -> _ApiError:
        return self._error("MALFORMED_QUERY", token.pos, f"{what} is not supported by the local Salesforce emulator")

    def _peek(self) -> _Token:
        return self.tokens[self.index]

    def _next(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def _expect_word(self, word: str) -> None:
        token = self._next()
        if not token.is_word(word):
            raise self._error(
                "MALFORMED_QUERY", token.pos, f"unexpected token: '{token.text or '<end>'}', expected {word}"
            )

    def _field_name(self) -> _Token:
        token = self._next()
        if token.kind != "word":
            raise self._error("MALFORMED_QUERY", token.pos, f"unexpected token: '{token.text or '<end>'}'")
        if self._peek().text == "(":
            raise self._unsupported(token, f"the function {token.text}()")
        if "." in token.text:
            raise self._unsupported(token, f"the relationship field {token.text}")
        return token

    def _resolve(self, spec: SObjectSpec, token: _Token) -> FieldSpec:
        fld = spec.field(token.text)
        if fld is None:
            raise self._error(
                "INVALID_FIELD",
                token.pos,
                f"No such column '{token.text}' on entity '{spec.name}'. If you are attempting to use a custom "
                "field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the "
                "describe call for the appropriate names.",
            )
        return fld

    def parse(self) -> _Soql:
        self._expect_word("SELECT")
        if self._peek().text == "(":
            raise self._unsupported(self._peek(), "a subquery")
        field_tokens = [self._field_name()]
        while self._peek().text == ",":
            self._next()
            field_tokens.append(self._field_name())
        self._expect_word("FROM")
        object_token = self._next()
        spec = _SCHEMAS.get(object_token.text.lower()) if object_token.kind == "word" else None
        if spec is None:
            raise self._error(
                "INVALID_TYPE",
                object_token.pos,
                f"sObject type '{object_token.text}' is not supported. If you are attempting to use a custom object, "
                "be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call "
                "for the appropriate names.",
            )
        fields: list[FieldSpec] = []
        for token in field_tokens:
            fld = self._resolve(spec, token)
            if fld in fields:
                raise self._error("MALFORMED_QUERY", token.pos, f"duplicate field selected: {fld.name}")
            fields.append(fld)

        conditions: list[_Condition] = []
        if self._peek().is_word("WHERE"):
            self._next()
            conditions.append(self._condition(spec))
            while self._peek().is_word("AND"):
                self._next()
                conditions.append(self._condition(spec))
            if self._peek().is_word("OR"):
                raise self._unsupported(self._peek(), "OR")

        order_by: list[tuple[FieldSpec, bool, bool]] = []
        if self._peek().is_word("ORDER"):
            self._next()
            self._expect_word("BY")
            order_by.append(self._order_item(spec))
            while self._peek().text == ",":
                self._next()
                order_by.append(self._order_item(spec))

        limit = self._count_clause("LIMIT")
        offset = self._count_clause("OFFSET") or 0
        end = self._peek()
        if end.kind != "end":
            raise self._error("MALFORMED_QUERY", end.pos, f"unexpected token: '{end.text}'")
        return _Soql(spec, tuple(fields), tuple(conditions), tuple(order_by), limit, offset)

    def _count_clause(self, word: str) -> int | None:
        if not self._peek().is_word(word):
            return None
        self._next()
        token = self._next()
        if token.kind != "number" or not token.text.isdigit():
            raise self._error("MALFORMED_QUERY", token.pos, f"{word} needs a non-negative integer, got '{token.text}'")
        return int(token.text)

    def _order_item(self, spec: SObjectSpec) -> tuple[FieldSpec, bool, bool]:
        fld = self._resolve(spec, self._field_name())
        descending = False
        if self._peek().is_word("ASC", "DESC"):
            descending = self._next().text.upper() == "DESC"
        nulls_first = not descending  # Salesforce's default: NULLS FIRST ascending, NULLS LAST descending
        if self._peek().is_word("NULLS"):
            self._next()
            token = self._next()
            if not token.is_word("FIRST", "LAST"):
                raise self._error("MALFORMED_QUERY", token.pos, "NULLS must be followed by FIRST or LAST")
            nulls_first = token.text.upper() == "FIRST"
        return fld, descending, nulls_first

    def _condition(self, spec: SObjectSpec) -> _Condition:
        if self._peek().text == "(" or self._peek().is_word("NOT"):
            raise self._unsupported(self._peek(), "a parenthesised or negated condition")
        field_token = self._field_name()
        fld = self._resolve(spec, field_token)
        if fld.type == "textarea":
            raise self._error(
                "INVALID_FIELD", field_token.pos, f"field '{fld.name}' can not be filtered in a query call"
            )
        token = self._next()
        negate = False
        if token.is_word("NOT"):
            negate = True
            token = self._next()
            if not token.is_word("IN"):
                raise self._error("MALFORMED_QUERY", token.pos, "NOT must be followed by IN")
        if token.is_word("IN"):
            opening = self._next()
            if opening.text != "(":
                raise self._error("MALFORMED_QUERY", opening.pos, "IN must be followed by a parenthesised list")
            values = [self._literal(fld)]
            while self._peek().text == ",":
                self._next()
                values.append(self._literal(fld))
            closing = self._next()
            if closing.text != ")":
                raise self._error("MALFORMED_QUERY", closing.pos, "expected ')' to close the IN list")
            return _Condition(fld, "in", tuple(values), negate)
        if token.is_word("LIKE"):
            pattern = self._next()
            if pattern.kind != "string":
                raise self._error("MALFORMED_QUERY", pattern.pos, "LIKE needs a quoted pattern")
            return _Condition(fld, "like", (_like_regex(pattern.text[1:-1]),))
        if token.kind != "op":
            raise self._error(
                "MALFORMED_QUERY", token.pos, f"unexpected token: '{token.text or '<end>'}', expected an operator"
            )
        op = "!=" if token.text == "<>" else token.text
        value = self._literal(fld)
        if value is None and op not in ("=", "!="):
            raise self._error("MALFORMED_QUERY", token.pos, f"null can only be compared with = or !=, not {op}")
        return _Condition(fld, op, (value,))

    def _literal(self, fld: FieldSpec) -> Any:
        token = self._next()
        if token.is_word("NULL"):
            return None
        if fld.type in _TEXT_TYPES or fld.type in _ID_TYPES:
            if token.kind != "string":
                raise self._type_mismatch(token, fld, "string", quoted=True)
            text = _soql_unescape(token.text[1:-1])
            return (_to_id18(text) or text) if fld.type in _ID_TYPES else text
        if token.kind == "string":
            raise self._type_mismatch(token, fld, fld.type, quoted=False)
        if fld.type in ("double", "int"):
            if token.kind != "number":
                raise self._type_mismatch(token, fld, fld.type, quoted=False)
            return float(token.text)
        if fld.type == "boolean":
            if not token.is_word("TRUE", "FALSE"):
                raise self._type_mismatch(token, fld, "boolean", quoted=False)
            return token.text.upper() == "TRUE"
        if fld.type in ("date", "datetime"):
            if token.kind != "date" or (fld.type == "date") == ("T" in token.text):
                raise self._type_mismatch(token, fld, fld.type, quoted=False)
            return token.text
        raise self._unsupported(token, f"filtering on a {fld.type} field")

    def _type_mismatch(self, token: _Token, fld: FieldSpec, type_name: str, *, quoted: bool) -> _ApiError:
        enclosed = "should be enclosed in quotes" if quoted else "should not be enclosed in quotes"
        return self._error(
            "INVALID_FIELD",
            token.pos,
            f"value of filter criterion for field '{fld.name}' must be of type {type_name} and {enclosed}",
        )


def _comparable(fld: FieldSpec, value: Any) -> Any:
    if value is None:
        return None
    if fld.type in _TEXT_TYPES:
        return str(value).lower()  # SOQL compares text case-insensitively
    if fld.type in ("double", "int"):
        return float(value)
    return value


def _sort_key(fld: FieldSpec, record: Mapping[str, Any]) -> Any:
    return _comparable(fld, record[fld.name])


def _matches(condition: _Condition, stored: Any) -> bool:
    fld = condition.field
    if condition.op == "like":
        pattern = cast(re.Pattern[str], condition.values[0])
        return stored is not None and pattern.fullmatch(str(stored)) is not None
    left = _comparable(fld, stored)
    if condition.op == "in":
        found = left is not None and left in {_comparable(fld, value) for value in condition.values}
        return found != condition.negate
    right = _comparable(fld, condition.values[0])
    if right is None or left is None:
        equal = left is right
        return equal if condition.op == "=" else not equal if condition.op == "!=" else False
    comparisons = {
        "=": left == right,
        "!=": left != right,
        "<": left < right,
        "<=": left <= right,
        ">": left > right,
        ">=": left >= right,
    }
    return bool(comparisons[condition.op])


# ---------------------------------------------------------------------------------------------------------------
# HTTP plumbing
# ---------------------------------------------------------------------------------------------------------------


class _TLSServer(LoopbackHTTPServer):
    """Does the TLS handshake in each connection's own thread.

    Wrapping the listening socket instead would run every handshake in the accept loop, so one stalled client
    would block all others.
    """

    def __init__(self, emulator: SalesforceEmulator, ssl_context: ssl.SSLContext) -> None:
        self.emulator = emulator
        self.ssl_context = ssl_context
        super().__init__(emulator.requested_port, _Handler, _SOCKET_TIMEOUT_SECONDS, "Salesforce emulator")

    def wrap(self, request: socket.socket, client_address: Any) -> socket.socket | None:
        try:
            return self.ssl_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            # Usually a client that was not given `ca_bundle` and rightly refuses the self-signed certificate.
            _log.debug("TLS handshake with %s failed: %s", client_address, exc)
            return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "SalesforceEmulator/1.0"
    timeout = _SOCKET_TIMEOUT_SECONDS

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _serve(self) -> None:
        server = cast(_TLSServer, self.server)
        emulator = server.emulator
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            # simple-salesforce always sends Content-Length; chunked bodies are not worth supporting here.
            response = _json_response(411, [{"message": "Content-Length required", "errorCode": "LENGTH_REQUIRED"}])
            emulator._log_request(self.command, self.path, response.status)
            self._write(response)
            self.close_connection = True
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > _MAX_BODY_BYTES:
            reason = f"Content-Length must be between 0 and {_MAX_BODY_BYTES} bytes"
            response = _json_response(413 if length > 0 else 400, [{"message": reason, "errorCode": "INVALID_BODY"}])
            emulator._log_request(self.command, self.path, response.status)
            self._write(response)
            self.close_connection = True
            return
        body = self.rfile.read(length)
        headers = {name.lower(): value for name, value in self.headers.items()}
        response, delay = emulator._handle(self.command, self.path, headers, body)
        if delay > 0 and emulator._wait_for_stop(delay):
            self.close_connection = True
            return  # stopped while delaying: hang up, as a server going away would
        try:
            self._write(response)
        except OSError:
            # The client gave up (a timeout provoked by delay_next): nothing left to answer.
            self.close_connection = True

    def _write(self, response: _Response) -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        if response.status != 204:
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if response.status != 204:
            self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:
        _log.debug("Salesforce emulator: " + format, *args)


# ---------------------------------------------------------------------------------------------------------------
# The emulator
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Fault:
    status: int
    error_code: str
    message: str


class SalesforceEmulator(LoopbackEmulator):
    """An in-memory Salesforce org behind HTTPS on 127.0.0.1, for the real simple-salesforce client.

    Use as a context manager (or `start()` / `stop()`). After start, `base_url` is the instance URL and
    `ca_bundle` the PEM file to trust; log in with an OAuth password grant on `token_url` (username, password +
    security_token, client_id, client_secret) or a SOAP login, then send `Authorization: Bearer <access_token>`.
    """

    api_version: str = DEFAULT_API_VERSION

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
        self.username = username
        self.password = password
        self.security_token = security_token
        self.client_id = client_id
        self.client_secret = client_secret
        self.requested_port = port

        super().__init__()
        self._lock = threading.RLock()
        self._id_numbers = itertools.count(1)
        self.org_id = _make_id("00D", next(self._id_numbers))
        self.user_id = _make_id("005", next(self._id_numbers))
        self._records: dict[str, dict[str, dict[str, Any]]] = {spec.name: {} for spec in _SCHEMAS.values()}
        # (sobject, unique or external id field) -> normalised value -> record ids: lookups by external id stay
        # O(1) however many records there are (a scan made a 10,000-session run quadratic).
        self._index: dict[tuple[str, str], dict[str, set[str]]] = {}
        self._tokens: set[str] = set()
        self._faults: deque[_Fault] = deque()
        self._delays: deque[float] = deque()
        self._request_log: list[tuple[str, str, int]] = []
        self._api_calls = 0
        self._faults_served = 0
        self._delays_served = 0

        self._tempdir: Path | None = None

    # -- lifecycle (start, stop, context manager, port: LoopbackEmulator) --------------------------------------

    def _make_server(self) -> LoopbackHTTPServer:
        """Generate the certificate and bind 127.0.0.1 with TLS."""
        self._tempdir = Path(tempfile.mkdtemp(prefix="salesforce-emulator-"))
        try:
            cert_path, key_path = self._write_certificate(self._tempdir)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            context.load_cert_chain(cert_path, key_path)
            return _TLSServer(self, context)
        except BaseException:
            # e.g. the requested port is taken: leave no certificate directory behind.
            self._release()
            raise

    def _release(self) -> None:
        """Delete the certificate files."""
        if self._tempdir is not None:
            shutil.rmtree(self._tempdir, ignore_errors=True)
            self._tempdir = None

    # -- addresses ---------------------------------------------------------------------------------------------

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
        if self._tempdir is None:
            raise RuntimeError("SalesforceEmulator is not running: the certificate is made by start()")
        return str(self._tempdir / "cert.pem")

    @property
    def soap_login_domain(self) -> str:
        """A `domain` that makes simple-salesforce's own SOAP login reach this emulator.

        simple-salesforce logs in at f"https://{domain}.salesforce.com/services/Soap/u/{version}"; with this value
        the URL becomes https://127.0.0.1:PORT/services/Soap/u/59.0?.salesforce.com/..., the tail being a
        harmless query string. So `Salesforce(username=..., password=..., security_token=..., session=...,
        domain=emulator.soap_login_domain)` logs in, and logs in again by itself after `expire_sessions()`.
        This relies on how simple-salesforce 1.12 builds the URL; it is a test convenience, not an API.
        """
        return f"127.0.0.1:{self.port}/services/Soap/u/{self.api_version}?"

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

    # -- inspection and fault switches -------------------------------------------------------------------------

    def records(self, sobject: str) -> list[dict[str, Any]]:
        """Copies of the stored records of `sobject` ("Lead" or "Task"), oldest first."""
        spec = self._spec_or_raise(sobject)
        with self._lock:
            return copy.deepcopy(list(self._records[spec.name].values()))

    @property
    def request_log(self) -> list[tuple[str, str, int]]:
        """(method, path without query string, status) of every request answered, oldest first."""
        with self._lock:
            return list(self._request_log)

    @property
    def faults_served(self) -> int:
        """Data API calls answered with a `fail_next()` fault so far (a queued fault nobody called is not counted)."""
        with self._lock:
            return self._faults_served

    @property
    def delays_served(self) -> int:
        """Data API calls whose answer a `delay_next()` held back so far."""
        with self._lock:
            return self._delays_served

    def seed(self, sobject: str, values: Mapping[str, Any]) -> str:
        """Store a record directly, skipping validation and uniqueness; returns its id.

        For states the API would refuse to create, e.g. two Leads with one Voice_Lead_Key__c so that an upsert
        answers 300. Field names must exist (a typo raises ValueError rather than being ignored).
        """
        spec = self._spec_or_raise(sobject)
        resolved: dict[str, Any] = {}
        for name, value in values.items():
            fld = spec.field(name)
            if fld is None:
                raise ValueError(f"{spec.name} has no field {name!r}")
            resolved[fld.name] = value
        with self._lock:
            return self._insert(spec, resolved)

    def export_state(self) -> dict[str, Any]:
        """The stored records and the id counter as JSON-able data, for `load_state()` in a later run.

        The demo keeps this in build/demo/state/salesforce.json, so a second run upserts onto the first run's
        records as it would onto a real org. The org and user ids are the same in every run (the counter's first
        two numbers), so the records' owner fields stay valid.
        """
        with self._lock:
            next_number = next(self._id_numbers)
            self._id_numbers = itertools.count(next_number)
            return {"version": 1, "next_id_number": next_number, "records": copy.deepcopy(self._records)}

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Replace every stored record with those of `export_state()`; ids continue after the highest one issued."""
        records: dict[str, dict[str, dict[str, Any]]] = {spec.name: {} for spec in _SCHEMAS.values()}
        for sobject, by_id in (state.get("records") or {}).items():
            spec = self._spec_or_raise(sobject)
            records[spec.name] = {str(record_id): dict(record) for record_id, record in by_id.items()}
        with self._lock:
            next_number = max(int(state.get("next_id_number") or 0), next(self._id_numbers))
            self._id_numbers = itertools.count(next_number)
            self._records = records
            self._index = {}
            for spec in _SCHEMAS.values():
                for record in records[spec.name].values():
                    self._index_record(spec, record, add=True)

    def fail_next(
        self, count: int, status: int = 503, error_code: str = "SERVER_UNAVAILABLE", message: str | None = None
    ) -> None:
        """Make the next `count` data API calls fail with `status` and `[{"errorCode", "message"}]`.

        The failed calls change nothing. E.g. fail_next(1, 403, "REQUEST_LIMIT_EXCEEDED"), fail_next(2, 500,
        "UNKNOWN_EXCEPTION"). Calls queue up behind faults already pending. Login endpoints are not affected.
        """
        if count < 0 or not 400 <= status <= 599:
            raise ValueError("fail_next needs count >= 0 and an error status between 400 and 599")
        fault = _Fault(status, error_code, message or f"{error_code} (injected by the local Salesforce emulator)")
        with self._lock:
            self._faults.extend([fault] * count)

    def delay_next(self, count: int, seconds: float) -> None:
        """Hold the response to the next `count` data API calls for `seconds`, to provoke client timeouts.

        The call is processed first and only its answer is late: the worst case for a client that times out and
        retries, because the write already happened.
        """
        if count < 0 or seconds < 0:
            raise ValueError("delay_next needs count >= 0 and seconds >= 0")
        with self._lock:
            self._delays.extend([seconds] * count)

    def expire_sessions(self) -> None:
        """Invalidate every access token issued so far: data calls answer 401 INVALID_SESSION_ID until a new login."""
        with self._lock:
            self._tokens.clear()

    def reset_faults(self) -> None:
        """Cancel pending fail_next and delay_next switches (expired sessions stay expired)."""
        with self._lock:
            self._faults.clear()
            self._delays.clear()

    # -- request handling --------------------------------------------------------------------------------------

    def _handle(self, method: str, raw_path: str, headers: Mapping[str, str], body: bytes) -> tuple[_Response, float]:
        """Answer one request; returns the response and how long to hold it. Called by the HTTP handler."""
        path = urlsplit(raw_path).path
        delay = 0.0
        try:
            if path == "/services/oauth2/token":
                response = self._oauth_token(method, body)
            elif match := re.fullmatch(r"/services/Soap/u/(\d+\.\d)/?", path):
                response = self._soap_login(method, match.group(1), body)
            elif path == "/services/data" or path.startswith("/services/data/"):
                response, delay = self._data_call(method, raw_path, headers, body)
            else:
                response = _not_found().response()
        except Exception as exc:
            # A bug in the emulator, not in the client: answer like Salesforce's own 500 and make it loud.
            _log.exception("Salesforce emulator failed on %s %s", method, path)
            response = _ApiError(500, "UNKNOWN_EXCEPTION", f"local Salesforce emulator error: {exc!r}").response()
        self._log_request(method, raw_path, response.status)
        return response, delay

    def _data_call(
        self, method: str, raw_path: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[_Response, float]:
        """A /services/data call: injected faults first, then the API; every answer carries the usage header."""
        parts = urlsplit(raw_path)
        with self._lock:
            fault = self._faults.popleft() if self._faults else None
            delay = self._delays.popleft() if self._delays else 0.0
            self._api_calls += 1
            self._faults_served += fault is not None
            self._delays_served += delay > 0
            usage = ("Sforce-Limit-Info", f"api-usage={self._api_calls}/{_DAILY_API_LIMIT}")
        try:
            if fault is not None:
                raise _ApiError(fault.status, fault.error_code, fault.message)
            response = self._data_api(method, parts.path, parts.query, headers, body)
        except _ApiError as error:
            response = error.response()
        return _Response(response.status, response.body, response.content_type, (*response.headers, usage)), delay

    def _log_request(self, method: str, raw_path: str, status: int) -> None:
        with self._lock:
            self._request_log.append((method, urlsplit(raw_path).path, status))

    # -- login -------------------------------------------------------------------------------------------------

    def _issue_token(self) -> str:
        token = f"{self.org_id[:15]}!{secrets.token_urlsafe(48)}"
        with self._lock:
            self._tokens.add(token)
        return token

    def _oauth_token(self, method: str, body: bytes) -> _Response:
        if method != "POST":
            return _json_response(405, {"error": "invalid_request", "error_description": "must use HTTP POST"})
        form = {key: values[0] for key, values in parse_qs(body.decode("utf-8", "replace")).items()}
        if form.get("grant_type") != "password":
            # The emulator implements the username-password flow only; say so rather than fake another flow.
            return _json_response(
                400, {"error": "unsupported_grant_type", "error_description": "grant type not supported"}
            )
        if not hmac.compare_digest(form.get("client_id", ""), self.client_id):
            return _json_response(400, {"error": "invalid_client_id", "error_description": "client identifier invalid"})
        if not hmac.compare_digest(form.get("client_secret", ""), self.client_secret):
            return _json_response(400, {"error": "invalid_client", "error_description": "invalid client credentials"})
        good_user = hmac.compare_digest(form.get("username", ""), self.username)
        good_password = hmac.compare_digest(form.get("password", ""), self.password + self.security_token)
        if not (good_user and good_password):
            return _json_response(400, {"error": "invalid_grant", "error_description": "authentication failure"})
        issued_at = str(int(time.time() * 1000))
        identity = f"{self.base_url}/id/{self.org_id}/{self.user_id}"
        signature = hmac.new(self.client_secret.encode(), (identity + issued_at).encode(), hashlib.sha256).digest()
        return _json_response(
            200,
            {
                "access_token": self._issue_token(),
                "instance_url": self.base_url,
                "id": identity,
                "token_type": "Bearer",
                "issued_at": issued_at,
                "signature": base64.b64encode(signature).decode(),
            },
        )

    def _soap_login(self, method: str, version: str, body: bytes) -> _Response:
        if method != "POST":
            return self._soap_fault("INVALID_LOGIN", "SOAP login must use HTTP POST")
        text = body.decode("utf-8", "replace")
        # A regex, not an XML parser: the body is simple-salesforce's fixed template, and no entity expansion
        # means no XML attack surface to think about.
        username = re.search(r"<(?:\w+:)?username>(.*?)</(?:\w+:)?username>", text, re.DOTALL)
        password = re.search(r"<(?:\w+:)?password>(.*?)</(?:\w+:)?password>", text, re.DOTALL)
        if username is None or password is None:
            return self._soap_fault("INVALID_LOGIN", "Invalid username, password, security token; or user locked out.")
        good_user = hmac.compare_digest(html.unescape(username.group(1)), self.username)
        good_password = hmac.compare_digest(html.unescape(password.group(1)), self.password + self.security_token)
        if not (good_user and good_password):
            return self._soap_fault("INVALID_LOGIN", "Invalid username, password, security token; or user locked out.")
        token = self._issue_token()
        org15 = self.org_id[:15]
        xml = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
            'xmlns="urn:partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
            "<soapenv:Body><loginResponse><result>"
            f"<metadataServerUrl>{self.base_url}/services/Soap/m/{version}/{org15}</metadataServerUrl>"
            "<passwordExpired>false</passwordExpired><sandbox>true</sandbox>"
            f"<serverUrl>{self.base_url}/services/Soap/u/{version}/{org15}</serverUrl>"
            f"<sessionId>{html.escape(token)}</sessionId>"
            f"<userId>{self.user_id}</userId>"
            "<userInfo>"
            f"<organizationId>{self.org_id}</organizationId><organizationName>Local Emulator Org</organizationName>"
            f"<userEmail>{html.escape(self.username)}</userEmail><userId>{self.user_id}</userId>"
            f"<userName>{html.escape(self.username)}</userName>"
            "</userInfo></result></loginResponse></soapenv:Body></soapenv:Envelope>"
        )
        return _Response(200, xml.encode(), _XML_CONTENT_TYPE)

    @staticmethod
    def _soap_fault(code: str, message: str) -> _Response:
        xml = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
            'xmlns:sf="urn:fault.partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
            "<soapenv:Body><soapenv:Fault>"
            f"<faultcode>sf:{code}</faultcode><faultstring>{code}: {html.escape(message)}</faultstring>"
            '<detail><sf:LoginFault xsi:type="sf:LoginFault">'
            f"<sf:exceptionCode>{code}</sf:exceptionCode><sf:exceptionMessage>{html.escape(message)}</sf:exceptionMessage>"
            "</sf:LoginFault></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>"
        )
        # SOAP faults travel with HTTP 500, as Salesforce sends them.
        return _Response(500, xml.encode(), _XML_CONTENT_TYPE)

    # -- data API routing --------------------------------------------------------------------------------------

    def _data_api(self, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes) -> _Response:
        # Split before decoding, so an external id value with an encoded "/" (%2F) stays one segment.
        segments = [unquote(segment) for segment in path.split("/")[3:] if segment]
        if not segments:
            if method != "GET":
                raise _method_not_allowed(method, "GET,HEAD")
            # The versions list needs no session, as in Salesforce.
            return _json_response(200, [self._version_entry(version) for version in SUPPORTED_API_VERSIONS])
        version_match = re.fullmatch(r"v(\d+\.\d)", segments[0])
        if version_match is None or version_match.group(1) not in SUPPORTED_API_VERSIONS:
            raise _not_found()
        version = version_match.group(1)
        self._authenticate(headers)
        rest = segments[1:]
        if not rest:
            if method != "GET":
                raise _method_not_allowed(method, "GET,HEAD")
            base = f"/services/data/v{version}"
            return _json_response(200, {name: f"{base}/{name}" for name in ("sobjects", "query", "queryAll", "limits")})
        params = {key: values[-1] for key, values in parse_qs(query, keep_blank_values=True).items()}
        if rest[0] == "sobjects":
            return self._sobjects(method, version, rest[1:], params, body)
        if rest[0] in ("query", "queryAll") and len(rest) == 1:
            if method != "GET":
                raise _method_not_allowed(method, "GET,HEAD")
            return self._query(version, params.get("q"))
        if rest[0] == "limits" and len(rest) == 1:
            remaining = max(_DAILY_API_LIMIT - self._api_calls, 0)
            return _json_response(200, {"DailyApiRequests": {"Max": _DAILY_API_LIMIT, "Remaining": remaining}})
        raise _not_found()

    @staticmethod
    def _version_entry(version: str) -> dict[str, str]:
        return {"label": f"API {version}", "url": f"/services/data/v{version}", "version": version}

    def _authenticate(self, headers: Mapping[str, str]) -> None:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        with self._lock:
            valid = scheme.lower() in ("bearer", "oauth") and token.strip() in self._tokens
        if not valid:
            raise _ApiError(401, "INVALID_SESSION_ID", "Session expired or invalid")

    def _sobjects(
        self, method: str, version: str, rest: list[str], params: Mapping[str, str], body: bytes
    ) -> _Response:
        if not rest:
            if method != "GET":
                raise _method_not_allowed(method, "GET,HEAD")
            return _json_response(
                200,
                {
                    "encoding": "UTF-8",
                    "maxBatchSize": 200,
                    "sobjects": [spec.summary(version) for spec in _SCHEMAS.values()],
                },
            )
        spec = _SCHEMAS.get(rest[0].lower())
        if spec is None:
            raise _not_found()
        if len(rest) == 1:
            if method == "GET":
                with self._lock:
                    recent = [self._attributes(spec, version, rid) for rid in list(self._records[spec.name])[-5:]]
                return _json_response(200, {"objectDescribe": spec.summary(version), "recentItems": recent})
            if method == "POST":
                return self._create(spec, body)
            raise _method_not_allowed(method, "GET,HEAD,POST")
        if len(rest) == 2:
            key = rest[1]
            if key == "describe":
                if method != "GET":
                    raise _method_not_allowed(method, "GET,HEAD")
                return _json_response(
                    200,
                    {**spec.summary(version), "fields": [fld.describe() for fld in spec.fields]},
                )
            record_id = _to_id18(key)
            if record_id is None:
                # Salesforce reads a single non-id segment as an external id field name without a value.
                raise _not_found(f"Provided external ID field does not exist or is not accessible: {key}")
            if method == "GET":
                return self._get(spec, version, record_id, params)
            if method == "PATCH":
                return self._update_by_id(spec, record_id, body)
            if method == "DELETE":
                return self._delete(spec, record_id)
            raise _method_not_allowed(method, "GET,HEAD,PATCH,DELETE")
        if len(rest) == 3:
            field_name, value = rest[1], rest[2]
            if method == "GET":
                return self._get_by_external_id(spec, version, field_name, value, params)
            if method == "PATCH":
                return self._upsert(spec, version, field_name, value, body)
            raise _method_not_allowed(method, "GET,HEAD,PATCH")
        raise _not_found()

    # -- records -----------------------------------------------------------------------------------------------

    @staticmethod
    def _spec_or_raise(sobject: str) -> SObjectSpec:
        spec = _SCHEMAS.get(sobject.lower())
        if spec is None:
            raise ValueError(
                f"the emulator has no sObject {sobject!r}; it knows {sorted(s.name for s in _SCHEMAS.values())}"
            )
        return spec

    @staticmethod
    def _attributes(spec: SObjectSpec, version: str, record_id: str) -> dict[str, Any]:
        return {"attributes": {"type": spec.name, "url": f"/services/data/v{version}/sobjects/{spec.name}/{record_id}"}}

    def _render(
        self, spec: SObjectSpec, version: str, record: Mapping[str, Any], fields: Iterable[FieldSpec]
    ) -> dict[str, Any]:
        rendered = self._attributes(spec, version, record["Id"])
        for fld in fields:
            rendered[fld.name] = record.get(fld.name)
        return rendered

    def _select_fields(self, spec: SObjectSpec, params: Mapping[str, str]) -> list[FieldSpec]:
        names = [name.strip() for name in params.get("fields", "").split(",") if name.strip()]
        if not names:
            return list(spec.fields)
        selected: list[FieldSpec] = []
        for name in names:
            fld = spec.field(name)
            if fld is None:
                raise _ApiError(400, "INVALID_FIELD", f"No such column '{name}' on entity '{spec.name}'.")
            selected.append(fld)
        return selected

    def _get(self, spec: SObjectSpec, version: str, record_id: str, params: Mapping[str, str]) -> _Response:
        fields = self._select_fields(spec, params)
        with self._lock:
            record = self._records[spec.name].get(record_id)
            if record is None:
                raise _not_found()
            return _json_response(200, self._render(spec, version, record, fields))

    def _external_field(self, spec: SObjectSpec, field_name: str) -> FieldSpec:
        fld = spec.field(field_name)
        if fld is None or not (fld.external_id or fld.name == "Id"):
            raise _not_found(f"Provided external ID field does not exist or is not accessible: {field_name}")
        return fld

    def _find(self, spec: SObjectSpec, fld: FieldSpec, value: str) -> list[dict[str, Any]]:
        if fld.name == "Id":
            record_id = _to_id18(value)
            record = self._records[spec.name].get(record_id) if record_id else None
            return [record] if record is not None else []
        wanted = value if fld.case_sensitive else value.lower()
        if fld.unique or fld.external_id:
            ids = self._index.get((spec.name, fld.name), {}).get(wanted, set())
            if len(ids) <= 1:  # the usual case; several matches (a 300 answer) are listed in creation order below
                return [self._records[spec.name][record_id] for record_id in ids]
        found = []
        for record in self._records[spec.name].values():
            stored = record.get(fld.name)
            if stored is not None and (stored if fld.case_sensitive else str(stored).lower()) == wanted:
                found.append(record)
        return found

    def _multiple_choices(self, spec: SObjectSpec, version: str, records: list[dict[str, Any]]) -> _Response:
        return _json_response(300, [f"/services/data/v{version}/sobjects/{spec.name}/{r['Id']}" for r in records])

    def _get_by_external_id(
        self, spec: SObjectSpec, version: str, field_name: str, value: str, params: Mapping[str, str]
    ) -> _Response:
        fld = self._external_field(spec, field_name)
        fields = self._select_fields(spec, params)
        with self._lock:
            found = self._find(spec, fld, value)
            if not found:
                raise _not_found()
            if len(found) > 1:
                return self._multiple_choices(spec, version, found)
            return _json_response(200, self._render(spec, version, found[0], fields))

    @staticmethod
    def _body(spec: SObjectSpec, body: bytes) -> dict[str, Any]:
        try:
            data = json.loads(body or b"null", parse_constant=_reject_constant)
        except ValueError as exc:
            raise _ApiError(400, "JSON_PARSER_ERROR", f"Unexpected character in the request body: {exc}") from None
        if not isinstance(data, dict):
            raise _parser_error(spec.name, data)
        return data

    def _parse_fields(self, spec: SObjectSpec, data: Mapping[str, Any], *, creating: bool) -> dict[str, Any]:
        """Resolve names and types first (as Salesforce deserializes), then apply field rules."""
        parsed: dict[FieldSpec, Any] = {}
        for name, raw in data.items():
            if name == "attributes":  # allowed in a body, as records returned by the API carry it
                continue
            fld = spec.field(name)
            if fld is None:
                raise _ApiError(400, "INVALID_FIELD", f"No such column '{name}' on sobject of type {spec.name}", [name])
            if not (fld.createable if creating else fld.updateable):
                raise _ApiError(
                    400,
                    "INVALID_FIELD_FOR_INSERT_UPDATE",
                    f"Unable to create/update fields: {fld.name}. Please check the security settings of this field "
                    "and verify that it is read/write for your role or profile.",
                    [fld.name],
                )
            parsed[fld] = _parse_value(spec, fld, raw)
        return {fld.name: _check_value(fld, value) for fld, value in parsed.items()}

    def _check_required(self, spec: SObjectSpec, values: Mapping[str, Any], *, creating: bool) -> None:
        if creating:
            missing = [fld.name for fld in spec.fields if fld.required_on_create and values.get(fld.name) is None]
        else:
            missing = [
                name
                for name, value in values.items()
                if value is None and not cast(FieldSpec, spec.field(name)).nillable
            ]
        if missing:
            raise _ApiError(
                400, "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]", missing
            )

    def _check_references(self, spec: SObjectSpec, values: Mapping[str, Any]) -> None:
        for name, value in values.items():
            fld = cast(FieldSpec, spec.field(name))
            if fld.type != "reference" or value is None or fld.reference_to == ("User",):
                continue  # Users are not emulated; OwnerId only has to be id-shaped
            targets = [_SCHEMAS[target.lower()] for target in fld.reference_to if target.lower() in _SCHEMAS]
            if not any(value in self._records[target.name] for target in targets):
                raise _ApiError(
                    400,
                    "INVALID_CROSS_REFERENCE_KEY",
                    f"invalid cross reference id: {fld.label} must be an existing {' or '.join(fld.reference_to)}",
                    [fld.name],
                )

    def _check_unique(self, spec: SObjectSpec, values: Mapping[str, Any], own_id: str | None) -> None:
        for name, value in values.items():
            fld = cast(FieldSpec, spec.field(name))
            if not fld.unique or value is None:
                continue
            for other in self._find(spec, fld, str(value)):
                if other["Id"] != own_id:
                    raise _ApiError(
                        400,
                        "DUPLICATE_VALUE",
                        f"duplicate value found: {fld.name} duplicates value on record with id: {other['Id']}",
                        [],
                    )

    def _insert(self, spec: SObjectSpec, values: Mapping[str, Any]) -> str:
        """Store a new record with defaults and system fields; the caller holds the lock and has validated."""
        record_id = _make_id(spec.key_prefix, next(self._id_numbers))
        now = _timestamp(datetime.now(UTC))
        record: dict[str, Any] = {fld.name: None for fld in spec.fields}
        for fld in spec.fields:
            if fld.default is not None:
                record[fld.name] = fld.default
        record.update(
            Id=record_id,
            IsDeleted=False,
            CreatedDate=now,
            LastModifiedDate=now,
            SystemModstamp=now,
            CreatedById=self.user_id,
            LastModifiedById=self.user_id,
            OwnerId=self.user_id,
        )
        # A null leaves the default (or null) in place, as an explicit null on create does in Salesforce.
        record.update({name: value for name, value in values.items() if value is not None})
        self._compute(spec, record)
        self._records[spec.name][record_id] = record
        self._index_record(spec, record, add=True)
        return record_id

    def _index_record(self, spec: SObjectSpec, record: Mapping[str, Any], *, add: bool) -> None:
        """Add the record's unique and external id values to the index, or remove them; the caller holds the lock."""
        for fld in spec.fields:
            if not (fld.unique or fld.external_id) or record.get(fld.name) is None:
                continue
            value = str(record[fld.name])
            key = value if fld.case_sensitive else value.lower()
            ids = self._index.setdefault((spec.name, fld.name), {}).setdefault(key, set())
            if add:
                ids.add(record["Id"])
            else:
                ids.discard(record["Id"])

    @staticmethod
    def _compute(spec: SObjectSpec, record: dict[str, Any]) -> None:
        if spec is LEAD:
            record["Name"] = " ".join(part for part in (record.get("FirstName"), record.get("LastName")) if part)

    def _apply_update(self, spec: SObjectSpec, record: dict[str, Any], values: Mapping[str, Any]) -> None:
        self._index_record(spec, record, add=False)
        record.update(values)
        now = _timestamp(datetime.now(UTC))
        record.update(LastModifiedDate=now, SystemModstamp=now, LastModifiedById=self.user_id)
        self._compute(spec, record)
        self._index_record(spec, record, add=True)

    def _create(self, spec: SObjectSpec, body: bytes) -> _Response:
        values = self._parse_fields(spec, self._body(spec, body), creating=True)
        with self._lock:
            self._validate_create(spec, values)
            record_id = self._insert(spec, values)
        return _json_response(201, {"id": record_id, "success": True, "errors": []})

    def _validate_create(self, spec: SObjectSpec, values: dict[str, Any]) -> None:
        for fld in spec.fields:  # an explicit null on a defaulted field means "use the default"
            if fld.default is not None and values.get(fld.name, fld.default) is None:
                values[fld.name] = fld.default
        self._check_required(spec, values, creating=True)
        self._check_references(spec, values)
        self._check_unique(spec, values, None)

    def _update_by_id(self, spec: SObjectSpec, record_id: str, body: bytes) -> _Response:
        values = self._parse_fields(spec, self._body(spec, body), creating=False)
        with self._lock:
            record = self._records[spec.name].get(record_id)
            if record is None:
                raise _not_found()
            self._validate_update(spec, values, record_id)
            self._apply_update(spec, record, values)
        return _Response(204)

    def _validate_update(self, spec: SObjectSpec, values: Mapping[str, Any], record_id: str) -> None:
        self._check_required(spec, values, creating=False)
        self._check_references(spec, values)
        self._check_unique(spec, values, record_id)

    def _delete(self, spec: SObjectSpec, record_id: str) -> _Response:
        with self._lock:
            record = self._records[spec.name].pop(record_id, None)
            if record is None:
                raise _not_found("entity is deleted")
            self._index_record(spec, record, add=False)
        return _Response(204)

    def _upsert(self, spec: SObjectSpec, version: str, field_name: str, value: str, body: bytes) -> _Response:
        fld = self._external_field(spec, field_name)
        data = self._body(spec, body)
        # The Salesforce REST guide: do not specify Id or an external ID field in the request body.
        for name in data:
            named = spec.field(name)
            if named is not None and (named.name == "Id" or named is fld):
                raise _ApiError(
                    400,
                    "INVALID_FIELD",
                    f"{named.name} is given in the URL of an upsert and must not be in the request body as well",
                    [named.name],
                )
        with self._lock:
            found = self._find(spec, fld, value)
            if len(found) > 1:
                return self._multiple_choices(spec, version, found)
            if found:
                record = found[0]
                values = self._parse_fields(spec, data, creating=False)
                self._validate_update(spec, values, record["Id"])
                self._apply_update(spec, record, values)
                if float(version) < _UPSERT_UPDATE_BODY_SINCE:
                    return _Response(204)
                return _json_response(200, {"id": record["Id"], "success": True, "errors": [], "created": False})
            if fld.name == "Id":
                raise _not_found()
            values = self._parse_fields(spec, {**data, fld.name: value}, creating=True)
            self._validate_create(spec, values)
            record_id = self._insert(spec, values)
        result: dict[str, Any] = {"id": record_id, "success": True, "errors": []}
        if float(version) >= _UPSERT_UPDATE_BODY_SINCE:
            result["created"] = True
        return _json_response(201, result)

    # -- query -------------------------------------------------------------------------------------------------

    def _query(self, version: str, soql: str | None) -> _Response:
        if not soql or not soql.strip():
            raise _ApiError(400, "MALFORMED_QUERY", "A query string has to be specified")
        query = _SoqlParser(soql).parse()
        with self._lock:
            rows = [
                record
                for record in self._records[query.sobject.name].values()
                if all(_matches(condition, record.get(condition.field.name)) for condition in query.conditions)
            ]
            for fld, descending, nulls_first in reversed(query.order_by):
                present = [row for row in rows if row.get(fld.name) is not None]
                absent = [row for row in rows if row.get(fld.name) is None]
                present.sort(key=functools.partial(_sort_key, fld), reverse=descending)
                rows = absent + present if nulls_first else present + absent
            rows = rows[query.offset :]
            if query.limit is not None:
                rows = rows[: query.limit]
            rendered = [self._render(query.sobject, version, row, query.fields) for row in rows]
        return _json_response(200, {"totalSize": len(rendered), "done": True, "records": rendered})

    # -- certificate -------------------------------------------------------------------------------------------

    @staticmethod
    def _write_certificate(directory: Path) -> tuple[Path, Path]:
        """A self-signed certificate for 127.0.0.1 and localhost; EC P-256 because it is generated in microseconds."""
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "voice-analytics local Salesforce emulator"),
            ]
        )
        now = datetime.now(UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=7))
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                ),
                critical=False,
            )
            # Its own trust anchor: a CA certificate that may sign (itself) and serve TLS.
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        cert_path = directory / "cert.pem"
        key_path = directory / "key.pem"
        cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        key_path.chmod(0o600)
        return cert_path, key_path
