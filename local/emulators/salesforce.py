"""A local HTTPS emulator of the Salesforce REST API: exactly what the product and its tests use.

salesforce_sync (functions/common/salesforce.py, with the real simple-salesforce client) logs in with an OAuth 2.0
flow (client credentials, JWT bearer, or username-password) and upserts each batch's Leads and Tasks by external id
with sObject Collections calls; `voice-analytics forget --include-crm` finds a person's Lead and Tasks by external
id and deletes them. So this serves (`ROUTES`):

    POST   /services/oauth2/token                                            token (grant types: `_grants`)
    PATCH  /services/data/vXX.X/composite/sobjects/{SObject}/{ExternalIdField} collection upsert (API 46.0+): up to
                                                                             200 records, 200 with one result each
    PATCH  /services/data/vXX.X/sobjects/{SObject}/{ExternalIdField}/{Value}  upsert: 201 created, 200 updated
                                                                             (204 before API 46.0), 300 ambiguous
    GET    /services/data/vXX.X/sobjects/{SObject}/{ExternalIdField}/{Value}  the record, 404, or 300
    DELETE /services/data/vXX.X/sobjects/{SObject}/{Id}                      204, or 404; deleting a Lead deletes its
                                                                             Tasks (WhoId), as Salesforce deletes a
                                                                             record's activities with it

with Salesforce's answers: error bodies `[{"message", "errorCode", "fields"}]` with the status codes simple-salesforce
maps to its exceptions, 401 INVALID_SESSION_ID for an expired token, and the field rules the product must respect
(unknown and read-only fields, types, lengths, email format, numeric ranges, required fields and their defaults,
a WhoId that must name an existing Lead). A collection upsert answers 200 whenever the request is well formed, with
one result per record in request order (`{"id", "success", "errors": [{"statusCode", "message", "fields"}],
"created"}`): a record that breaks a field rule fails alone (with `allOrNone` true the others are rolled back), two
records of one request with the same external id both fail with DUPLICATE_VALUE, and an external id that matches
several stored records fails with DUPLICATE_EXTERNAL_ID. The single-record routes stay for the tests of the client
library's own calls. Nothing else: no SOQL, SOAP login or describe (the product uses none of them). A new endpoint is
one `Rule` in `ROUTES` and one `_<endpoint>` method. The grant types are methods returning an OAuth error or None, in
`_grants`: password, client_credentials (HTTP Basic or form credentials of the connected app) and JWT bearer (an RS256
assertion checked against the key pair `jwt_private_key_pem()` hands out: issuer, subject, audience and expiry).

TLS is real (a self-signed certificate, `ca_bundle`), because the client must run with certificate verification on,
as in AWS. Emulator-only conveniences: `records()`, `seed()`, `request_log`, `collection_log` (the external ids each
collection call carried in its body, and its answer), `export_state()` / `load_state()` (records kept between demo
runs), the fault switches `fail_next()` (a whole call), `reject_records()` (a validation rule: the records it names
fail, the rest of their call goes through), `delay_next()`, `expire_sessions()`, `reset_faults()`, and
`faults_served` / `rejections_served` / `delays_served` (how many switches actually answered a call or a record).
`service_time` (a `ServiceTime`: how long the org takes per data call and per record, zero unless given; the
benchmarks give it a real org's) with `service_time_served_s`.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import itertools
import secrets
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, NamedTuple

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from werkzeug.routing import BaseConverter, Map, Rule
from werkzeug.wrappers import Request, Response

from local.emulators.http import LoopbackEmulator, SelfSignedTLS, json_response
from local.emulators.salesforce_schema import (
    COLLECTION_UPSERT_SINCE,
    LEAD,
    SOBJECTS,
    TASK,
    ApiError,
    Field,
    MultipleMatches,
    SObject,
    check_value,
    collection_request,
    external_id_of,
    external_ids_in_body,
    failed_result,
    field_error,
    fields_to_write,
    json_body,
    make_id,
    not_found_error,
    occurring_once,
    parse_value,
    parser_error,
    rolled_back_result,
    timestamp_of,
    to_id18,
)

__all__ = ["LEAD", "TASK", "CollectionCall", "Field", "SObject", "SalesforceEmulator"]

JWT_BEARER_GRANT: Final = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# From API 46.0 an upsert that updates answers 200 with a body; before, 204 with none (Salesforce REST API guide).
_UPSERT_UPDATE_BODY_SINCE: Final = 46.0

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
        Rule("/services/data/v<version:version>/sobjects/<sobject>/<record_id>", methods=["DELETE"], endpoint="record"),
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


@dataclass(frozen=True)
class ServiceTime:
    """How long the emulated org takes to answer a data call: `per_call_ms` plus `per_record_ms` for each record
    the call writes or reads, spent before the call takes effect (a real org commits at the end of its work, so a
    Lead's LastModifiedDate comes after it). Zero by default (the tests); the benchmarks give it the time a real org
    takes, because a far end that answers in a millisecond never lets a queue back up, which no real org does
    (benchmarks/pipeline_bench.py says which figures and why)."""

    per_call_ms: float = 0.0
    per_record_ms: float = 0.0

    def __post_init__(self) -> None:
        if self.per_call_ms < 0 or self.per_record_ms < 0:
            raise ValueError(f"{self}: service times must be >= 0 ms")

    def seconds(self, records: int) -> float:
        return (self.per_call_ms + self.per_record_ms * max(1, records)) / 1000


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
        service_time: ServiceTime | None = None,
    ) -> None:
        super().__init__(port=port)
        self.service_time = service_time or ServiceTime()
        self._service_served_s = 0.0
        self.username, self.password, self.security_token = username, password, security_token
        self.client_id, self.client_secret = client_id, client_secret
        self._tls = SelfSignedTLS("voice-analytics local Salesforce emulator")
        self._id_numbers = itertools.count(1)
        self.org_id = make_id("00D", next(self._id_numbers))
        self.user_id = make_id("005", next(self._id_numbers))
        self._records: dict[str, dict[str, dict[str, Any]]] = {spec.name: {} for spec in SOBJECTS.values()}
        # (sObject, external id field) -> lower-cased value -> record ids: an upsert finds its record in O(1)
        # however many there are (a scan made a 10,000-session run quadratic).
        self._index: dict[tuple[str, str], dict[str, set[str]]] = {}
        self._tokens: set[str] = set()
        self._rejections: list[_Rejection] = []
        self._rejections_served = 0
        self._collection_log: list[CollectionCall] = []
        self._grants: dict[str, Callable[[Request], OAuthError | None]] = {
            "password": self._password_grant,
            "client_credentials": self._client_credentials_grant,
            JWT_BEARER_GRANT: self._jwt_bearer_grant,
        }
        self._jwt_key: Any = None

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

    def secret(self, flow: str = "password") -> dict[str, str]:
        """The Salesforce secret (the shape salesforce_sync reads from Secrets Manager) pointing at this emulator, for
        one OAuth flow: "password" (no `flow` field, as secrets written before the other flows), "client_credentials"
        or "jwt_bearer"."""
        if flow == "client_credentials":
            return {
                "flow": flow,
                "login_url": self.base_url,
                "client_id": self.client_id,
                "client_secret": self.client_secret,
            }
        if flow == "jwt_bearer":
            return {
                "flow": flow,
                "login_url": self.base_url,
                "client_id": self.client_id,
                "username": self.username,
                "private_key": self.jwt_private_key_pem(),
            }
        if flow != "password":
            raise ValueError(f"no secret for flow {flow!r}: password, client_credentials or jwt_bearer")
        return {
            "login_url": self.base_url,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "username": self.username,
            "password": self.password,
            "security_token": self.security_token,
        }

    def jwt_private_key_pem(self) -> str:
        """The private key of the connected app's certificate (made on first use): what the JWT bearer flow signs with;
        the emulator checks assertions against its public key, as Salesforce does with the uploaded certificate."""
        pem: bytes = self._jwt_private_key().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return pem.decode()

    def _jwt_private_key(self) -> Any:
        with self._lock:
            if self._jwt_key is None:
                self._jwt_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            return self._jwt_key

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
        records: dict[str, dict[str, dict[str, Any]]] = {spec.name: {} for spec in SOBJECTS.values()}
        for sobject, by_id in (state.get("records") or {}).items():
            records[self._spec_or_raise(sobject).name] = {str(key): dict(record) for key, record in by_id.items()}
        with self._lock:
            next_number = max(int(state.get("next_id_number") or 0), next(self._id_numbers))
            self._id_numbers = itertools.count(next_number)
            self._records, self._index = records, {}
            for spec in SOBJECTS.values():
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
    def service_time_served_s(self) -> float:
        """Seconds of `service_time` the data calls spent so far (the sum over calls; concurrent ones overlap)."""
        with self._lock:
            return self._service_served_s

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

    def not_found_error(self, request: Request) -> Response:
        return not_found_error().response()

    def _method_not_allowed(self, request: Request, allowed: list[str]) -> Response:
        if request.path.startswith("/services/oauth2/"):
            return json_response(405, {"error": "invalid_request", "error_description": "must use HTTP POST"})
        message = f"HTTP Method '{request.method}' not allowed. Allowed are {','.join(allowed)}"
        return ApiError(405, "METHOD_NOT_ALLOWED", message).response()

    def _internal_error(self, error: Exception) -> Response:
        return ApiError(500, "UNKNOWN_EXCEPTION", f"local Salesforce emulator error: {error!r}").response()

    @staticmethod
    def _spec_or_raise(sobject: str) -> SObject:
        spec = SOBJECTS.get(sobject.lower())
        if spec is None:
            raise ValueError(f"the emulator has no sObject {sobject!r}; it knows {[s.name for s in SOBJECTS.values()]}")
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
        refused = grant(request)
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

    def _password_grant(self, request: Request) -> OAuthError | None:
        """The username-password flow: the password field is the user's password followed by the security token."""
        form = request.form
        good_user = hmac.compare_digest(form.get("username", ""), self.username)
        good_password = hmac.compare_digest(form.get("password", ""), self.password + self.security_token)
        user_error = None if good_user and good_password else ("invalid_grant", "authentication failure")
        return self._client_check(form) or user_error

    def _client_credentials_grant(self, request: Request) -> OAuthError | None:
        """The client-credentials flow: the connected app's key and secret, as HTTP Basic (what simple-salesforce and
        salesforce_sync send) or as form fields; the token is the app's Run-As user's."""
        basic = request.authorization
        if basic is not None and basic.type == "basic":
            return self._client_check({"client_id": basic.username or "", "client_secret": basic.password or ""})
        return self._client_check(request.form)

    def _jwt_bearer_grant(self, request: Request) -> OAuthError | None:
        """The JWT bearer flow: an RS256 assertion signed with the certificate's key, issued by the connected app
        (iss = its consumer key) for the integration user (sub), to this login server (aud), not expired."""
        assertion = request.form.get("assertion", "")
        public_key = self._jwt_private_key().public_key()
        try:
            claims = jwt.decode(
                assertion,
                public_key,
                algorithms=["RS256"],
                audience=self.base_url,
                issuer=self.client_id,
                options={"require": ["exp", "iss", "sub", "aud"]},
            )
        except jwt.InvalidTokenError as error:
            return "invalid_grant", f"invalid assertion: {error}"
        if not hmac.compare_digest(str(claims.get("sub", "")), self.username):
            return "invalid_grant", "user hasn't approved this consumer"
        return None

    # -- data API ----------------------------------------------------------------------------------------------

    def _data_call(
        self, request: Request, operation: Callable[[], Response], records: int = 1
    ) -> tuple[Response, float]:
        """A data API call: an injected fault first (it changes nothing), then the session, then the org's service
        time for `records` records (`service_time`), then the operation."""
        fault, delay = self._take_switches()
        try:
            if fault is not None:
                raise ApiError(fault.status, fault.error_code, fault.message)
            scheme, _, token = request.headers.get("Authorization", "").partition(" ")
            with self._lock:
                valid = scheme.lower() in ("bearer", "oauth") and token.strip() in self._tokens
            if not valid:
                raise ApiError(401, "INVALID_SESSION_ID", "Session expired or invalid")
            service_s = self.service_time.seconds(records)
            if service_s > 0:
                self._stopped.wait(service_s)  # concurrent calls overlap: the server has a thread per connection
                with self._lock:
                    self._service_served_s += service_s
            return operation(), delay
        except ApiError as error:
            return error.response(), delay

    def _external_id(
        self, request: Request, version: str, sobject: str, field: str, value: str
    ) -> tuple[Response, float]:
        """GET or PATCH (upsert) of the record whose external id `field` is `value`."""

        def operation() -> Response:
            spec = SOBJECTS.get(sobject.lower())
            if spec is None:
                raise not_found_error()
            key = spec.field(field)
            if key is None or not key.external_id:
                raise not_found_error(f"Provided external ID field does not exist or is not accessible: {field}")
            if request.method == "GET":
                return self._get_one(spec, version, key, value)
            return self._upsert_one(spec, version, key, value, request.get_data())

        return self._data_call(request, operation)

    def _record(self, request: Request, version: str, sobject: str, record_id: str) -> tuple[Response, float]:
        """DELETE of one record by id: 204, or 404 when there is no such record (any more)."""

        def operation() -> Response:
            spec = SOBJECTS.get(sobject.lower())
            id18 = to_id18(record_id)
            if spec is None or id18 is None:
                raise not_found_error()
            with self._lock:
                record = self._records[spec.name].get(id18)
                if record is None:
                    raise not_found_error("entity is deleted or does not exist")
                self._remove(spec, record)
                if spec is LEAD:  # the Lead's activities go with it
                    for task in [t for t in self._records[TASK.name].values() if t.get("WhoId") == id18]:
                        self._remove(TASK, task)
            return Response(status=204)

        return self._data_call(request, operation)

    def _remove(self, spec: SObject, record: dict[str, Any]) -> None:
        """Forget a record and its external ids; the caller holds the lock."""
        self._index_record(spec, record, add=False)
        del self._records[spec.name][record["Id"]]

    def _get_one(self, spec: SObject, version: str, key: Field, value: str) -> Response:
        with self._lock:
            found = self._find(spec, key, value)
            if len(found) > 1:
                return self._multiple_choices(spec, version, found)
            if not found:
                raise not_found_error()
            url = f"/services/data/v{version}/sobjects/{spec.name}/{found[0]['Id']}"
            return json_response(200, {"attributes": {"type": spec.name, "url": url}, **found[0]})

    def _upsert_one(self, spec: SObject, version: str, key: Field, value: str, body: bytes) -> Response:
        """Create or update the record `key` = `value` from one JSON object, as an upsert by external id does."""
        data = json_body(body)
        if not isinstance(data, dict):
            raise parser_error(spec.name, data)
        for name in data:  # the REST guide: neither Id nor the external id field in the body
            named = spec.field(name)
            if named is not None and named.name in ("Id", key.name):
                message = f"{named.name} is given in the URL of an upsert and must not be in the request body as well"
                raise ApiError(400, "INVALID_FIELD", message, [named.name])
        with self._lock:
            try:
                record_id, created = self._upsert_values(spec, key, value, data)
            except MultipleMatches as matches:
                return self._multiple_choices(spec, version, matches.records)
        if not created and float(version) < _UPSERT_UPDATE_BODY_SINCE:
            return Response(status=204)
        result: dict[str, Any] = {"id": record_id, "success": True, "errors": []}
        if float(version) >= _UPSERT_UPDATE_BODY_SINCE:
            result["created"] = created
        return json_response(201 if created else 200, result)

    def _upsert_values(self, spec: SObject, key: Field, value: str, data: Mapping[str, Any]) -> tuple[str, bool]:
        """Create or update the record whose `key` is `value` with `data`; returns (its id, created). Raises
        MultipleMatches when several records hold that value, ApiError when a field rule refuses the write. The
        caller holds the lock."""
        found = self._find(spec, key, value)
        if len(found) > 1:
            raise MultipleMatches(found)
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
            spec = SOBJECTS.get(sobject.lower())
            if float(version) < COLLECTION_UPSERT_SINCE or spec is None:
                raise not_found_error()
            key = spec.field(field)
            if key is None or not key.external_id:
                raise not_found_error(f"Provided external ID field does not exist or is not accessible: {field}")
            all_or_none, records = collection_request(spec, body)
            with self._lock:
                return json_response(200, self._upsert_records(spec, key, records, all_or_none=all_or_none))

        external_ids = external_ids_in_body(body, field)
        response, delay = self._data_call(request, operation, records=len(external_ids))
        with self._lock:
            self._collection_log.append(CollectionCall(response.status_code, sobject, field, external_ids))
        return response, delay

    def _upsert_records(
        self, spec: SObject, key: Field, records: list[dict[str, Any]], *, all_or_none: bool
    ) -> list[dict[str, Any]]:
        """One result per record, in order. With `all_or_none`, one failure undoes every write of the call (the
        ids it used stay used, as in Salesforce). The caller holds the lock."""
        values = [external_id_of(record, key) for record in records]
        repeated = {value.lower() for value in values if value} - occurring_once(
            [value.lower() for value in values if value]
        )
        before = (copy.deepcopy(self._records), copy.deepcopy(self._index)) if all_or_none else None
        results: list[dict[str, Any]] = []
        for record, value in zip(records, values, strict=True):
            try:
                if not value:
                    raise ApiError(400, "MISSING_ARGUMENT", f"{key.name} not specified", [key.name])
                if value.lower() in repeated:
                    raise ApiError(400, "DUPLICATE_VALUE", f"Duplicate external id specified: {value}", [key.name])
                record_id, created = self._upsert_values(spec, key, value, fields_to_write(spec, key, record))
            except MultipleMatches as matches:
                ids = ", ".join(found["Id"] for found in matches.records)
                message = f"{key.name}: more than one record found for external id field: [{ids}]"
                results.append(failed_result(ApiError(300, "DUPLICATE_EXTERNAL_ID", message, [key.name])))
            except ApiError as error:
                results.append(failed_result(error))
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
            results = [result if not result["success"] else rolled_back_result(rolled_back) for result in results]
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
                raise ApiError(400, "INVALID_FIELD", f"No such column '{name}' on sobject of type {spec.name}", [name])
            if not (field.createable if creating else field.updateable):
                message = (
                    f"Unable to create/update fields: {field.name}. Please check the security settings of this field."
                )
                raise ApiError(400, "INVALID_FIELD_FOR_INSERT_UPDATE", message, [field.name])
            parsed[field] = parse_value(field, raw)
        return {field.name: check_value(field, value) for field, value in parsed.items()}

    def _check_writes(self, spec: SObject, values: Mapping[str, Any], *, creating: bool) -> None:
        """Required fields (the caller holds the lock), and references that must name an existing record."""
        fields = [field for field in spec.fields if field.name in values or creating]
        missing = [field.name for field in fields if field.required and values.get(field.name) is None]
        if missing:
            raise ApiError(
                400, "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]", missing
            )
        for field in spec.fields:
            target = SOBJECTS.get(field.reference_to.lower())  # Users are not emulated: OwnerId is only id-shaped
            value = values.get(field.name)
            if target is not None and value is not None and value not in self._records[target.name]:
                message = f"invalid cross reference id: {field.name} must be an existing {field.reference_to}"
                raise field_error("INVALID_CROSS_REFERENCE_KEY", field, message)

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
                raise ApiError(400, rule.error_code, rule.message, [rule.field])

    def _insert(self, spec: SObject, values: Mapping[str, Any]) -> str:
        """Store a new record with defaults and system fields; the caller holds the lock (and validated, or seeds)."""
        record_id = make_id(spec.key_prefix, next(self._id_numbers))
        now = timestamp_of(datetime.now(UTC))
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
        now = timestamp_of(datetime.now(UTC))
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
