"""Agent settings from the environment."""

from __future__ import annotations

import pytest

from agent.settings import AgentSettings, SettingsError
from functions.common.record import TranscriptMode


def test_bucket_alias_and_defaults_for_a_local_run() -> None:
    settings = AgentSettings.from_env({"AWS_S3_BUCKET_NAME": "legacy-bucket", "ANALYTICS_TRANSCRIPT": "full"})
    assert settings.analytics_bucket == "legacy-bucket"
    assert settings.transcript_mode is TranscriptMode.FULL
    assert settings.uses_fake_tools
    assert AgentSettings.from_env({}).transcript_mode is TranscriptMode.REDACTED
    primary = AgentSettings.from_env({"ANALYTICS_BUCKET": "new", "AWS_S3_BUCKET_NAME": "legacy"})
    assert primary.analytics_bucket == "new"


def test_export_budget_longer_than_the_shutdown_timeout_is_refused_naming_the_variables() -> None:
    with pytest.raises(SettingsError, match="ANALYTICS_EXPORT_BUDGET_S"):
        AgentSettings.from_env({"ANALYTICS_EXPORT_BUDGET_S": "12", "AGENT_SHUTDOWN_TIMEOUT_S": "10"})
    with pytest.raises(SettingsError, match="ANALYTICS_TRANSCRIPT"):
        AgentSettings.from_env({"ANALYTICS_TRANSCRIPT": "verbatim"})
