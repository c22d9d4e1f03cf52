"""`voice-analytics forget`'s who-is-it rules and its help (the erasure itself: tests/integration/test_forget.py)."""

from __future__ import annotations

import hashlib

import pytest
from typer.testing import CliRunner

from functions.common.record import hash_caller
from voice_analytics.cli import app
from voice_analytics.privacy import Person


def test_forget_help_documents_the_person_options_and_the_crm_switch() -> None:
    result = CliRunner().invoke(app, ["forget", "--help"], env={"COLUMNS": "200"})

    assert result.exit_code == 0
    for text in ("--email", "ADDRESS", "--caller-key", "IDENTITY", "--include-crm", "--dry-run", "Amplitude"):
        assert text in result.stdout, text


def test_a_caller_key_is_hashed_with_the_agent_salt_and_the_email_normalised() -> None:
    person = Person.of(" Dana@Example.COM ", "+14155550199", caller_salt="salt")

    assert person.email == "dana@example.com"
    assert person.caller_key_hash == hash_caller("+14155550199", "salt")
    assert person.lead_keys == {
        hashlib.sha256(b"dana@example.com").hexdigest(),
        hashlib.sha256(hash_caller("+14155550199", "salt").encode()).hexdigest(),
    }


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({}, "give --email ADDRESS and/or --caller-key IDENTITY"),
        ({"email": "not-an-address"}, "--email must be an email address"),
        ({"caller_key": "+14155550199"}, "--caller-key needs ANALYTICS_CALLER_SALT"),
        ({"caller_key_hash": "abc"}, "--caller-key-hash must be the 64 hex characters"),
        ({"caller_key": "x", "caller_key_hash": "0" * 64, "caller_salt": "s"}, "not both"),
    ],
)
def test_a_person_that_cannot_be_identified_is_refused_with_the_option_named(
    arguments: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        Person.of(**arguments)


def test_a_record_is_theirs_by_email_caller_hash_or_lead_key_and_a_mention_is_a_whole_address() -> None:
    person = Person.of("dana@example.com")
    lead_key = hashlib.sha256(b"dana@example.com").hexdigest()

    assert person.owns({"contact": {"email": "DANA@example.com "}})
    assert person.owns({"contact": None, "lead_key": lead_key})
    assert not person.owns({"contact": {"email": "other@example.com"}, "caller": {"key_hash": "0" * 64}})
    assert person.mentioned_in("call Dana@Example.com back")
    assert not person.mentioned_in("call xdana@example.com back")
    assert not person.mentioned_in("see dana@example.com.au")
