"""Salesforce REST access: OAuth password-grant login against a configurable login URL, upserts by
external id in sObject Collections calls, one re-login on an expired session, and errors classified by Salesforce
error code (of a whole call, or of one record in a collection call)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import requests
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from functions.common.salesforce_client import Salesforce, SalesforceError, SalesforceExpiredSession

# Transient by nature: back off and try again (the SQS message is redelivered).
RETRYABLE_ERROR_CODES = frozenset({"REQUEST_LIMIT_EXCEEDED", "UNABLE_TO_LOCK_ROW", "SERVER_UNAVAILABLE"})
# sObject Collections: at most 200 records a call (REST API guide; the upsert needs API 46.0, see settings.py).
COLLECTION_MAX_RECORDS = 200


class SalesforceCredentials(BaseModel):
    """The Secrets Manager JSON of the Salesforce secret."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    login_url: str = "https://login.salesforce.com"
    client_id: str
    client_secret: str
    username: str
    password: str
    security_token: str = ""


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


def login(credentials: SalesforceCredentials, session: requests.Session) -> tuple[str, str]:
    """OAuth 2.0 username-password flow; returns (instance_url, access_token).

    Hand-written rather than simple-salesforce's own login because that one builds the login URL as
    https://{domain}.salesforce.com, while we need a configurable login_url (sandbox, My Domain, local emulator).
    """
    url = credentials.login_url.rstrip("/") + "/services/oauth2/token"
    form = {
        "grant_type": "password",
        "client_id": credentials.client_id,
        "client_secret": credentials.client_secret,
        "username": credentials.username,
        "password": credentials.password + credentials.security_token,
    }
    try:
        response = session.post(url, data=form, headers={"Accept": "application/json"})
    except requests.RequestException as error:
        raise SalesforceCallError(f"Salesforce login at {url} failed: {error}", retryable=True) from error
    if response.status_code != 200:
        # A rejected login is fixed by correcting the secret; meanwhile messages wait (and alarm) in the queue.
        raise SalesforceCallError(
            f"Salesforce login at {url} failed with HTTP {response.status_code}: {response.text[:300]}",
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
        instance_url, access_token = login(self._credentials(), self._session)
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
