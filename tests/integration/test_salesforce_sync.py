"""salesforce_sync's `sync_batch` through the real gateway (simple-salesforce) against the Salesforce emulator: a
batch's Leads upserted by lead key in one collection call and its Tasks by session id in another, linked to them;
what each session's result is when Salesforce refuses one record, or a whole call; and which refusals are retried
and which go to the DLQ."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from functions.common.events import LeadScoredDetail
from functions.common.failures import PermanentFailure, RetryableFailure
from functions.common.salesforce import SalesforceCredentials, SalesforceGateway
from functions.common.settings import SalesforceSyncSettings
from functions.salesforce_sync.logic import SyncOutcome, sync_batch
from local.emulators.salesforce import SalesforceEmulator
from tests.samples import example_record_data
from tests.unit.details import detail_for

pytestmark = pytest.mark.integration

SETTINGS = SalesforceSyncSettings()
VERSION = SETTINGS.salesforce_api_version
LEADS = f"/services/data/v{VERSION}/composite/sobjects/Lead/Voice_Lead_Key__c"
TASKS = f"/services/data/v{VERSION}/composite/sobjects/Task/Voice_Session_Id__c"


@pytest.fixture(scope="module")
def salesforce() -> Iterator[SalesforceEmulator]:
    with SalesforceEmulator() as emulator:
        yield emulator


@pytest.fixture
def gateway(salesforce: SalesforceEmulator) -> SalesforceGateway:
    salesforce.reset_faults()
    return SalesforceGateway(
        lambda: SalesforceCredentials.model_validate(salesforce.secret()),
        api_version=VERSION,
        timeout_seconds=5,
        ca_bundle=salesforce.ca_bundle,
    )


def detail(
    session_id: str, email: str, *, company: str = "Acme Legal", started_at: str | None = None
) -> LeadScoredDetail:
    """The example hot call as `session_id`, from a caller with `email` (the lead key is its hash)."""
    contact = {"name": "Dana Lee", "email": email, "company": company, "preferred_time": "tomorrow 2pm"}
    changes = {"started_at": started_at} if started_at else {}
    return detail_for(session_id=session_id, contact=contact, **changes)


def data_calls(salesforce: SalesforceEmulator, since: int) -> list[tuple[str, str, int]]:
    return [call for call in salesforce.request_log[since:] if call[1].startswith("/services/data")]


def lead_of(salesforce: SalesforceEmulator, scored: LeadScoredDetail) -> dict[str, object]:
    [lead] = [lead for lead in salesforce.records("Lead") if lead["Voice_Lead_Key__c"] == scored.lead_key]
    return lead


def tasks_of(salesforce: SalesforceEmulator, session_id: str) -> list[dict[str, object]]:
    return [task for task in salesforce.records("Task") if task["Voice_Session_Id__c"] == session_id]


def test_a_batch_is_one_lead_call_and_one_task_call_with_a_lead_and_a_task_per_session(
    salesforce: SalesforceEmulator, gateway: SalesforceGateway
) -> None:
    batch = [detail(f"batch-{index}", f"caller-{index}@example.com") for index in range(3)]
    before = len(salesforce.request_log)

    results = sync_batch(batch, gateway, SETTINGS)

    assert data_calls(salesforce, before) == [("PATCH", LEADS, 200), ("PATCH", TASKS, 200)]
    for scored in batch:
        lead = lead_of(salesforce, scored)
        [task] = tasks_of(salesforce, scored.session_id)
        assert results[scored.session_id] == SyncOutcome(
            synced=True, lead_id=str(lead["Id"]), task_id=str(task["Id"]), lead_created=True
        )
        assert (lead["Email"], lead["Voice_Lead_Score__c"], lead["Voice_Last_Session_Id__c"]) == (
            scored.contact.email if scored.contact else None,
            77,
            scored.session_id,
        )
        assert (task["WhoId"], task["Subject"]) == (lead["Id"], "Voice call: Acme Legal - grade A, score 77 (hot)")
    [lead_call, task_call] = salesforce.collection_log[-2:]
    assert lead_call.external_ids == tuple(scored.lead_key for scored in batch)
    assert task_call.external_ids == tuple(scored.session_id for scored in batch)


def test_the_same_person_calling_again_updates_the_lead_and_adds_a_task(
    salesforce: SalesforceEmulator, gateway: SalesforceGateway
) -> None:
    first = sync_batch([detail("sync-again-1", "again@example.com")], gateway, SETTINGS)["sync-again-1"]

    second = sync_batch([detail("sync-again-2", " Again@Example.com ")], gateway, SETTINGS)["sync-again-2"]

    assert isinstance(first, SyncOutcome) and isinstance(second, SyncOutcome)
    assert (first.lead_created, second.lead_created) == (True, False)
    assert second.lead_id == first.lead_id and second.task_id != first.task_id
    [lead] = [lead for lead in salesforce.records("Lead") if lead["Id"] == first.lead_id]
    assert lead["Voice_Last_Session_Id__c"] == "sync-again-2"


def test_two_calls_of_one_caller_in_a_batch_make_one_lead_record_and_the_latest_call_wins(
    salesforce: SalesforceEmulator, gateway: SalesforceGateway
) -> None:
    """Salesforce fails both records of a collection upsert that holds one external id twice: the calls of one caller
    become one Lead record, each call's fields over the older ones', so the batch still costs two calls."""
    earlier = detail("twice-early", "twice@example.com", company="Old Name", started_at="2026-11-20T09:00:00Z")
    later = detail("twice-late", "twice@example.com", company="New Name", started_at="2026-11-20T15:00:00Z")
    other = detail("twice-other", "someone-else@example.com")
    before = len(salesforce.request_log)

    results = sync_batch([later, other, earlier], gateway, SETTINGS)

    assert data_calls(salesforce, before) == [("PATCH", LEADS, 200), ("PATCH", TASKS, 200)]
    leads, tasks = salesforce.collection_log[-2:]
    assert leads.external_ids == (earlier.lead_key, other.lead_key)
    assert set(tasks.external_ids) == {"twice-early", "twice-late", "twice-other"}
    lead = lead_of(salesforce, later)
    assert (lead["Company"], lead["Voice_Last_Session_Id__c"]) == ("New Name", "twice-late")
    assert [task["WhoId"] for session in ("twice-early", "twice-late") for task in tasks_of(salesforce, session)] == [
        lead["Id"],
        lead["Id"],
    ]
    early_result, late_result = results["twice-early"], results["twice-late"]
    assert isinstance(early_result, SyncOutcome) and isinstance(late_result, SyncOutcome)
    assert (early_result.lead_created, late_result.lead_created) == (True, False)


def test_one_lead_record_for_two_calls_leaves_the_lead_two_upserts_would(
    salesforce: SalesforceEmulator, gateway: SalesforceGateway
) -> None:
    """A later call sets what it carries and keeps the rest: here it gives no first name ("Dana" alone is a last name)
    and no team size, so the older call's stay, exactly as with one upsert per call."""

    def calls(email: str) -> list[LeadScoredDetail]:
        first = detail_for(
            session_id=f"{email.split('@')[0]}-1",
            contact={"name": "Dana Lee", "email": email, "company": "Keep Co"},
            started_at="2026-11-20T09:00:00Z",
        )
        second = detail_for(
            session_id=f"{email.split('@')[0]}-2",
            contact={"name": "Dana", "email": email, "company": "Keep Co"},
            started_at="2026-11-20T10:00:00Z",
            signals={**example_record_data()["signals"], "team_size": None, "evidence": []},
        )
        return [first, second]

    together, apart = calls("together@example.com"), calls("apart@example.com")
    results = sync_batch(together, gateway, SETTINGS)
    for scored in apart:
        sync_batch([scored], gateway, SETTINGS)

    assert all(isinstance(results[scored.session_id], SyncOutcome) for scored in together)
    compared = ("FirstName", "LastName", "Company", "Email", "NumberOfEmployees", "Description")
    merged, sequential = lead_of(salesforce, together[1]), lead_of(salesforce, apart[1])
    assert (merged["FirstName"], merged["LastName"]) == ("Dana", "Dana")
    team = together[0].signals.team_size
    assert team is not None and merged["NumberOfEmployees"] == team
    # The other caller's Lead, its email and session ids renamed: field for field the same.
    renamed = {field: sequential[field] for field in compared}
    renamed = {
        field: value.replace("apart", "together") if isinstance(value, str) else value
        for field, value in renamed.items()
    }
    assert {field: merged[field] for field in compared} == renamed


def test_a_refused_lead_of_a_caller_with_two_calls_is_retried_call_by_call(
    salesforce: SalesforceEmulator, gateway: SalesforceGateway
) -> None:
    """Only the later call's company breaks a rule: the merged record is refused, then each call is upserted on its
    own, so the older call is synced and only the later one fails, with its own reason."""
    earlier = detail("split-early", "split@example.com", company="Fine Name", started_at="2026-11-20T09:00:00Z")
    later = detail("split-late", "split@example.com", company="Test Company", started_at="2026-11-20T15:00:00Z")
    other = detail("split-other", "split-other@example.com")
    salesforce.reject_records("Lead", "Company", "Test Company", message="Company: must not be a test company")
    before = len(salesforce.request_log)

    results = sync_batch([later, other, earlier], gateway, SETTINGS)

    assert data_calls(salesforce, before) == [
        ("PATCH", LEADS, 200),  # both callers; the two-call caller's record refused
        ("PATCH", LEADS, 200),  # that caller's older call
        ("PATCH", LEADS, 200),  # and its later one, refused again
        ("PATCH", TASKS, 200),
    ]
    merged, first_round, second_round, tasks = salesforce.collection_log[-4:]
    assert merged.external_ids == (earlier.lead_key, other.lead_key)
    assert (first_round.external_ids, second_round.external_ids) == ((earlier.lead_key,), (later.lead_key,))
    assert set(tasks.external_ids) == {"split-early", "split-other"}
    failure = results["split-late"]
    assert isinstance(failure, PermanentFailure) and failure.session_id == "split-late"
    assert failure.reason.startswith("Salesforce rejected session split-late: Lead upsert by Voice_Lead_Key__c refused")
    early_result = results["split-early"]
    assert isinstance(early_result, SyncOutcome) and early_result.lead_created
    assert isinstance(results["split-other"], SyncOutcome)
    assert (lead_of(salesforce, earlier)["Company"], tasks_of(salesforce, "split-late")) == ("Fine Name", [])


def test_a_passing_refusal_of_a_merged_lead_retries_every_call_of_its_caller(
    salesforce: SalesforceEmulator, gateway: SalesforceGateway
) -> None:
    earlier = detail("locked-early", "locked@example.com", started_at="2026-11-20T09:00:00Z")
    later = detail("locked-late", "locked@example.com", started_at="2026-11-20T15:00:00Z")
    salesforce.reject_records("Lead", "Voice_Last_Session_Id__c", "locked-late", "UNABLE_TO_LOCK_ROW", "row locked")
    before = len(salesforce.request_log)

    results = sync_batch([earlier, later], gateway, SETTINGS)

    assert data_calls(salesforce, before) == [("PATCH", LEADS, 200)]  # no second try now: SQS brings them back
    assert all(isinstance(results[scored.session_id], RetryableFailure) for scored in (earlier, later))
    assert [lead for lead in salesforce.records("Lead") if lead["Voice_Lead_Key__c"] == earlier.lead_key] == []


def test_a_session_given_twice_is_refused_before_any_call(
    salesforce: SalesforceEmulator, gateway: SalesforceGateway
) -> None:
    twice = detail("given-twice", "twice-given@example.com")
    before = len(salesforce.request_log)

    with pytest.raises(ValueError, match=r"^sync_batch takes each session once: a session delivered twice is synced"):
        sync_batch([twice, twice], gateway, SETTINGS)

    assert data_calls(salesforce, before) == []


def test_the_emulator_fails_both_records_of_a_repeated_external_id_as_salesforce_does(
    salesforce: SalesforceEmulator, gateway: SalesforceGateway
) -> None:
    """What the split above avoids, asked of the far end directly."""
    record = {"LastName": "Lee", "Company": "Acme", "Voice_Lead_Key__c": "f" * 64}

    answers = gateway.upsert_collection("Lead", "Voice_Lead_Key__c", [record, {**record, "Company": "Other"}])

    assert [(answer.success, [error.code for error in answer.errors]) for answer in answers] == [
        (False, ["DUPLICATE_VALUE"]),
        (False, ["DUPLICATE_VALUE"]),
    ]
    assert [lead for lead in salesforce.records("Lead") if lead["Voice_Lead_Key__c"] == "f" * 64] == []


def test_a_session_with_nothing_for_sales_makes_no_call(
    salesforce: SalesforceEmulator, gateway: SalesforceGateway
) -> None:
    before = len(salesforce.request_log)

    results = sync_batch([detail_for(signals={}, tool_calls=[], contact=None)], gateway, SETTINGS)

    assert results == {"trial-call-0001": SyncOutcome(synced=False)}
    assert data_calls(salesforce, before) == []


def test_a_lead_salesforce_refuses_fails_only_its_session_which_gets_no_task(
    salesforce: SalesforceEmulator, gateway: SalesforceGateway
) -> None:
    refused = detail("refused-lead", "refused@example.com", company="Test Company")
    accepted = [detail(f"accepted-{index}", f"accepted-{index}@example.com") for index in range(2)]
    salesforce.reject_records("Lead", "Company", "Test Company", message="Company: must not be a test company")
    before, rejected_before = len(salesforce.request_log), salesforce.rejections_served

    results = sync_batch([accepted[0], refused, accepted[1]], gateway, SETTINGS)

    failure = results["refused-lead"]
    assert isinstance(failure, PermanentFailure) and failure.session_id == "refused-lead"
    assert failure.reason == (
        "Salesforce rejected session refused-lead: Lead upsert by Voice_Lead_Key__c refused: "
        "FIELD_CUSTOM_VALIDATION_EXCEPTION: Company: must not be a test company"
    )
    assert all(isinstance(results[scored.session_id], SyncOutcome) for scored in accepted)
    assert data_calls(salesforce, before) == [("PATCH", LEADS, 200), ("PATCH", TASKS, 200)]
    assert salesforce.collection_log[-1].external_ids == ("accepted-0", "accepted-1")
    assert tasks_of(salesforce, "refused-lead") == []
    assert salesforce.rejections_served - rejected_before == 1


def test_a_refused_task_fails_its_session_and_a_locked_row_is_retried(
    salesforce: SalesforceEmulator, gateway: SalesforceGateway
) -> None:
    batch = [detail(f"task-{name}", f"task-{name}@example.com") for name in ("refused", "locked", "fine")]
    salesforce.reject_records("Task", "Voice_Session_Id__c", "task-refused", message="Subject: not allowed")
    salesforce.reject_records("Task", "Voice_Session_Id__c", "task-locked", "UNABLE_TO_LOCK_ROW", "row locked")

    results = sync_batch(batch, gateway, SETTINGS)

    refused, locked = results["task-refused"], results["task-locked"]
    assert isinstance(refused, PermanentFailure)
    assert refused.reason.endswith(
        "Task upsert by Voice_Session_Id__c refused: FIELD_CUSTOM_VALIDATION_EXCEPTION: Subject: not allowed"
    )
    assert isinstance(locked, RetryableFailure)
    assert (
        str(locked)
        == "Salesforce: Task upsert by Voice_Session_Id__c refused: UNABLE_TO_LOCK_ROW: row locked; will retry"
    )
    assert isinstance(results["task-fine"], SyncOutcome)
    assert [len(tasks_of(salesforce, scored.session_id)) for scored in batch] == [0, 0, 1]


def test_a_transient_error_of_a_whole_call_makes_every_session_of_it_retryable(
    salesforce: SalesforceEmulator, gateway: SalesforceGateway
) -> None:
    batch = [detail(f"busy-{index}", f"busy-{index}@example.com") for index in range(2)]
    salesforce.fail_next(1, 503, "SERVER_UNAVAILABLE", "try later")

    results = sync_batch(batch, gateway, SETTINGS)

    assert [str(results[scored.session_id]) for scored in batch] == [
        "Salesforce: upsert of 2 Lead record(s) by Voice_Lead_Key__c failed with HTTP 503: "
        "SERVER_UNAVAILABLE: try later; will retry"
    ] * 2
    assert all(isinstance(results[scored.session_id], RetryableFailure) for scored in batch)


def test_a_whole_call_refused_is_a_permanent_failure_of_each_session_naming_it(
    salesforce: SalesforceEmulator, gateway: SalesforceGateway
) -> None:
    batch = [detail(f"sync-400-{index}", f"refused-{index}@example.com") for index in range(2)]
    salesforce.fail_next(1, 400, "FIELD_CUSTOM_VALIDATION_EXCEPTION", "Company: not allowed")

    results = sync_batch(batch, gateway, SETTINGS)

    for scored in batch:
        failure = results[scored.session_id]
        assert isinstance(failure, PermanentFailure) and failure.session_id == scored.session_id
        assert failure.reason == (
            f"Salesforce rejected session {scored.session_id}: upsert of 2 Lead record(s) by Voice_Lead_Key__c "
            "failed with HTTP 400: FIELD_CUSTOM_VALIDATION_EXCEPTION: Company: not allowed"
        )
        assert tasks_of(salesforce, scored.session_id) == []


def test_more_than_200_sessions_take_two_calls_of_each_kind(
    salesforce: SalesforceEmulator, gateway: SalesforceGateway
) -> None:
    batch = [detail(f"many-{index:03d}", f"many-{index}@example.com") for index in range(201)]
    before = len(salesforce.collection_log)

    results = sync_batch(batch, gateway, SETTINGS)

    assert all(isinstance(result, SyncOutcome) and result.synced for result in results.values())
    calls = salesforce.collection_log[before:]
    assert [(call.sobject, len(call.external_ids)) for call in calls] == [
        ("Lead", 200),
        ("Lead", 1),
        ("Task", 200),
        ("Task", 1),
    ]


def test_an_expired_session_logs_in_again_and_repeats_the_call(
    salesforce: SalesforceEmulator, gateway: SalesforceGateway
) -> None:
    sync_batch([detail("warm", "warm@example.com")], gateway, SETTINGS)
    salesforce.expire_sessions()
    before = len(salesforce.request_log)

    results = sync_batch([detail("after-expiry", "expiry@example.com")], gateway, SETTINGS)

    assert isinstance(results["after-expiry"], SyncOutcome)
    assert [(path, status) for _, path, status in salesforce.request_log[before:]] == [
        (LEADS, 401),
        ("/services/oauth2/token", 200),
        (LEADS, 200),
        (TASKS, 200),
    ]
