"""The gateway app's own surface that needs no backing service: settings and CORS."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from common.app import asgi_app
from gateway.main import create_app
from gateway.settings import GatewaySettings


def test_limits_and_origins_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYSTREAM_RATE_LIMIT_IP_PER_MINUTE", "7")
    monkeypatch.setenv("PAYSTREAM_BREAKER_RESET_TIMEOUT_S", "2.5")
    monkeypatch.setenv("PAYSTREAM_CORS_ORIGINS", '["https://app.example"]')
    s = GatewaySettings()
    assert s.rate_limit_ip_per_minute == 7 and s.breaker_reset_timeout_s == 2.5
    assert s.cors_origins == ["https://app.example"]
    assert s.service_name == "gateway"


def test_cors_preflight_is_answered_for_configured_origins_only() -> None:
    # the app is not started (no lifespan): CORS answers preflights before any route; as
    # served, behind the fast lane (a request with an Origin header goes the full way)
    app = asgi_app(create_app(GatewaySettings(cors_origins=["https://app.example"])))
    client = TestClient(app)
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,idempotency-key",
    }
    ok = client.options("/api/v1/transfers", headers={"Origin": "https://app.example", **preflight})
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == "https://app.example"
    assert "idempotency-key" in ok.headers["access-control-allow-headers"].lower()
    assert ok.headers["x-request-id"]  # observed like any request (ids, metrics, access line)
    refused = client.options("/api/v1/transfers", headers={"Origin": "https://evil", **preflight})
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers
