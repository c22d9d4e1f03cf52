"""Salesforce REST access: OAuth 2.0 login (client credentials, JWT bearer, or the username-password flow as a
fallback) against a configurable login URL, upserts by external id in sObject Collections calls, one re-login on an
expired session, errors classified by Salesforce error code (of a whole call, or of one record in a collection call),
and the lookups and deletes `voice-analytics forget` makes."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlsplit

import requests
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator, model_validator

from functions.common.salesforce_client import Salesforce, SalesforceError, SalesforceExpiredSession
from functions.common.secrets import SecretInvalidError, https_url

# Transient by nature: back off and try again (the SQS message is redelivered).
RETRYABLE_ERROR_CODES = frozenset({"REQUEST_LIMIT_EXCEEDED", "UNABLE_TO_LOCK_ROW", "SERVER_UNAVAILABLE"})
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# How long a JWT assertion is valid: simple-salesforce's choice, well under Salesforce's 5-minute limit.
JWT_LIFETIME_SECONDS = 180
# The generic login hosts: the client-credentials flow is refused there (it needs the org's My Domain URL).
GENERIC_LOGIN_HOSTS = frozenset({"login.salesforce.com", "test.salesforce.com"})

AuthFlow = Literal["client_credentials", "jwt_bearer", "password"]
# sObject Collections: at most 200 records a call (REST API guide; the upsert needs API 46.0, see settings.py).
COLLECTION_MAX_RECORDS = 200


class SalesforceCredentials(BaseModel):
    """The Secrets Manager JSON of the Salesforce secret (docs/backend.md "Secrets").

    `flow` picks the OAuth 2.0 flow; without it, a `private_key` means jwt_bearer, a `password` the username-password
    fallback, anything else client_credentials. Each flow's fields are required, and every URL must be https (plain
    http only to a local emulator)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    flow: AuthFlow | None = None
    login_url: str = "https://login.salesforce.com"
    client_id: Annotated[str, Field(min_length=1)]
    client_secret: str | None = None
    username: str | None = None
    password: str | None = None
    security_token: str = ""
    # PEM private key of the connected app's certificate (jwt_bearer), and the JWT audience: the login URL unless set
    # (https://login.salesforce.com or https://test.salesforce.com when login_url is a My Domain URL).
    private_key: str | None = None
    audience: str | None = None

    @field_validator("login_url", "audience")
    @classmethod
    def _https(cls, value: str | None) -> str | None:
        return None if value is None else https_url(value)

    @model_validator(mode="after")
    def _fields_of_the_flow(self) -> SalesforceCredentials:
        flow = self.auth_flow
        needed = {
            "client_credentials": ("client_secret",),
            "jwt_bearer": ("username", "private_key"),
            "password": ("client_secret", "username", "password"),
        }[flow]
        missing = [name for name in needed if not getattr(self, name)]
        if missing:
            raise ValueError(f"the {flow} flow needs {', '.join(missing)} (missing or empty)")
        if flow == "jwt_bearer" and "PRIVATE KEY-----" not in str(self.private_key):
            raise ValueError("private_key must be the PEM text of the connected app's private key")
        if flow == "client_credentials" and (urlsplit(self.login_url).hostname or "") in GENERIC_LOGIN_HOSTS:
            raise ValueError(
                "the client_credentials flow needs login_url to be your My Domain URL "
                "(https://<domain>.my.salesforce.com); Salesforce refuses it on login/test.salesforce.com"
            )
        return self

    @property
    def auth_flow(self) -> AuthFlow:
        if self.flow is not None:
            return self.flow
        if self.private_key:
            return "jwt_bearer"
        if self.password:
            return "password"
        return "client_credentials"


class SalesforceCallError(Exception):
    """A failed Salesforce call; `retryable` says whether trying again later can succeed."""

    def __init__(self, message: str, *, retryable: bool, status: int | None = None, codes: tuple[str, ...] = ()):
        self.retryable = retryable
        self.status = status
        self.codes = codes
        super().__init__(message)


class RecordError(BaseModel):
    """One error of one record in a collection call's answer."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    code: str = Field(alias="statusCode")
    message: str = ""
    fields: tuple[str, ...] = ()


class UpsertResult(BaseModel):
    """One record's outcome in a collection upsert (Salesforce's UpsertResult): its id, or its errors."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    record_id: str | None = Field(default=None, alias="id")
    success: bool
    created: bool = False
    errors: tuple[RecordError, ...] = ()

    @property
    def retryable(self) -> bool:
        """A record refused for a passing reason (a locked row, a limit): the same record can succeed later."""
        return any(error.code in RETRYABLE_ERROR_CODES for error in self.errors)

    def describe(self) -> str:
        return "; ".join(f"{error.code}: {error.message}" for error in self.errors) or "no error given"


UPSERT_RESULTS = TypeAdapter(list[UpsertResult])


def error_codes(content: Any) -> tuple[str, ...]:
    """The `errorCode`s of a Salesforce error body (a list of {"errorCode", "message"} or one such dict)."""
    items = content if isinstance(content, list) else [content]
    return tuple(str(item["errorCode"]) for item in items if isinstance(item, dict) and "errorCode" in item)


def error_messages(content: Any) -> str:
    items = content if isinstance(content, list) else [content]
    messages = [f"{item.get('errorCode')}: {item.get('message')}" for item in items if isinstance(item, dict)]
    return "; ".join(messages) or str(content)[:500]


def is_retryable(status: int, codes: tuple[str, ...]) -> bool:
    """5xx, throttling/locking codes and a session rejected even after a fresh login (401) are retryable;
    other 3xx/4xx (field validation, 300 multiple matches, missing permissions) are permanent."""
    return status >= 500 or status == 401 or any(code in RETRYABLE_ERROR_CODES for code in codes)


class _TimeoutSession(requests.Session):  # type: ignore[misc]  # requests ships no type hints here
    """simple-salesforce passes no timeout to requests; this session adds one to every call."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout
        # Proxy variables from the environment must not reroute Salesforce traffic (nor the local emulator's).
        self.trust_env = False

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, url, *args, **kwargs)


def jwt_assertion(credentials: SalesforceCredentials, now: float | None = None) -> str:
    """The signed JWT of the JWT bearer flow, built as simple-salesforce builds it (iss = the connected app's
    consumer key, sub = the integration user, aud = the login server, RS256)."""
    # Imported here: PyJWT (and cryptography) stay out of the cold start when the flow is another one
    # (functions/common/salesforce_client.py).
    import jwt

    issued = time.time() if now is None else now
    payload = {
        "iss": credentials.client_id,
        "sub": credentials.username,
        "aud": (credentials.audience or credentials.login_url).rstrip("/"),
        "exp": int(issued) + JWT_LIFETIME_SECONDS,
    }
    return str(jwt.encode(payload, str(credentials.private_key), algorithm="RS256"))


def login(credentials: SalesforceCredentials, session: requests.Session) -> tuple[str, str]:
    """OAuth 2.0 token request of the secret's flow; returns (instance_url, access_token).

    Hand-written rather than simple-salesforce's own login because that one builds the token URL as
    https://{domain}.salesforce.com, while we need a configurable login_url (sandbox, My Domain, local emulator).
    """
    url = credentials.login_url.rstrip("/") + "/services/oauth2/token"
    flow = credentials.auth_flow
    auth: tuple[str, str] | None = None
    if flow == "client_credentials":
        form = {"grant_type": "client_credentials"}
        auth = (credentials.client_id, str(credentials.client_secret))  # HTTP Basic, as simple-salesforce sends it
    elif flow == "jwt_bearer":
        form = {"grant_type": JWT_BEARER_GRANT, "assertion": jwt_assertion(credentials)}
    else:
        form = {
            "grant_type": "password",
            "client_id": credentials.client_id,
            "client_secret": str(credentials.client_secret),
            "username": str(credentials.username),
            "password": str(credentials.password) + credentials.security_token,
        }
    try:
        response = session.post(url, data=form, headers={"Accept": "application/json"}, auth=auth)
    except requests.RequestException as error:
        raise SalesforceCallError(f"Salesforce login ({flow}) at {url} failed: {error}", retryable=True) from error
    if response.status_code != 200:
        # A rejected login is fixed by correcting the secret; meanwhile messages wait (and alarm) in the queue.
        raise SalesforceCallError(
            f"Salesforce login ({flow}) at {url} failed with HTTP {response.status_code}: {response.text[:300]}",
            retryable=True,
            status=response.status_code,
        )
    body = response.json()
    return str(body["instance_url"]), str(body["access_token"])


class SalesforceGateway:
    """Upserts through simple-salesforce, logged in lazily and again once when the session expires."""

    def __init__(
        self,
        credentials: Callable[[], SalesforceCredentials],
        api_version: str,
        timeout_seconds: float,
        ca_bundle: str | None = None,
    ) -> None:
        self._credentials = credentials
        self._api_version = api_version
        self._session = _TimeoutSession(timeout_seconds)
        if ca_bundle:
            self._session.verify = ca_bundle
        self._client: Salesforce | None = None
        self.collection_calls = 0  # collection calls made, whatever their answer (a re-login's repeat not counted)

    def _connect(self) -> Salesforce:
        try:
            credentials = self._credentials()
        except SecretInvalidError as error:
            raise SalesforceCallError(str(error), retryable=True) from error
        instance_url, access_token = login(credentials, self._session)
        self._client = Salesforce(
            instance_url=instance_url, session_id=access_token, version=self._api_version, session=self._session
        )
        return self._client

    def _call(self, operation: Callable[[Salesforce], Any], what: str) -> Any:
        client = self._client or self._connect()
        try:
            try:
                return operation(client)
            except SalesforceExpiredSession:
                return operation(self._connect())
        except SalesforceError as error:
            codes = error_codes(error.content)
            raise SalesforceCallError(
                f"{what} failed with HTTP {error.status}: {error_messages(error.content)}",
                retryable=is_retryable(error.status, codes),
                status=error.status,
                codes=codes,
            ) from error
        except requests.RequestException as error:
            raise SalesforceCallError(f"{what} failed: {error}", retryable=True) from error

    def upsert_collection(
        self, sobject: str, external_field: str, records: Sequence[Mapping[str, Any]]
    ) -> list[UpsertResult]:
        """Create or update each of `records` by its own `external_field` value with sObject Collections upserts
        (allOrNone false: one record's refusal leaves the others alone), at most 200 records a call; returns one
        result per record, in order. Raises SalesforceCallError when a call fails as a whole."""
        results: list[UpsertResult] = []
        for start in range(0, len(records), COLLECTION_MAX_RECORDS):
            chunk = [
                {"attributes": {"type": sobject}, **record}
                for record in records[start : start + COLLECTION_MAX_RECORDS]
            ]
            results += self._upsert_chunk(sobject, external_field, chunk)
        return results

    def _upsert_chunk(self, sobject: str, external_field: str, chunk: list[dict[str, Any]]) -> list[UpsertResult]:
        # simple-salesforce has no helper for collections: its generic `restful` call sends the documented request.
        path = f"composite/sobjects/{sobject}/{external_field}"
        body = {"allOrNone": False, "records": chunk}
        what = f"upsert of {len(chunk)} {sobject} record(s) by {external_field}"
        self.collection_calls += 1
        answer = self._call(lambda client: client.restful(path, method="PATCH", json=body), what)
        try:
            results = UPSERT_RESULTS.validate_python(answer)
        except ValidationError as error:
            raise SalesforceCallError(f"{what}: unexpected answer: {str(answer)[:300]}", retryable=True) from error
        if len(results) != len(chunk):
            raise SalesforceCallError(f"{what}: {len(results)} result(s) for {len(chunk)} record(s)", retryable=True)
        return results

    # -- for `voice-analytics forget` (voice_analytics/privacy.py) --------------------------------------------

    def find_ids(self, sobject: str, external_field: str, external_value: str) -> list[str]:
        """The ids of the `sobject` records whose `external_field` is `external_value` (none, one, or several when
        Salesforce answers 300)."""
        what = f"find {sobject} {external_field}/{external_value}"

        def operation(client: Salesforce) -> list[str]:
            api = getattr(client, sobject)
            try:
                found = api.get_by_custom_id(external_field, quote(external_value, safe=""))
            except SalesforceError as error:
                if error.status == 404:
                    return []
                if error.status == 300 and isinstance(error.content, list):
                    return [str(url).rstrip("/").rsplit("/", 1)[-1] for url in error.content]
                raise
            return [str(found["Id"])]

        result: list[str] = self._call(operation, what)
        return result

    def delete(self, sobject: str, record_id: str) -> bool:
        """Delete one record; False when it was already gone (404)."""

        def operation(client: Salesforce) -> bool:
            try:
                getattr(client, sobject).delete(record_id)
            except SalesforceError as error:
                if error.status == 404:
                    return False
                raise
            return True

        result: bool = self._call(operation, f"delete {sobject} {record_id}")
        return result
