from __future__ import annotations

from gateway.core.config import Settings
from gateway.process import settings_env


def test_settings_env_rebuilds_the_same_settings(monkeypatch):
    settings = Settings(
        database_url="sqlite:///x.db",
        operator_key="0x" + "11" * 32,
        key_encryption_secret="s3cret",
        indexer_enabled=True,
        gate_cache_seconds=0.5,
    )
    env = settings_env(settings, checkin_queue_enabled=True)
    assert env["GATEWAY_OPERATOR_KEY"] == "0x" + "11" * 32 and env["GATEWAY_INDEXER_ENABLED"] == "true"
    assert "GATEWAY_GATE_SIGNING_KEY" not in env  # None: left to its default
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    rebuilt = Settings()
    assert rebuilt.model_dump() == settings.model_dump() | {"checkin_queue_enabled": True}
