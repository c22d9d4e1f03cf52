"""Secrets Manager reads for the functions that hold credentials (salesforce_sync, amplitude_events), and the checks
every secret passes before its values are used: a secret that names a plain-http endpoint, lacks a field its flow
needs or holds a value of the wrong shape is refused with an error naming the secret and the field (never the
value), before any credential leaves the function.
"""

from __future__ import annotations

from functools import cache
from typing import Any, TypeVar
from urllib.parse import urlsplit

import boto3
from aws_lambda_powertools.utilities.parameters import SecretsProvider
from pydantic import BaseModel, ValidationError

from functions.common.aws import DEFAULT_CONFIG

# Plain http only to a local emulator on this machine (local/emulators: the Amplitude emulator is http).
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

SecretT = TypeVar("SecretT", bound=BaseModel)


class SecretInvalidError(ValueError):
    """A secret's JSON cannot be used; the message names the secret and each field, and what happens next."""

    def __init__(self, secret_name: str, problems: list[str]) -> None:
        self.secret_name = secret_name
        self.problems = problems
        super().__init__(
            f"secret {secret_name!r} is invalid: {'; '.join(problems)}. Fix the secret in Secrets Manager; the "
            "messages wait in the queue and are retried (it is read again within five minutes)"
        )


def https_url(value: str) -> str:
    """`value` if it is an https URL with a host (or http to a loopback emulator); ValueError saying why not."""
    parts = urlsplit(value.strip())
    host = parts.hostname or ""
    if parts.scheme == "https" and host:
        return value.strip()
    if parts.scheme == "http" and host in LOOPBACK_HOSTS:
        return value.strip()
    shown = f"{parts.scheme}://{host}" if parts.scheme else "no scheme"
    raise ValueError(f"must be an https URL ({shown} given; plain http is accepted only for a local emulator)")


def parse_secret(model: type[SecretT], value: Any, secret_name: str) -> SecretT:
    """Validate a secret's JSON against its model; SecretInvalidError names every bad field (pydantic's own text
    would quote the values, which are credentials)."""
    try:
        return model.model_validate(value)
    except ValidationError as error:
        problems = [
            f"field '{'.'.join(str(part) for part in item['loc'])}': {item['msg']}" if item["loc"] else item["msg"]
            for item in error.errors(include_url=False)
        ]
        raise SecretInvalidError(secret_name, problems) from None


@cache
def secrets_provider() -> SecretsProvider:
    """Powertools' Secrets Manager provider (its `max_age` cache) on a client from boto3's default session.

    `parameters.get_secret` builds its default provider on a boto3 session of its own, which pays the botocore
    loader's cost (see `idempotency_dynamodb_client` in functions/common/aws.py) once more in the first invocation:
    67-107 ms for that provider against 9-19 ms for this one (CPython 3.12 on this machine, measured after the
    idempotency client exists, as it does after init).
    """
    return SecretsProvider(boto3_client=boto3.client("secretsmanager", config=DEFAULT_CONFIG))
