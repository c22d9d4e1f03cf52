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


def test_export_budget_longer_than_the_session_end_timeout_is_refused_naming_the_variables() -> None:
    with pytest.raises(SettingsError, match=r"ANALYTICS_EXPORT_BUDGET_S.*AGENT_SESSION_END_TIMEOUT_S"):
        AgentSettings.from_env({"ANALYTICS_EXPORT_BUDGET_S": "12", "AGENT_SESSION_END_TIMEOUT_S": "10"})
    assert AgentSettings.from_env({"ANALYTICS_EXPORT_BUDGET_S": "12"}).session_end_timeout_s == 300
    with pytest.raises(SettingsError, match="ANALYTICS_TRANSCRIPT"):
        AgentSettings.from_env({"ANALYTICS_TRANSCRIPT": "verbatim"})


def test_agent_never_reads_salesforce_or_amplitude_credentials() -> None:
    """Only the functions talk to Salesforce and Amplitude, with credentials from Secrets Manager: the agent has
    no such setting, ignores such variables, and no agent module reads them or imports the backend clients."""
    import re
    from pathlib import Path

    from agent import settings as settings_module

    backend = re.compile(r"salesforce|amplitude", re.IGNORECASE)
    variables = [name for names in settings_module._ENV_NAMES.values() for name in names]
    assert not [name for name in variables if backend.search(name)]
    assert not [field for field in AgentSettings.model_fields if backend.search(field)]
    credentials = {
        "SALESFORCE_USERNAME": "integration@example.com",
        "SALESFORCE_PASSWORD": "not-a-real-password",
        "SALESFORCE_CLIENT_SECRET": "not-a-real-secret",
        "SALESFORCE_SECRET_NAME": "voice-analytics/salesforce",
        "AMPLITUDE_API_KEY": "not-a-real-key",
        "AMPLITUDE_SECRET_NAME": "voice-analytics/amplitude",
    }
    assert AgentSettings.from_env(credentials) == AgentSettings.from_env({})
    agent_dir = Path(settings_module.__file__).parent
    for path in agent_dir.glob("*.py"):
        source = path.read_text(encoding="utf-8")
        assert not re.search(r"(environ|getenv)[^\n]*(SALESFORCE|AMPLITUDE)", source, re.IGNORECASE), path.name
        assert "functions.common.salesforce" not in source and "functions.common.amplitude" not in source, path.name


def test_every_agent_variable_is_in_env_example_and_documented() -> None:
    from pathlib import Path

    from agent import settings as settings_module

    root = Path(settings_module.__file__).parents[1]
    example = (root / ".env.example").read_text(encoding="utf-8")
    guide = (root / "docs" / "agent.md").read_text(encoding="utf-8")
    for names in settings_module._ENV_NAMES.values():
        assert f"\n{names[0]}=" in example, names[0]
        assert f"`{names[0]}`" in guide, names[0]
