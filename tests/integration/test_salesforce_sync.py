"""salesforce_sync's `sync_session` through the real gateway (simple-salesforce) against the Salesforce emulator: the
Lead upserted by the lead key, the Task by the session id and linked to it, what each outcome reports, and which
Salesforce errors are retried and which go to the DLQ."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from functions.common.events import LeadScoredDetail
from functions.common.failures import PermanentFailure, RetryableFailure
from functions.common.salesforce import SalesforceCredentials, SalesforceGateway
from functions.common.settings import SalesforceSyncSettings
from functions.salesforce_sync.logic import SyncOutcome, sync_session
from local.emulators.salesforce import SalesforceEmulator
from tests.unit.details import detail_for

pytestmark = pytest.mark.integration

SETTINGS = SalesforceSyncSettings()


@pytest.fixture(scope="module")
def salesforce() -> Iterator[SalesforceEmulator]:
    with SalesforceEmulator() as emulator:
        yield emulator


@pytest.fixture
def gateway(salesforce: SalesforceEmulator) -> SalesforceGateway:
    salesforce.reset_faults()
    return SalesforceGateway(
        lambda: SalesforceCredentials.model_validate(salesforce.secret()),
        api_version=SETTINGS.salesforce_api_version,
        timeout_seconds=5,
        ca_bundle=salesforce.ca_bundle,
    )


def detail(session_id: str, email: str) -> LeadScoredDetail:
    """The example hot call as `session_id`, from a caller with `email` (the lead key is its hash)."""
    contact = {"name": "Dana Lee", "email": email, "company": "Acme Legal", "preferred_time": "tomorrow 2pm"}
    return detail_for(session_id=session_id, contact=contact)


def data_calls(salesforce: SalesforceEmulator, since: int) -> list[tuple[str, str, int]]:
    return [call for call in salesforce.request_log[since:] if call[1].startswith("/services/data")]


def test_a_session_is_one_lead_by_its_lead_key_and_one_task_by_its_session_id(
    salesforce: SalesforceEmulator, gateway: SalesforceGateway
) -> None:
    scored = detail("sync-first", "first@example.com")
    before = len(salesforce.request_log)

    outcome = sync_session(scored, gateway, SETTINGS)

    [lead] = [lead for lead in salesforce.records("Lead") if lead["Voice_Lead_Key__c"] == scored.lead_key]
    [task] = [task for task in salesforce.records("Task") if task["Voice_Session_Id__c"] == "sync-first"]
    assert outcome == SyncOutcome(synced=True, lead_id=lead["Id"], task_id=task["Id"], lead_created=True)
    assert (lead["Email"], lead["Voice_Lead_Score__c"], lead["Voice_Last_Session_Id__c"]) == (
        "first@example.com",
        77,
        "sync-first",
    )
    assert (task["WhoId"], task["Subject"]) == (lead["Id"], "Voice call: Acme Legal - grade A, score 77 (hot)")
    version = SETTINGS.salesforce_api_version
    assert data_calls(salesforce, before) == [
        ("PATCH", f"/services/data/v{version}/sobjects/Lead/Voice_Lead_Key__c/{scored.lead_key}", 201),
        ("PATCH", f"/services/data/v{version}/sobjects/Task/Voice_Session_Id__c/sync-first", 201),
    ]


def test_the_same_person_calling_again_updates_the_lead_and_adds_a_task(
    salesforce: SalesforceEmulator, gateway: SalesforceGateway
) -> None:
    first = sync_session(detail("sync-again-1", "again@example.com"), gateway, SETTINGS)

    second = sync_session(detail("sync-again-2", " Again@Example.com "), gateway, SETTINGS)

    assert (first.lead_created, second.lead_created) == (True, False)
    assert second.lead_id == first.lead_id and second.task_id != first.task_id
    [lead] = [lead for lead in salesforce.records("Lead") if lead["Id"] == first.lead_id]
    assert lead["Voice_Last_Session_Id__c"] == "sync-again-2"


def test_a_session_with_nothing_for_sales_makes_no_call(
    salesforce: SalesforceEmulator, gateway: SalesforceGateway
) -> None:
    before = len(salesforce.request_log)

    outcome = sync_session(detail_for(signals={}, tool_calls=[], contact=None), gateway, SETTINGS)

    assert outcome == SyncOutcome(synced=False)
    assert data_calls(salesforce, before) == []


def test_a_transient_salesforce_error_is_retryable_and_says_so(
    salesforce: SalesforceEmulator, gateway: SalesforceGateway
) -> None:
    salesforce.fail_next(1, 503, "SERVER_UNAVAILABLE", "try later")

    with pytest.raises(RetryableFailure) as retry:
        sync_session(detail("sync-503", "busy@example.com"), gateway, SETTINGS)

    assert str(retry.value).startswith("Salesforce: upsert Lead Voice_Lead_Key__c/")
    assert str(retry.value).endswith("failed with HTTP 503: SERVER_UNAVAILABLE: try later; will retry")


def test_a_rejected_session_is_a_permanent_failure_naming_the_session(
    salesforce: SalesforceEmulator, gateway: SalesforceGateway
) -> None:
    salesforce.fail_next(1, 400, "FIELD_CUSTOM_VALIDATION_EXCEPTION", "Company: not allowed")

    with pytest.raises(PermanentFailure) as rejected:
        sync_session(detail("sync-400", "rejected@example.com"), gateway, SETTINGS)

    assert rejected.value.session_id == "sync-400"
    assert rejected.value.reason.startswith("Salesforce rejected session sync-400: upsert Lead Voice_Lead_Key__c/")
    assert rejected.value.reason.endswith(
        "failed with HTTP 400: FIELD_CUSTOM_VALIDATION_EXCEPTION: Company: not allowed"
    )
    assert [task for task in salesforce.records("Task") if task["Voice_Session_Id__c"] == "sync-400"] == []


def test_an_api_version_that_answers_updates_with_204_still_reports_the_lead_id(salesforce: SalesforceEmulator) -> None:
    # Before API 46.0 an upsert that updates answers 204 without a body: the gateway reads the id back by the key.
    gateway = SalesforceGateway(
        lambda: SalesforceCredentials.model_validate(salesforce.secret()),
        api_version="45.0",
        timeout_seconds=5,
        ca_bundle=salesforce.ca_bundle,
    )
    first = sync_session(detail("sync-old-api-1", "old-api@example.com"), gateway, SETTINGS)
    before = len(salesforce.request_log)

    second = sync_session(detail("sync-old-api-2", "old-api@example.com"), gateway, SETTINGS)

    assert (first.lead_created, second.lead_created, second.lead_id) == (True, False, first.lead_id)
    lead_url = f"/services/data/v45.0/sobjects/Lead/Voice_Lead_Key__c/{detail('x', 'old-api@example.com').lead_key}"
    assert data_calls(salesforce, before) == [
        ("PATCH", lead_url, 204),
        ("GET", lead_url, 200),
        ("PATCH", "/services/data/v45.0/sobjects/Task/Voice_Session_Id__c/sync-old-api-2", 201),
    ]
