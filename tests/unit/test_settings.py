from __future__ import annotations

import pytest

from functions.common.settings import SalesforceSyncSettings, ScoreLeadSettings, load_settings


def test_defaults_suit_a_local_run(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ScoreLeadSettings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)

    settings = load_settings(ScoreLeadSettings)

    assert (settings.hot_team_size, settings.hot_monthly_volume, settings.llm_scoring_enabled) == (5, 100, False)
    assert settings.idempotency_expiry_seconds > 14 * 24 * 3600


def test_environment_values_are_coerced_to_their_types(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOT_TEAM_SIZE", "8")
    monkeypatch.setenv("LLM_SCORING_ENABLED", "true")
    monkeypatch.setenv("MAX_RECORD_BYTES", "2048")

    settings = load_settings(ScoreLeadSettings)

    assert (settings.hot_team_size, settings.llm_scoring_enabled, settings.max_record_bytes) == (8, True, 2048)


def test_invalid_environment_value_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOT_TEAM_SIZE", "many")

    with pytest.raises(ValueError, match="hot_team_size"):
        load_settings(ScoreLeadSettings)


def test_salesforce_field_mapping_is_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SALESFORCE_LEAD_KEY_FIELD", "Caller_Key__c")

    assert load_settings(SalesforceSyncSettings).salesforce_lead_key_field == "Caller_Key__c"
