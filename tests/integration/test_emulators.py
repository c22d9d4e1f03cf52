"""The local Salesforce and Amplitude emulators, driven by the real simple-salesforce and amplitude-analytics clients.

These tests pin down what the Lambda functions can rely on when they run against the emulators: the status codes
and exception classes the clients produce, and how the fault switches show up on the client side.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import amplitude.constants
import pytest
import requests
from amplitude import Amplitude, BaseEvent, Config
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceMoreThanOneRecord,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)

from local.demo.report import salesforce_time
from local.emulators.amplitude import AmplitudeEmulator
from local.emulators.salesforce import SalesforceEmulator, ServiceTime

pytestmark = pytest.mark.integration

LEAD_KEY = "3f2a9c0d5b7e41a8b6c2d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4"
NEW_LEAD = {"FirstName": "Dana", "LastName": "Lee", "Company": "Lee Legal", "Email": "dana@example.com"}
# Seconds: generous for loopback, far below the 2 s budget of a test.
WAIT = 1.5


# ---------------------------------------------------------------------------------------------------------------
# Salesforce
# ---------------------------------------------------------------------------------------------------------------


class TimeoutSession(requests.Session):
    """A session with a default timeout: SFType.create/upsert/update/get take no timeout argument of their own."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.default_timeout = timeout

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", self.default_timeout)
        return super().request(method, url, *args, **kwargs)


@pytest.fixture
def salesforce() -> Iterator[SalesforceEmulator]:
    with SalesforceEmulator() as emulator:
        yield emulator


@pytest.fixture
def http_session(salesforce: SalesforceEmulator) -> Iterator[TimeoutSession]:
    session = TimeoutSession(timeout=WAIT)
    session.verify = salesforce.ca_bundle
    # Without this, REQUESTS_CA_BUNDLE from the environment silently replaces session.verify.
    session.trust_env = False
    yield session
    session.close()


def _password_form(emulator: SalesforceEmulator, password: str | None = None) -> dict[str, str]:
    return {
        "grant_type": "password",
        "client_id": emulator.client_id,
        "client_secret": emulator.client_secret,
        "username": emulator.username,
        "password": password if password is not None else emulator.password + emulator.security_token,
    }


def password_grant(emulator: SalesforceEmulator, session: requests.Session, password: str | None = None) -> Any:
    return session.post(emulator.token_url, data=_password_form(emulator, password))


@pytest.fixture
def sf(salesforce: SalesforceEmulator, http_session: requests.Session) -> Salesforce:
    token = password_grant(salesforce, http_session).json()
    return Salesforce(instance_url=token["instance_url"], session_id=token["access_token"], session=http_session)


def error_of(raised: pytest.ExceptionInfo[SalesforceError]) -> dict[str, Any]:
    """The single error Salesforce answered with: [{"message", "errorCode", "fields"?}]."""
    content = raised.value.content
    assert isinstance(content, list) and len(content) == 1, content
    error: dict[str, Any] = dict(content[0])
    return error


def test_password_grant_returns_a_bearer_token_for_the_instance(
    salesforce: SalesforceEmulator, http_session: requests.Session
) -> None:
    response = password_grant(salesforce, http_session)

    assert response.status_code == 200
    token = response.json()
    assert token["token_type"] == "Bearer"
    assert token["instance_url"] == salesforce.base_url
    assert {"access_token", "id", "issued_at", "signature"} <= token.keys()

    refused = password_grant(salesforce, http_session, password=salesforce.password)  # security token left off
    assert refused.status_code == 400
    assert refused.json() == {"error": "invalid_grant", "error_description": "authentication failure"}
    other_flow = http_session.post(salesforce.token_url, data={**_password_form(salesforce), "grant_type": "other"})
    assert (other_flow.status_code, other_flow.json()["error"]) == (400, "unsupported_grant_type")


def test_tls_is_verified_against_the_emulator_certificate(salesforce: SalesforceEmulator) -> None:
    untrusting = requests.Session()
    untrusting.trust_env = False
    untrusting.verify = True  # the system store does not know the self-signed certificate

    with pytest.raises(requests.exceptions.SSLError):
        untrusting.get(f"{salesforce.base_url}/services/data/", timeout=WAIT)


def test_upsert_creates_then_updates_one_lead(salesforce: SalesforceEmulator, sf: Salesforce) -> None:
    created = sf.Lead.upsert(f"Voice_Lead_Key__c/{LEAD_KEY}", {**NEW_LEAD, "Voice_Lead_Score__c": 40})
    # From API 46.0 an update through upsert answers 200 with a body, not 204.
    updated = sf.Lead.upsert(
        f"Voice_Lead_Key__c/{LEAD_KEY}",
        {"Voice_Lead_Score__c": 87, "Voice_Lead_Grade__c": "A", "Voice_Hot_Lead__c": True},
    )

    assert (created, updated) == (201, 200)
    [lead] = salesforce.records("Lead")
    assert lead["Id"].startswith("00Q") and len(lead["Id"]) == 18
    assert lead["Voice_Lead_Key__c"] == LEAD_KEY
    assert lead["Company"] == "Lee Legal" and lead["Name"] == "Dana Lee"
    assert (lead["Voice_Lead_Score__c"], lead["Voice_Lead_Grade__c"], lead["Voice_Hot_Lead__c"]) == (87.0, "A", True)
    assert lead["Status"] == "Open - Not Contacted"  # the field's default


def test_upsert_update_answers_204_before_api_46(
    salesforce: SalesforceEmulator, http_session: requests.Session
) -> None:
    token = password_grant(salesforce, http_session).json()
    old_api = Salesforce(
        instance_url=salesforce.base_url, session_id=token["access_token"], session=http_session, version="45.0"
    )

    assert old_api.Lead.upsert(f"Voice_Lead_Key__c/{LEAD_KEY}", NEW_LEAD) == 201
    assert old_api.Lead.upsert(f"Voice_Lead_Key__c/{LEAD_KEY}", {"Title": "Partner"}) == 204


def test_string_too_long_names_the_field(salesforce: SalesforceEmulator, sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.Lead.upsert(f"Voice_Lead_Key__c/{LEAD_KEY}", {**NEW_LEAD, "Voice_Lead_Grade__c": "A+"})

    error = error_of(raised)
    assert error["errorCode"] == "STRING_TOO_LONG"
    assert error["fields"] == ["Voice_Lead_Grade__c"]
    assert "max length=1" in error["message"]
    assert salesforce.records("Lead") == []


@pytest.mark.parametrize("company", [None, ""], ids=["absent", "empty-string-is-null"])
def test_required_field_missing_on_create(salesforce: SalesforceEmulator, sf: Salesforce, company: str | None) -> None:
    body = {"LastName": "Lee"} if company is None else {"LastName": "Lee", "Company": company}

    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.Lead.upsert(f"Voice_Lead_Key__c/{LEAD_KEY}", body)

    error = error_of(raised)
    assert (error["errorCode"], error["fields"]) == ("REQUIRED_FIELD_MISSING", ["Company"])
    assert salesforce.records("Lead") == []


@pytest.mark.parametrize(
    ("extra", "error_code"),
    [
        ({"Voice_Lead_Sc0re__c": 1}, "INVALID_FIELD"),
        ({"Voice_Lead_Score__c": "high"}, "JSON_PARSER_ERROR"),
        ({"Voice_Lead_Score__c": 1000}, "NUMBER_OUTSIDE_VALID_RANGE"),
        ({"Email": "dana at example dot com"}, "INVALID_EMAIL_ADDRESS"),
        ({"Voice_Lead_Key__c": LEAD_KEY}, "INVALID_FIELD"),  # the key is in the URL; Salesforce refuses it twice
        ({"CreatedDate": "2026-01-01T00:00:00.000+0000"}, "INVALID_FIELD_FOR_INSERT_UPDATE"),
    ],
    ids=["unknown-field", "wrong-type", "out-of-range", "bad-email", "external-id-in-body", "read-only-field"],
)
def test_invalid_lead_values_are_refused(sf: Salesforce, extra: dict[str, Any], error_code: str) -> None:
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.Lead.upsert(f"Voice_Lead_Key__c/{LEAD_KEY}", {**NEW_LEAD, **extra})

    assert error_of(raised)["errorCode"] == error_code


def test_upsert_by_a_field_that_is_not_an_external_id_is_not_found(sf: Salesforce) -> None:
    with pytest.raises(SalesforceResourceNotFound) as raised:
        sf.Lead.upsert("Email/dana@example.com", NEW_LEAD)

    assert error_of(raised)["errorCode"] == "NOT_FOUND"


def test_an_external_id_on_several_records_answers_300(salesforce: SalesforceEmulator, sf: Salesforce) -> None:
    for _ in range(2):
        salesforce.seed("Lead", {**NEW_LEAD, "Voice_Lead_Key__c": LEAD_KEY})

    with pytest.raises(SalesforceMoreThanOneRecord) as raised:
        sf.Lead.upsert(f"Voice_Lead_Key__c/{LEAD_KEY}", {"Title": "Partner"})

    assert len(raised.value.content) == 2  # the URLs of the matching records


def test_expired_session_raises_salesforce_expired_session(
    salesforce: SalesforceEmulator, http_session: requests.Session, sf: Salesforce
) -> None:
    salesforce.expire_sessions()

    with pytest.raises(SalesforceExpiredSession) as raised:
        sf.Lead.upsert(f"Voice_Lead_Key__c/{LEAD_KEY}", NEW_LEAD)

    assert error_of(raised) == {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
    fresh = password_grant(salesforce, http_session).json()
    again = Salesforce(instance_url=fresh["instance_url"], session_id=fresh["access_token"], session=http_session)
    assert again.Lead.upsert(f"Voice_Lead_Key__c/{LEAD_KEY}", NEW_LEAD) == 201


@pytest.mark.parametrize(
    ("status", "error_code", "exception"),
    [
        (403, "REQUEST_LIMIT_EXCEEDED", SalesforceRefusedRequest),
        (500, "UNKNOWN_EXCEPTION", SalesforceGeneralError),
        (503, "SERVER_UNAVAILABLE", SalesforceGeneralError),
    ],
)
def test_fail_next_surfaces_the_error_code_and_changes_nothing(
    salesforce: SalesforceEmulator, sf: Salesforce, status: int, error_code: str, exception: type[SalesforceError]
) -> None:
    salesforce.fail_next(1, status, error_code)

    with pytest.raises(exception) as raised:
        sf.Lead.upsert(f"Voice_Lead_Key__c/{LEAD_KEY}", NEW_LEAD)

    assert raised.value.status == status
    assert error_of(raised)["errorCode"] == error_code
    assert salesforce.records("Lead") == []
    assert sf.Lead.upsert(f"Voice_Lead_Key__c/{LEAD_KEY}", NEW_LEAD) == 201  # only the next call failed
    assert (salesforce.faults_served, salesforce.delays_served) == (1, 0)


def test_delay_next_times_the_client_out_after_the_write_happened(
    salesforce: SalesforceEmulator, http_session: TimeoutSession, sf: Salesforce
) -> None:
    http_session.default_timeout = 0.2  # sf uses this session
    salesforce.delay_next(1, 0.6)

    with pytest.raises(requests.exceptions.ReadTimeout):
        sf.Lead.upsert(f"Voice_Lead_Key__c/{LEAD_KEY}", NEW_LEAD)

    assert len(salesforce.records("Lead")) == 1  # the answer was late, the write was not
    # The retry the Lambda would make is an update of the same lead, not a second lead.
    assert sf.Lead.upsert(f"Voice_Lead_Key__c/{LEAD_KEY}", NEW_LEAD) == 200
    assert len(salesforce.records("Lead")) == 1
    assert (salesforce.faults_served, salesforce.delays_served) == (0, 1)


def test_task_upsert_links_to_the_lead(salesforce: SalesforceEmulator, sf: Salesforce) -> None:
    sf.Lead.upsert(f"Voice_Lead_Key__c/{LEAD_KEY}", NEW_LEAD)
    [lead] = salesforce.records("Lead")
    task = {
        "Subject": "Voice call: pricing and integrations",
        "WhoId": lead["Id"],
        "ActivityDate": "2026-11-20",
        "CallDurationInSeconds": 312,
        "TaskSubtype": "Call",
        "Type": "Call",
    }

    assert sf.Task.upsert("Voice_Session_Id__c/trial-call-0001", task) == 201
    # TaskSubtype is create-only in Salesforce: a repeat upsert must leave it out.
    without_subtype = {key: value for key, value in task.items() if key != "TaskSubtype"}
    assert sf.Task.upsert("Voice_Session_Id__c/trial-call-0001", without_subtype) == 200

    [stored] = salesforce.records("Task")
    assert stored["Id"].startswith("00T")
    assert (stored["WhoId"], stored["Status"], stored["Priority"]) == (lead["Id"], "Completed", "Normal")
    assert (stored["Voice_Session_Id__c"], stored["TaskSubtype"], stored["CallDurationInSeconds"]) == (
        "trial-call-0001",
        "Call",
        312,
    )


def test_task_refuses_an_unknown_lead_and_a_second_subtype(salesforce: SalesforceEmulator, sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as unknown_lead:
        sf.Task.upsert("Voice_Session_Id__c/trial-call-0001", {"Subject": "Call", "WhoId": "00Q5e0000000999AAA"})
    sf.Task.upsert("Voice_Session_Id__c/trial-call-0001", {"Subject": "Call", "TaskSubtype": "Call"})
    with pytest.raises(SalesforceMalformedRequest) as repeat_subtype:
        sf.Task.upsert("Voice_Session_Id__c/trial-call-0001", {"Subject": "Call", "TaskSubtype": "Call"})

    assert error_of(unknown_lead)["errorCode"] == "INVALID_CROSS_REFERENCE_KEY"
    assert error_of(repeat_subtype)["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    assert len(salesforce.records("Task")) == 1


# -- sObject Collections ------------------------------------------------------------------------------------------

LEADS = "composite/sobjects/Lead/Voice_Lead_Key__c"


def lead_record(key: str, **fields: Any) -> dict[str, Any]:
    """A Lead of a collection upsert: typed in `attributes`, holding its external id."""
    return {"attributes": {"type": "Lead"}, **NEW_LEAD, "Voice_Lead_Key__c": key, **fields}


def upsert_leads(sf: Salesforce, records: list[dict[str, Any]], all_or_none: bool = False) -> Any:
    return sf.restful(LEADS, method="PATCH", json={"allOrNone": all_or_none, "records": records})


def leads_by_key(salesforce: SalesforceEmulator) -> dict[str, dict[str, Any]]:
    return {lead["Voice_Lead_Key__c"]: lead for lead in salesforce.records("Lead")}


def test_collection_upsert_answers_one_result_per_record_in_order(
    salesforce: SalesforceEmulator, sf: Salesforce
) -> None:
    created = upsert_leads(sf, [lead_record("key-a"), lead_record("key-b", Company="B Corp")])
    only_title = {"attributes": {"type": "Lead"}, "Voice_Lead_Key__c": "KEY-B", "Title": "Partner"}
    updated = upsert_leads(sf, [only_title, lead_record("key-c")])

    stored = leads_by_key(salesforce)
    assert created == [
        {"id": stored["key-a"]["Id"], "success": True, "errors": [], "created": True},
        {"id": stored["key-b"]["Id"], "success": True, "errors": [], "created": True},
    ]
    assert updated == [
        {"id": stored["key-b"]["Id"], "success": True, "errors": [], "created": False},
        {"id": stored["key-c"]["Id"], "success": True, "errors": [], "created": True},
    ]
    assert (stored["key-b"]["Company"], stored["key-b"]["Title"]) == ("B Corp", "Partner")
    assert [(call.status, call.sobject, call.field, call.external_ids) for call in salesforce.collection_log] == [
        (200, "Lead", "Voice_Lead_Key__c", ("key-a", "key-b")),
        (200, "Lead", "Voice_Lead_Key__c", ("KEY-B", "key-c")),
    ]


def test_collection_upsert_fails_only_the_records_that_break_a_rule(
    salesforce: SalesforceEmulator, sf: Salesforce
) -> None:
    salesforce.seed("Lead", {"LastName": "One", "Company": "A", "Voice_Lead_Key__c": "twice"})
    salesforce.seed("Lead", {"LastName": "Two", "Company": "B", "Voice_Lead_Key__c": "twice"})
    records = [
        lead_record("bad-email", Email="not an address"),
        lead_record("fine"),
        lead_record("repeated"),
        lead_record("repeated", Company="Other"),
        {"attributes": {"type": "Lead"}, **NEW_LEAD},
        lead_record("with-id", Id="00Q5e0000000001AAA"),
        lead_record("twice"),
        lead_record("no-company", Company=None),
    ]

    results = upsert_leads(sf, records)

    failures = [(result["success"], [(e["statusCode"], e["fields"]) for e in result["errors"]]) for result in results]
    assert failures == [
        (False, [("INVALID_EMAIL_ADDRESS", ["Email"])]),
        (True, []),
        (False, [("DUPLICATE_VALUE", ["Voice_Lead_Key__c"])]),
        (False, [("DUPLICATE_VALUE", ["Voice_Lead_Key__c"])]),
        (False, [("MISSING_ARGUMENT", ["Voice_Lead_Key__c"])]),
        (False, [("INVALID_FIELD", ["Id"])]),
        (False, [("DUPLICATE_EXTERNAL_ID", ["Voice_Lead_Key__c"])]),
        (False, [("REQUIRED_FIELD_MISSING", ["Company"])]),
    ]
    assert all(result["id"] is None for result in results if not result["success"])
    assert results[2]["errors"][0]["message"] == "Duplicate external id specified: repeated"
    assert sorted(leads_by_key(salesforce)) == ["fine", "twice"]


def test_collection_upsert_with_all_or_none_rolls_back_every_record(
    salesforce: SalesforceEmulator, sf: Salesforce
) -> None:
    upsert_leads(sf, [lead_record("kept", Title="Before")])

    results = upsert_leads(
        sf, [lead_record("kept", Title="After"), lead_record("new"), lead_record("bad", Email="x")], True
    )

    assert [result["errors"][0]["statusCode"] for result in results] == [
        "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        "INVALID_EMAIL_ADDRESS",
    ]
    assert [(key, lead["Title"]) for key, lead in leads_by_key(salesforce).items()] == [("kept", "Before")]


def test_a_malformed_collection_request_is_refused_as_a_whole(salesforce: SalesforceEmulator, sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as too_many:
        upsert_leads(sf, [lead_record(f"key-{index}") for index in range(201)])
    with pytest.raises(SalesforceMalformedRequest) as untyped:
        upsert_leads(sf, [{**NEW_LEAD, "Voice_Lead_Key__c": "untyped"}])
    with pytest.raises(SalesforceMalformedRequest) as other_type:
        upsert_leads(sf, [{**lead_record("task"), "attributes": {"type": "Task"}}])
    with pytest.raises(SalesforceMalformedRequest) as no_list:
        sf.restful(LEADS, method="PATCH", json={"allOrNone": False})
    with pytest.raises(SalesforceResourceNotFound):
        sf.restful("composite/sobjects/Lead/Email", method="PATCH", json={"records": [lead_record("x")]})
    old_api = Salesforce(instance_url=salesforce.base_url, session_id=sf.session_id, session=sf.session, version="45.0")
    with pytest.raises(SalesforceResourceNotFound):
        upsert_leads(old_api, [lead_record("old")])

    assert error_of(too_many) == {
        "errorCode": "EXCEEDED_ID_LIMIT",
        "message": "record limit reached. cannot submit more than 200 records into this call",
    }
    assert error_of(untyped) == {"errorCode": "INVALID_TYPE", "message": "Must send a concrete entity type."}
    assert error_of(other_type)["errorCode"] == "INVALID_TYPE"
    assert error_of(no_list)["errorCode"] == "JSON_PARSER_ERROR"
    assert salesforce.records("Lead") == []
    assert [call.status for call in salesforce.collection_log] == [400, 400, 400, 400, 404, 404]
    assert len(salesforce.collection_log[0].external_ids) == 201 and salesforce.collection_log[3].external_ids == ()


def test_the_service_time_passes_before_a_call_takes_effect_and_concurrent_calls_overlap() -> None:
    # 100 ms per call + 100 ms per record: a collection of 2 takes 0.3 s, and the Leads are written after it.
    service = ServiceTime(per_call_ms=100, per_record_ms=100)
    with SalesforceEmulator(service_time=service) as emulator:
        sessions = []
        for _ in range(2):
            session = TimeoutSession(timeout=5)
            session.verify, session.trust_env = emulator.ca_bundle, False
            token = password_grant(emulator, session).json()
            sessions.append(
                Salesforce(instance_url=token["instance_url"], session_id=token["access_token"], session=session)
            )
        assert emulator.service_time_served_s == 0  # logging in is not a data call
        sent = time.time()
        with ThreadPoolExecutor(2) as pool:
            answers = list(
                pool.map(
                    lambda pair: upsert_leads(pair[0], [lead_record(f"{pair[1]}-1"), lead_record(f"{pair[1]}-2")]),
                    [(sessions[0], "a"), (sessions[1], "b")],
                )
            )
        elapsed = time.time() - sent
        written = [salesforce_time(lead["LastModifiedDate"]) for lead in emulator.records("Lead")]
        for session in sessions:
            session.session.close()

    assert [len(answer) for answer in answers] == [2, 2]
    assert emulator.service_time_served_s == pytest.approx(0.6)  # two calls of 0.3 s each
    assert all(moment is not None and moment >= sent + 0.29 for moment in written), (sent, written)
    # The server answers each connection on its own thread: the two calls took about 0.3 s together, not 0.6 s.
    assert 0.3 <= elapsed < 0.55, elapsed


@pytest.mark.parametrize("fields", [{"per_call_ms": -1}, {"per_record_ms": -0.5}])
def test_a_negative_service_time_is_refused(fields: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must be >= 0 ms"):
        ServiceTime(**fields)


def test_a_task_collection_refuses_a_task_of_an_unknown_lead(salesforce: SalesforceEmulator, sf: Salesforce) -> None:
    [lead] = upsert_leads(sf, [lead_record("lead")])
    tasks = [
        {"attributes": {"type": "Task"}, "Subject": "Call", "WhoId": lead["id"], "Voice_Session_Id__c": "s-1"},
        {
            "attributes": {"type": "Task"},
            "Subject": "Call",
            "WhoId": "00Q5e0000000999AAA",
            "Voice_Session_Id__c": "s-2",
        },
    ]

    results = sf.restful("composite/sobjects/Task/Voice_Session_Id__c", method="PATCH", json={"records": tasks})

    assert [result["success"] for result in results] == [True, False]
    assert results[1]["errors"][0]["statusCode"] == "INVALID_CROSS_REFERENCE_KEY"
    assert [task["Voice_Session_Id__c"] for task in salesforce.records("Task")] == ["s-1"]


def test_fail_next_fails_a_collection_call_as_a_whole_and_reject_records_one_record(
    salesforce: SalesforceEmulator, sf: Salesforce
) -> None:
    salesforce.fail_next(1, 503, "SERVER_UNAVAILABLE")
    with pytest.raises(SalesforceGeneralError) as outage:
        upsert_leads(sf, [lead_record("a"), lead_record("b")])
    assert (outage.value.status, salesforce.records("Lead")) == (503, [])
    salesforce.reject_records("Lead", "Company", "REFUSED CO", message="Company: not a customer")

    results = upsert_leads(sf, [lead_record("a"), lead_record("b", Company="Refused Co")])

    assert [result["success"] for result in results] == [True, False]
    assert results[1]["errors"] == [
        {"statusCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION", "message": "Company: not a customer", "fields": ["Company"]}
    ]
    with pytest.raises(SalesforceMalformedRequest):  # the rule holds for single upserts too
        sf.Lead.upsert("Voice_Lead_Key__c/c", {**NEW_LEAD, "Company": "refused co"})
    salesforce.reset_faults()
    assert upsert_leads(sf, [lead_record("b", Company="Refused Co")])[0]["success"] is True
    assert (salesforce.faults_served, salesforce.rejections_served) == (1, 2)
    assert [(call.status, call.external_ids) for call in salesforce.collection_log] == [
        (503, ("a", "b")),
        (200, ("a", "b")),
        (200, ("b",)),
    ]


# ---------------------------------------------------------------------------------------------------------------
# Amplitude
# ---------------------------------------------------------------------------------------------------------------

API_KEY = "demo-amplitude-key"


class Outcomes:
    """What the client reported through its callback: the only place amplitude-analytics reports results."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self.reported: list[tuple[str, str | None, int, str | None]] = []

    def record(self, event: BaseEvent, code: int, message: str | None) -> None:
        with self._condition:
            self.reported.append((event.event_type, event.insert_id, code, message))
            self._condition.notify_all()

    def wait_for(self, count: int) -> list[tuple[str, str | None, int, str | None]]:
        with self._condition:
            if not self._condition.wait_for(lambda: len(self.reported) >= count, timeout=WAIT):
                raise AssertionError(f"expected {count} callbacks within {WAIT} s, got {self.reported}")
            return list(self.reported)


ClientFactory = Callable[..., tuple[Amplitude, Outcomes]]


@pytest.fixture
def amplitude_emulator() -> Iterator[AmplitudeEmulator]:
    with AmplitudeEmulator() as emulator:
        yield emulator


@pytest.fixture
def make_client(amplitude_emulator: AmplitudeEmulator) -> Iterator[ClientFactory]:
    clients: list[Amplitude] = []

    def make(api_key: str = API_KEY) -> tuple[Amplitude, Outcomes]:
        outcomes = Outcomes()
        config = Config(
            server_url=amplitude_emulator.url,
            flush_queue_size=10,
            # The background sender's first wait; retries then go out after the client's own backoff (100 ms+).
            flush_interval_millis=100,
            flush_max_retries=3,
            callback=outcomes.record,
        )
        client = Amplitude(api_key, config)
        clients.append(client)
        return client, outcomes

    yield make
    for client in clients:
        client.shutdown()  # flushes what is left while the emulator still runs


def flush(client: Amplitude) -> None:
    """Send what is buffered and wait for the answer (not for retries: those run on the client's own thread)."""
    for future in client.flush():
        if future is not None:  # None when nothing was buffered
            future.result(timeout=WAIT)


def event(
    event_type: str = "Lead Scored", user_id: str = "caller-0001", insert_id: str = "trial-call-0001"
) -> BaseEvent:
    return BaseEvent(event_type, user_id=user_id, insert_id=insert_id, event_properties={"score": 87})


def test_an_event_tracked_twice_is_stored_once(
    amplitude_emulator: AmplitudeEmulator, make_client: ClientFactory
) -> None:
    client, outcomes = make_client()
    client.track(event())
    client.track(event())
    client.track(event("Meeting Booked", insert_id="trial-call-0001-meeting"))
    flush(client)

    assert [code for _, _, code, _ in outcomes.wait_for(3)] == [200, 200, 200]
    stored = amplitude_emulator.events
    assert [(e["event_type"], e["insert_id"]) for e in stored] == [
        ("Lead Scored", "trial-call-0001"),
        ("Meeting Booked", "trial-call-0001-meeting"),
    ]
    assert stored[0]["user_id"] == "caller-0001" and stored[0]["event_properties"] == {"score": 87}
    assert stored[0]["library"].startswith("amplitude-python/")
    assert (amplitude_emulator.received_count, amplitude_emulator.duplicates_dropped) == (3, 1)


def test_a_short_user_id_is_rejected_and_the_valid_events_are_resent(
    amplitude_emulator: AmplitudeEmulator, make_client: ClientFactory
) -> None:
    client, outcomes = make_client()
    client.track(event(user_id="abc", insert_id="short-id"))
    client.track(event())
    flush(client)

    reported = {insert_id: (code, message) for _, insert_id, code, message in outcomes.wait_for(2)}
    assert reported["short-id"] == (400, "Invalid id length for user_id or device_id")
    assert reported["trial-call-0001"][0] == 200
    # HTTP V2 refuses the whole batch; the client resends the valid events on its own.
    assert [status for _, _, status in amplitude_emulator.request_log] == [400, 200]
    assert [e["insert_id"] for e in amplitude_emulator.events] == ["trial-call-0001"]


@pytest.mark.parametrize("status", [429, 500, 503])
def test_a_failed_batch_is_retried_by_the_client(
    amplitude_emulator: AmplitudeEmulator, make_client: ClientFactory, status: int
) -> None:
    client, outcomes = make_client()
    amplitude_emulator.fail_next(1, status, list_throttled_events=False)
    client.track(event())
    flush(client)

    assert outcomes.wait_for(1) == [("Lead Scored", "trial-call-0001", 200, "Event sent successfully.")]
    assert [status for _, _, status in amplitude_emulator.request_log] == [status, 200]
    assert len(amplitude_emulator.events) == 1
    assert amplitude_emulator.received_count == 2
    # Which events each upload carried, whatever its answer, and that the switch really fired (once).
    assert amplitude_emulator.batch_log == [(status, ("trial-call-0001",)), (200, ("trial-call-0001",))]
    assert (amplitude_emulator.faults_served, amplitude_emulator.delays_served) == (1, 0)


def test_throttled_events_wait_30s_unless_flushed(
    amplitude_emulator: AmplitudeEmulator, make_client: ClientFactory
) -> None:
    client, outcomes = make_client()
    amplitude_emulator.fail_next(1, 429)  # the real body: this event is listed in throttled_events
    client.track(event())
    flush(client)

    # The client holds a throttled event back for 30 s: nothing more is sent meanwhile.
    assert not threading.Event().wait(0.3)
    assert [status for _, _, status in amplitude_emulator.request_log] == [429]
    assert outcomes.reported == []
    # flush() does not honour that hold: it sends everything buffered at once.
    flush(client)
    assert outcomes.wait_for(1)[0][2] == 200
    assert len(amplitude_emulator.events) == 1


def test_a_timed_out_batch_is_resent_and_deduplicated(
    amplitude_emulator: AmplitudeEmulator, make_client: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The client's timeout is a module constant (10 s), not a Config option.
    monkeypatch.setattr(amplitude.constants, "CONNECTION_TIMEOUT", 0.2)
    client, outcomes = make_client()
    amplitude_emulator.delay_next(1, 0.5)
    client.track(event())
    flush(client)

    assert outcomes.wait_for(1)[0][2] == 200
    # The late first request was stored; its resend (same insert_id) was accepted and dropped.
    assert len(amplitude_emulator.events) == 1
    assert (amplitude_emulator.received_count, amplitude_emulator.duplicates_dropped) == (2, 1)
    assert (amplitude_emulator.faults_served, amplitude_emulator.delays_served) == (0, 1)


def test_an_invalid_api_key_drops_the_events_without_a_callback(
    amplitude_emulator: AmplitudeEmulator, make_client: ClientFactory
) -> None:
    client, outcomes = make_client(api_key="not-a-project-key")
    client.track(event())
    flush(client)

    assert amplitude_emulator.request_log == [("POST", "/2/httpapi", 400)]
    assert outcomes.reported == []  # the client only logs "Invalid API Key"
    assert amplitude_emulator.events == []


def post(emulator: AmplitudeEmulator, payload: Any) -> tuple[int, dict[str, Any]]:
    session = requests.Session()
    session.trust_env = False
    with session:
        response = session.post(emulator.url, data=json.dumps(payload), headers={"Content-Type": "application/json"})
    return response.status_code, response.json()


def test_http_v2_validation_bodies(amplitude_emulator: AmplitudeEmulator) -> None:
    good = {"event_type": "Lead Scored", "user_id": "caller-0001", "insert_id": "a"}

    status, body = post(amplitude_emulator, {"api_key": API_KEY, "events": [good]})
    assert status == 200
    assert body["code"] == 200 and body["events_ingested"] == 1
    assert body["payload_size_bytes"] > 0 and body["server_upload_time"] > 0

    assert post(amplitude_emulator, {"api_key": "nope", "events": [good]}) == (
        400,
        {"code": 400, "error": "Invalid API key: nope"},
    )
    assert post(amplitude_emulator, {"events": [good]})[1]["missing_field"] == "api_key"
    assert post(amplitude_emulator, {"api_key": API_KEY, "events": []})[1]["missing_field"] == "events"
    status, body = post(amplitude_emulator, {"api_key": API_KEY, "events": [good, {"user_id": "caller-0002"}, {}]})
    assert status == 400
    assert body["events_with_missing_fields"] == {"event_type": [1, 2], "user_id": [2], "device_id": [2]}
    assert post(amplitude_emulator, {"api_key": API_KEY, "events": [good] * 2001}) == (
        413,
        {"code": 413, "error": "Payload too large"},
    )
    big = {**good, "event_properties": {"transcript": "x" * (1024 * 1024)}}
    assert post(amplitude_emulator, {"api_key": API_KEY, "events": [big]})[0] == 413
    assert amplitude_emulator.events == [good]


def test_a_record_is_read_back_by_its_external_id_case_insensitively(
    salesforce: SalesforceEmulator, sf: Salesforce
) -> None:
    sf.Lead.upsert(f"Voice_Lead_Key__c/{LEAD_KEY}", {**NEW_LEAD, "Voice_Lead_Score__c": 87})
    [lead] = salesforce.records("Lead")

    found = sf.Lead.get_by_custom_id("Voice_Lead_Key__c", LEAD_KEY.upper())

    assert found["attributes"] == {"type": "Lead", "url": f"/services/data/v59.0/sobjects/Lead/{lead['Id']}"}
    assert (found["Id"], found["Name"], found["Voice_Lead_Score__c"]) == (lead["Id"], "Dana Lee", 87.0)
    with pytest.raises(SalesforceResourceNotFound):
        sf.Lead.get_by_custom_id("Voice_Lead_Key__c", "no-such-key")


def test_saved_state_keeps_records_findable_and_ids_unique(salesforce: SalesforceEmulator, sf: Salesforce) -> None:
    sf.Lead.upsert(f"Voice_Lead_Key__c/{LEAD_KEY}", NEW_LEAD)
    [lead] = salesforce.records("Lead")
    state = json.loads(json.dumps(salesforce.export_state()))  # as the demo writes and reads it

    with SalesforceEmulator() as later:
        later.load_state(state)
        session = TimeoutSession(timeout=WAIT)
        session.verify, session.trust_env = later.ca_bundle, False
        token = password_grant(later, session).json()
        again = Salesforce(instance_url=later.base_url, session_id=token["access_token"], session=session)

        assert again.Lead.upsert(f"Voice_Lead_Key__c/{LEAD_KEY}", {"Title": "Partner"}) == 200
        assert again.Lead.upsert("Voice_Lead_Key__c/another-lead", NEW_LEAD) == 201
        [kept, new] = later.records("Lead")
        assert (kept["Id"], kept["Title"]) == (lead["Id"], "Partner")
        assert new["Id"] != lead["Id"]


# ---------------------------------------------------------------------------------------------------------------
# Amplitude's User Privacy API (deletion requests)
# ---------------------------------------------------------------------------------------------------------------


def request_deletion(
    emulator: AmplitudeEmulator, payload: Any, auth: tuple[str, str] | None = None
) -> tuple[int, dict[str, Any]]:
    session = requests.Session()
    session.trust_env = False
    with session:
        response = session.post(emulator.privacy_url, json=payload, auth=auth or (API_KEY, emulator.secret_key))
    return response.status_code, response.json()


def test_a_deletion_request_schedules_the_users_job_and_running_it_deletes_only_their_events(
    amplitude_emulator: AmplitudeEmulator,
) -> None:
    for user in ("forget-me-0001", "keep-me-00001"):
        status, _ = post(amplitude_emulator, {"api_key": API_KEY, "events": [{"event_type": "x", "user_id": user}]})
        assert status == 200

    status, body = request_deletion(
        amplitude_emulator, {"user_ids": ["forget-me-0001"], "requester": "privacy@example.com"}
    )

    assert status == 200 and body["status"] == "staging"
    [listed] = body["amplitude_ids"]
    assert listed["requester"] == "privacy@example.com" and isinstance(listed["amplitude_id"], int)
    assert amplitude_emulator.users >= {"forget-me-0001", "keep-me-00001"}  # nothing deleted before the job runs
    assert amplitude_emulator.run_deletion_jobs() == 1
    assert "forget-me-0001" not in amplitude_emulator.users and "keep-me-00001" in amplitude_emulator.users
    assert [job["status"] for job in amplitude_emulator.deletion_jobs] == ["done"]


def test_a_deletion_request_for_unknown_or_already_scheduled_users_lists_nobody_or_is_refused(
    amplitude_emulator: AmplitudeEmulator,
) -> None:
    post(amplitude_emulator, {"api_key": API_KEY, "events": [{"event_type": "x", "user_id": "twice-00001"}]})
    request_deletion(amplitude_emulator, {"user_ids": ["twice-00001"]})

    again = request_deletion(amplitude_emulator, {"user_ids": ["twice-00001"], "ignore_invalid_ids": True})
    unknown = request_deletion(amplitude_emulator, {"user_ids": ["never-seen-1"], "ignore_invalid_ids": True})
    strict = request_deletion(amplitude_emulator, {"user_ids": ["never-seen-1"]})

    assert again == (200, {**again[1], "amplitude_ids": []}) and unknown[1]["amplitude_ids"] == []
    assert strict[0] == 400 and strict[1]["invalid_ids"] == ["never-seen-1"]


def test_a_deletion_request_needs_the_secret_key_and_at_most_100_ids(amplitude_emulator: AmplitudeEmulator) -> None:
    wrong = request_deletion(amplitude_emulator, {"user_ids": ["a"]}, auth=(API_KEY, "not-the-secret"))
    too_many = request_deletion(amplitude_emulator, {"user_ids": [f"user-{n:05d}" for n in range(101)]})

    assert wrong[0] == 401 and too_many[0] == 400
