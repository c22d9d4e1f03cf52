from __future__ import annotations

import pytest

from functions.common.events import LeadScoredDetail
from functions.common.salesforce import UPSERT_RESULTS, error_codes, is_retryable
from functions.common.settings import SalesforceSyncSettings
from functions.salesforce_sync.logic import (
    UNKNOWN_COMPANY,
    UNKNOWN_LAST_NAME,
    describe,
    lead_fields,
    lead_rounds,
    should_sync,
    split_name,
    sync_batch,
    task_fields,
)
from tests.unit.details import detail_for

SETTINGS = SalesforceSyncSettings()


def test_lead_carries_contact_score_and_signals_in_the_configured_fields() -> None:
    fields = lead_fields(detail_for(), SETTINGS)

    assert fields["FirstName"] == "Dana"
    assert fields["LastName"] == "Lee"
    assert fields["Company"] == "Acme Legal"
    assert fields["Email"] == "dana.lee@example.com"
    assert fields["LeadSource"] == "Voice Agent"
    assert fields["NumberOfEmployees"] == 12
    assert fields["Voice_Lead_Score__c"] == 77
    assert fields["Voice_Lead_Grade__c"] == "A"
    assert fields["Voice_Hot_Lead__c"] is True
    assert fields["Voice_Monthly_Volume__c"] == 300
    assert fields["Voice_Integrations__c"] == "salesforce"
    assert fields["Voice_Last_Session_Id__c"] == "trial-call-0001"


def test_score_fields_follow_the_configured_mapping() -> None:
    settings = SalesforceSyncSettings(salesforce_score_field="Score__c", salesforce_grade_field="Rating__c")

    fields = lead_fields(detail_for(), settings)

    assert (fields["Score__c"], fields["Rating__c"]) == (77, "A")
    assert "Voice_Lead_Score__c" not in fields


def test_required_fields_fall_back_when_the_caller_gave_no_contact() -> None:
    fields = lead_fields(detail_for(contact=None), SETTINGS)

    assert fields["LastName"] == UNKNOWN_LAST_NAME
    assert fields["Company"] == UNKNOWN_COMPANY
    assert "Email" not in fields and "FirstName" not in fields


def test_values_are_truncated_to_salesforce_field_lengths() -> None:
    contact = {"name": "A" * 60 + " " + "B" * 120, "company": "C" * 255, "email": "x" * 75 + "@example.com"}

    fields = lead_fields(detail_for(contact=contact), SETTINGS)

    assert len(fields["FirstName"]) == 40
    assert len(fields["LastName"]) == 80
    assert len(fields["Company"]) == 255
    assert "Email" not in fields  # longer than 80 characters: kept in the description instead


def test_garbled_spoken_email_is_left_out_of_the_email_field() -> None:
    fields = lead_fields(detail_for(contact={"name": "Dana", "email": "dana at example dot com"}), SETTINGS)

    assert "Email" not in fields
    assert "dana at example dot com" in fields["Description"]


def test_description_quotes_the_caller_and_explains_the_score() -> None:
    text = describe(detail_for())

    assert "Score 77/100, grade A, HOT LEAD" in text
    assert '"We\'re a team of 12"' in text
    assert "Meeting booked: yes (mtg-trial-call-0001" in text
    assert "s3://bucket/sessions/" in text


def test_task_is_a_completed_call_on_the_lead() -> None:
    fields = task_fields(detail_for(), "00Q000000000001")

    assert fields["WhoId"] == "00Q000000000001"
    assert (fields["Status"], fields["Type"], fields["Priority"]) == ("Completed", "Call", "High")
    assert fields["ActivityDate"] == "2026-11-20"
    assert fields["CallDurationInSeconds"] == 95
    assert fields["Subject"] == "Voice call: Acme Legal - grade A, score 77 (hot)"


def test_session_without_contact_meeting_or_signal_is_not_synced() -> None:
    assert should_sync(detail_for(contact=None, tool_calls=[], signals={})) is False
    assert should_sync(detail_for(contact=None, tool_calls=[], signals={"team_size": 3})) is True


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Dana Lee", ("Dana", "Lee")),
        ("Cher", (None, "Cher")),
        ("  ", (None, UNKNOWN_LAST_NAME)),
        (None, (None, UNKNOWN_LAST_NAME)),
    ],
)
def test_split_name(name: str | None, expected: tuple[str | None, str]) -> None:
    assert split_name(name) == expected


@pytest.mark.parametrize(
    ("status", "content", "retryable"),
    [
        (503, [{"errorCode": "SERVER_UNAVAILABLE", "message": "down"}], True),
        (500, "Internal Server Error", True),
        (403, [{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "limit"}], True),
        (400, [{"errorCode": "UNABLE_TO_LOCK_ROW", "message": "locked"}], True),
        (400, [{"errorCode": "STRING_TOO_LONG", "message": "Company too long"}], False),
        (400, [{"errorCode": "REQUIRED_FIELD_MISSING", "message": "LastName"}], False),
        (400, [{"errorCode": "INVALID_FIELD", "message": "No such column"}], False),
        (400, [{"errorCode": "INVALID_CROSS_REFERENCE_KEY", "message": "bad WhoId"}], False),
        (400, [{"errorCode": "MALFORMED_ID", "message": "bad id"}], False),
        (300, ["/services/data/v59.0/sobjects/Lead/1", "/services/data/v59.0/sobjects/Lead/2"], False),
        (403, [{"errorCode": "INSUFFICIENT_ACCESS", "message": "no"}], False),
    ],
)
def test_salesforce_errors_are_classified_by_code(status: int, content: object, retryable: bool) -> None:
    assert is_retryable(status, error_codes(content)) is retryable


def test_calls_of_one_caller_go_to_successive_rounds_oldest_first() -> None:
    def call(session_id: str, email: str, hour: int) -> LeadScoredDetail:
        contact = {"name": "Dana Lee", "email": email, "company": "Acme"}
        return detail_for(session_id=session_id, contact=contact, started_at=f"2026-11-20T{hour:02d}:00:00Z")

    late, early, middle = (
        call("late", "a@example.com", 15),
        call("early", "a@example.com", 9),
        call("mid", "A@example.com", 12),
    )
    other = call("other", "b@example.com", 10)

    rounds = lead_rounds([late, other, early, middle])

    assert [[detail.session_id for detail in round_] for round_ in rounds] == [["early", "other"], ["mid"], ["late"]]
    assert lead_rounds([]) == []


def test_a_batch_takes_each_session_once() -> None:
    with pytest.raises(ValueError, match="each session once"):
        sync_batch([detail_for(), detail_for()], gateway=None, settings=SETTINGS)  # type: ignore[arg-type]


@pytest.mark.parametrize("version", ["45.0", "59", "v59.0", "fifty"])
def test_an_api_version_without_collection_upserts_is_refused_naming_the_variable(version: str) -> None:
    with pytest.raises(ValueError, match=f"SALESFORCE_API_VERSION '{version}': .* at least '46.0'"):
        SalesforceSyncSettings(salesforce_api_version=version)


def test_a_record_result_is_retryable_only_for_passing_refusals() -> None:
    locked, invalid = UPSERT_RESULTS.validate_python(
        [
            {"id": None, "success": False, "errors": [{"statusCode": "UNABLE_TO_LOCK_ROW", "message": "busy"}]},
            {
                "success": False,
                "errors": [{"statusCode": "INVALID_EMAIL_ADDRESS", "message": "Email: bad", "fields": ["Email"]}],
            },
        ]
    )

    assert (locked.retryable, invalid.retryable) == (True, False)
    assert invalid.describe() == "INVALID_EMAIL_ADDRESS: Email: bad" and invalid.errors[0].fields == ("Email",)
