"""Salesforce login by each OAuth 2.0 flow the secret may name (client credentials, JWT bearer, and the
username-password fallback), through the real gateway and simple-salesforce client against the emulator's token
endpoint; a login the far end refuses is retried, never dead-lettered; and the lookups and deletes of
`voice-analytics forget`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from functions.common.events import LeadScoredDetail
from functions.common.failures import PermanentFailure, RetryableFailure
from functions.common.salesforce import SalesforceCredentials, SalesforceGateway, jwt_assertion
from functions.common.secrets import parse_secret
from functions.common.settings import SalesforceSyncSettings
from functions.salesforce_sync.logic import SyncOutcome, sync_batch
from local.emulators.salesforce import SalesforceEmulator
from tests.unit.details import detail_for

pytestmark = pytest.mark.integration

SETTINGS = SalesforceSyncSettings()
FLOWS = ["client_credentials", "jwt_bearer", "password"]


@pytest.fixture(scope="module")
def salesforce() -> Iterator[SalesforceEmulator]:
    with SalesforceEmulator() as emulator:
        yield emulator


def gateway(salesforce: SalesforceEmulator, secret: dict[str, str]) -> SalesforceGateway:
    return SalesforceGateway(
        lambda: parse_secret(SalesforceCredentials, secret, "voice-analytics/salesforce"),
        api_version=SETTINGS.salesforce_api_version,
        timeout_seconds=5,
        ca_bundle=salesforce.ca_bundle,
    )


def detail(session_id: str) -> LeadScoredDetail:
    contact = {"name": "Dana Lee", "email": f"{session_id}@example.com", "company": "Acme Legal"}
    return detail_for(session_id=session_id, contact=contact)


def sync_session(detail: LeadScoredDetail, client: SalesforceGateway, settings: SalesforceSyncSettings) -> SyncOutcome:
    """One session synced as a batch of one; its failure raised, as the handler reports it."""
    result = sync_batch([detail], client, settings)[detail.session_id]
    if isinstance(result, PermanentFailure | RetryableFailure):
        raise result
    return result


def logins(salesforce: SalesforceEmulator, since: int) -> list[int]:
    return [status for _, path, status in salesforce.request_log[since:] if path == "/services/oauth2/token"]


@pytest.mark.parametrize("flow", FLOWS)
def test_each_flow_logs_in_once_and_syncs_the_lead_and_task(salesforce: SalesforceEmulator, flow: str) -> None:
    sid = f"auth-{flow}"
    before = len(salesforce.request_log)

    outcome = sync_session(detail(sid), gateway(salesforce, salesforce.secret(flow)), SETTINGS)

    assert outcome.synced and outcome.lead_created
    assert [task["WhoId"] for task in salesforce.records("Task") if task["Voice_Session_Id__c"] == sid] == [
        outcome.lead_id
    ]
    assert logins(salesforce, before) == [200]


@pytest.mark.parametrize(
    ("flow", "change", "error"),
    [
        ("client_credentials", {"client_secret": "rotated-away"}, "invalid_client"),
        ("client_credentials", {"client_id": "another-app"}, "invalid_client_id"),
        ("password", {"password": "wrong"}, "invalid_grant"),
        ("jwt_bearer", {"username": "someone@else.example.com"}, "invalid_grant"),
    ],
)
def test_a_refused_login_is_retried_later_and_names_the_flow_and_the_error(
    salesforce: SalesforceEmulator, flow: str, change: dict[str, str], error: str
) -> None:
    secret = {**salesforce.secret(flow), **change}
    before = len(salesforce.request_log)

    with pytest.raises(RetryableFailure) as retried:
        sync_session(detail(f"refused-{flow}-{error}"), gateway(salesforce, secret), SETTINGS)

    assert (
        f"login ({flow})" in str(retried.value) and error in str(retried.value) and "will retry" in str(retried.value)
    )
    assert logins(salesforce, before) == [400]
    assert not [call for call in salesforce.request_log[before:] if call[1].startswith("/services/data")]


def _other_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem: bytes = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return pem.decode()


def test_a_jwt_signed_with_another_key_or_expired_or_for_another_audience_is_refused(
    salesforce: SalesforceEmulator,
) -> None:
    secret = salesforce.secret("jwt_bearer")
    session = gateway(salesforce, secret)._session
    token_url = salesforce.token_url

    def grant(assertion: str) -> dict[str, str]:
        form = {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion}
        answer: dict[str, str] = session.post(token_url, data=form).json()
        return answer

    good = SalesforceCredentials.model_validate(secret)
    other_key = good.model_copy(update={"private_key": _other_key()})
    other_audience = good.model_copy(update={"audience": "https://login.salesforce.com"})

    assert "access_token" in grant(jwt_assertion(good))
    assert grant(jwt_assertion(other_key))["error"] == "invalid_grant"
    assert grant(jwt_assertion(good, now=0))["error_description"].startswith("invalid assertion: Signature has expired")
    assert grant(jwt_assertion(other_audience))["error"] == "invalid_grant"


def test_an_invalid_secret_is_retried_with_its_field_named_and_nothing_is_sent(salesforce: SalesforceEmulator) -> None:
    secret = {**salesforce.secret("client_credentials"), "login_url": "http://acme.my.salesforce.com"}
    before = len(salesforce.request_log)

    with pytest.raises(RetryableFailure) as retried:
        sync_session(detail("invalid-secret"), gateway(salesforce, secret), SETTINGS)

    message = str(retried.value)
    assert "'voice-analytics/salesforce' is invalid: field 'login_url': Value error, must be an https URL" in message
    assert salesforce.request_log[before:] == []


def test_forget_finds_a_lead_and_a_task_by_external_id_and_deleting_the_lead_deletes_its_tasks(
    salesforce: SalesforceEmulator,
) -> None:
    client = gateway(salesforce, salesforce.secret("client_credentials"))
    first, second = detail("forget-sf-1"), detail("forget-sf-2")
    second = second.model_copy(update={"lead_key": first.lead_key, "contact": first.contact})
    outcome = sync_session(first, client, SETTINGS)
    sync_session(second, client, SETTINGS)

    [lead_id] = client.find_ids("Lead", "Voice_Lead_Key__c", first.lead_key)
    [task_id] = client.find_ids("Task", "Voice_Session_Id__c", "forget-sf-1")

    assert lead_id == outcome.lead_id
    assert client.delete("Task", task_id) is True
    assert client.delete("Task", task_id) is False  # already gone
    assert client.delete("Lead", lead_id) is True
    assert client.find_ids("Lead", "Voice_Lead_Key__c", first.lead_key) == []
    assert client.find_ids("Task", "Voice_Session_Id__c", "forget-sf-2") == []  # went with its Lead
    assert [r for r in salesforce.records("Task") if r.get("WhoId") == lead_id] == []
