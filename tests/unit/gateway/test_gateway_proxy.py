"""Header and timeout rules of forwarding (pure helpers of gateway.proxy)."""

from __future__ import annotations

from gateway.proxy import request_timeout, response_headers


def test_prefer_wait_extends_the_upstream_timeout_up_to_thirty_seconds() -> None:
    assert request_timeout(None, 10.0) == 10.0
    assert request_timeout("respond-async", 10.0) == 10.0
    assert request_timeout("wait=20", 10.0) == 25.0
    assert request_timeout("return=minimal, wait=300", 10.0) == 35.0
    assert request_timeout("wait=1", 10.0) == 10.0


def test_hop_by_hop_and_gateway_owned_response_headers_are_dropped() -> None:
    upstream = [
        (k.encode(), v.encode())
        for k, v in [
            ("content-type", "application/json"),
            ("location", "/wallets/1"),
            ("set-cookie", "a=1"),
            ("set-cookie", "b=2"),
            ("connection", "keep-alive, x-private"),
            ("x-private", "secret"),
            ("keep-alive", "timeout=5"),
            ("transfer-encoding", "chunked"),
            ("content-length", "2"),
            ("x-request-id", "upstream-id"),
            ("traceparent", "00-abc"),
            ("server", "uvicorn"),
            ("date", "today"),
        ]
    ]
    kept = [(k.decode(), v.decode()) for k, v in response_headers(upstream)]
    assert kept == [
        ("content-type", "application/json"),
        ("location", "/wallets/1"),
        ("set-cookie", "a=1"),
        ("set-cookie", "b=2"),
    ]
