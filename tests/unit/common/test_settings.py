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
