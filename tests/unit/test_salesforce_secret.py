"""The Salesforce secret: which OAuth flow it names or implies, the fields each flow needs, https URLs; a bad secret
is refused naming the field, never quoting a value."""

from __future__ import annotations

from typing import Any

import pytest

from functions.common.salesforce import SalesforceCredentials
from functions.common.secrets import SecretInvalidError, parse_secret

PEM = "-----BEGIN PRIVATE KEY-----\nMIIB...\n-----END PRIVATE KEY-----\n"
MY_DOMAIN = "https://acme.my.salesforce.com"


def parsed(secret: dict[str, Any]) -> SalesforceCredentials:
    return parse_secret(SalesforceCredentials, secret, "voice-analytics/salesforce")


@pytest.mark.parametrize(
    ("secret", "flow"),
    [
        ({"login_url": MY_DOMAIN, "client_id": "app", "client_secret": "s"}, "client_credentials"),
        ({"client_id": "app", "username": "int@acme.com", "private_key": PEM}, "jwt_bearer"),
        ({"client_id": "app", "client_secret": "s", "username": "u", "password": "p"}, "password"),
        ({"flow": "password", "client_id": "app", "client_secret": "s", "username": "u", "password": "p"}, "password"),
    ],
)
def test_the_flow_is_the_one_named_or_the_one_the_fields_imply(secret: dict[str, Any], flow: str) -> None:
    assert parsed(secret).auth_flow == flow


@pytest.mark.parametrize(
    ("secret", "expected"),
    [
        ({"flow": "client_credentials", "login_url": MY_DOMAIN, "client_id": "app"}, "needs client_secret"),
        ({"flow": "jwt_bearer", "client_id": "app", "private_key": PEM}, "needs username"),
        ({"flow": "jwt_bearer", "client_id": "app", "username": "u", "private_key": "s3cr3t"}, "must be the PEM"),
        ({"flow": "password", "client_id": "app", "client_secret": "s", "username": "u"}, "needs password"),
        ({"client_secret": "s3cr3t", "login_url": MY_DOMAIN}, "field 'client_id': Field required"),
        (
            {"login_url": "http://acme.my.salesforce.com", "client_id": "app", "client_secret": "s3cr3t"},
            "field 'login_url': Value error, must be an https URL (http://acme.my.salesforce.com given",
        ),
        (
            {"login_url": "https://login.salesforce.com", "client_id": "app", "client_secret": "s3cr3t"},
            "client_credentials flow needs login_url to be your My Domain URL",
        ),
        (
            {"client_id": "a", "username": "u", "private_key": PEM, "audience": "login.salesforce.com"},
            "field 'audience': Value error, must be an https URL",
        ),
    ],
)
def test_a_secret_that_cannot_log_in_is_refused_with_the_field_and_what_happens_next(
    secret: dict[str, Any], expected: str
) -> None:
    with pytest.raises(SecretInvalidError) as refused:
        parsed(secret)

    message = str(refused.value)
    assert expected in message and message.startswith("secret 'voice-analytics/salesforce' is invalid: ")
    assert "retried" in message and "s3cr3t" not in message


def test_a_secret_written_for_the_password_flow_before_the_other_flows_still_logs_in_by_password() -> None:
    legacy = {
        "login_url": "https://test.salesforce.com",
        "client_id": "app",
        "client_secret": "s",
        "username": "integration@acme.com",
        "password": "p",
        "security_token": "t",
    }

    assert parsed(legacy).auth_flow == "password"
