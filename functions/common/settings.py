"""Per-function settings, read from the environment once per container.

Field `some_name` is read from the variable `SOME_NAME`. Defaults suit a local run against moto; the
SAM template sets every variable in AWS. pydantic-settings is not a dependency, so `load_settings` does
the small env-to-model mapping itself and pydantic does the type coercion ("5" -> 5, "false" -> False).
"""

# No `from __future__ import annotations` (pydantic models: see functions/common/record_parts.py).

import os
from functools import cache
from typing import Annotated, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

FIFTEEN_DAYS_SECONDS = 15 * 24 * 60 * 60
# salesforce_sync upserts with sObject Collections, which Salesforce serves from API 46.0.
SALESFORCE_COLLECTIONS_SINCE = 46


def _collections_api_version(version: str) -> str:
    major, dot, minor = version.partition(".")
    if not (major.isdigit() and dot and minor == "0" and int(major) >= SALESFORCE_COLLECTIONS_SINCE):
        raise ValueError(
            f"SALESFORCE_API_VERSION {version!r}: salesforce_sync needs a version like '59.0', at least "
            f"'{SALESFORCE_COLLECTIONS_SINCE}.0' (its sObject Collections upserts); the function does not start"
        )
    return version


class _Settings(BaseModel):
    # Cold start: a function loads one of these models, at init; built when first validated (in `load_settings`),
    # the other three are never built.
    model_config = ConfigDict(frozen=True, extra="ignore", defer_build=True)

    stage: str = "local"
    log_level: str = "INFO"
    sessions_bucket: str = "voice-analytics-sessions-local"
    idempotency_table: str = "voice-analytics-idempotency-local"
    # Longer than SQS's maximum retention (14 days), so no redelivery can outlive its idempotency record.
    idempotency_expiry_seconds: Annotated[int, Field(ge=60)] = FIFTEEN_DAYS_SECONDS
    # Where a permanently failing message goes, with its reason (see functions/common/failures.py).
    dead_letter_queue_url: str | None = None


class ScoreLeadSettings(_Settings):
    event_bus_name: str = "voice-analytics-local"
    hot_team_size: Annotated[int, Field(ge=1)] = 5
    hot_monthly_volume: Annotated[int, Field(ge=0)] = 100
    llm_scoring_enabled: bool = False
    llm_model_id: str = "anthropic.claude-3-haiku-20240307-v1:0"
    llm_timeout_seconds: Annotated[float, Field(gt=0, le=60)] = 10.0
    # Call insights (functions/score_lead/insights/): `local` (VADER and the taxonomy, offline) or `bedrock`
    # (Converse, falling back to local). A Bedrock call may take insights_attempts x (connect + read timeout) at
    # worst; score_lead skips it when the invocation has less time left than that (plus a reserve).
    insights_provider: Literal["local", "bedrock"] = "local"
    insights_model_id: str = "anthropic.claude-3-haiku-20240307-v1:0"
    insights_timeout_seconds: Annotated[float, Field(gt=0, le=30)] = 10.0
    insights_connect_timeout_seconds: Annotated[float, Field(gt=0, le=10)] = 2.0
    # Attempts in all (botocore's standard retry mode: throttling, 5xx and read timeouts are retried).
    insights_attempts: Annotated[int, Field(ge=1, le=3)] = 2
    # Compressed object size limit, and a hard cap on what decompression may produce (gzip-bomb guard).
    max_record_bytes: Annotated[int, Field(ge=1024)] = 1024 * 1024
    max_decompressed_bytes: Annotated[int, Field(ge=1024)] = 5 * 1024 * 1024
    sessions_prefix: str = "sessions/"
    scored_prefix: str = "scored"
    quarantine_prefix: str = "quarantine"


class SalesforceSyncSettings(_Settings):
    salesforce_secret_name: str = "voice-analytics/local/salesforce"  # noqa: S105  (the name, not the secret)
    # Only for a local TLS emulator; unset in AWS, where the system trust store applies.
    salesforce_ca_bundle: str | None = None
    salesforce_api_version: Annotated[str, AfterValidator(_collections_api_version)] = "59.0"
    salesforce_timeout_seconds: Annotated[float, Field(gt=0, le=60)] = 10.0
    salesforce_lead_source: str = "Voice Agent"
    salesforce_lead_key_field: str = "Voice_Lead_Key__c"
    salesforce_task_key_field: str = "Voice_Session_Id__c"
    salesforce_score_field: str = "Voice_Lead_Score__c"
    salesforce_grade_field: str = "Voice_Lead_Grade__c"
    salesforce_hot_field: str = "Voice_Hot_Lead__c"
    salesforce_last_session_field: str = "Voice_Last_Session_Id__c"
    salesforce_monthly_volume_field: str = "Voice_Monthly_Volume__c"
    salesforce_integrations_field: str = "Voice_Integrations__c"


class AmplitudeEventsSettings(_Settings):
    amplitude_secret_name: str = "voice-analytics/local/amplitude"  # noqa: S105  (the name, not the secret)
    # How long a Lambda waits for Amplitude to accept the flushed events before failing the item.
    amplitude_flush_timeout_seconds: Annotated[float, Field(gt=0, le=120)] = 20.0
    amplitude_max_retries: Annotated[int, Field(ge=0, le=10)] = 3


class HotLeadAlertSettings(_Settings):
    hot_lead_topic_arn: str = "arn:aws:sns:us-east-1:123456789012:voice-analytics-hot-leads-local"


class CompactSettings(_Settings):
    """The daily compaction (functions/compact): where the table definitions are, how far back it looks."""

    glue_database: str = "voice_analytics_local"
    compaction_lookback_days: Annotated[int, Field(ge=1, le=366)] = 7
    compaction_settle_hours: Annotated[float, Field(ge=0, le=48)] = 1.0
    # Raw objects per Parquet file: 100,000 sessions a day make two files a day per view.
    compaction_objects_per_file: Annotated[int, Field(ge=1)] = 50_000
    compaction_read_threads: Annotated[int, Field(ge=1, le=256)] = 32
    compaction_work_dir: str = "/tmp"  # noqa: S108 - Lambda's only writable folder (EphemeralStorage in the template)
    max_decompressed_bytes: Annotated[int, Field(ge=1024)] = 5 * 1024 * 1024


SettingsT = TypeVar("SettingsT", bound=_Settings)


def load_settings(model: type[SettingsT]) -> SettingsT:
    """Build a settings model from the environment: field `x_y` comes from `X_Y` when that is set and not empty."""
    values = {name: os.environ[name.upper()] for name in model.model_fields if os.environ.get(name.upper())}
    return model.model_validate(values)


@cache
def score_lead_settings() -> ScoreLeadSettings:
    return load_settings(ScoreLeadSettings)


@cache
def salesforce_sync_settings() -> SalesforceSyncSettings:
    return load_settings(SalesforceSyncSettings)


@cache
def amplitude_events_settings() -> AmplitudeEventsSettings:
    return load_settings(AmplitudeEventsSettings)


@cache
def hot_lead_alert_settings() -> HotLeadAlertSettings:
    return load_settings(HotLeadAlertSettings)


@cache
def compact_settings() -> CompactSettings:
    return load_settings(CompactSettings)
