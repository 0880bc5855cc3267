import pytest

from common.settings import Settings
from infra.local.config import LocalConfig


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYSTREAM_KAFKA_BOOTSTRAP", "10.0.0.1:9092")
    monkeypatch.setenv("PAYSTREAM_KAFKA_PARTITIONS", "3")
    s = Settings()
    assert s.kafka_bootstrap == "10.0.0.1:9092" and s.kafka_partitions == 3


def test_launcher_ports_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYSTREAM_KAFKA_PORT", "29092")
    monkeypatch.setenv("PAYSTREAM_WALLET_SVC_PORT", "28002")
    cfg = LocalConfig.from_env()
    env = cfg.client_env()
    assert env["PAYSTREAM_KAFKA_BOOTSTRAP"] == "127.0.0.1:29092"
    assert env["PAYSTREAM_WALLET_SVC_URL"] == "http://127.0.0.1:28002"
    # every variable the launcher hands to services is a real setting
    fields = {f"PAYSTREAM_{name.upper()}" for name in Settings.model_fields}
    assert set(env) <= fields


def test_the_provider_callback_secret_is_read_and_never_shown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given a callback secret in the environment
    monkeypatch.setenv("PAYSTREAM_PROVIDER_CALLBACK_SECRET", "s3cret-callback-key")
    # when the settings are read and printed
    s = Settings()
    # then the services get the secret, and neither repr nor a dump shows it
    assert s.provider_callback_secret.get_secret_value() == "s3cret-callback-key"
    assert "s3cret-callback-key" not in repr(s)
    assert "s3cret-callback-key" not in str(s.model_dump())
