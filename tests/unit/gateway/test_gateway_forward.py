"""Forwarding to an upstream on common.http1: a small asyncio server stands in for it.

``Proxy._forward`` is called directly (routing, tokens and rate limits are tested
elsewhere); the upstreams are those the lifespan builds (``make_upstreams``), with
``wallet_svc`` pointing at the stand-in, which answers by path: ``/wallets/ok`` with an
echo of the request and some headers, ``/wallets/down`` with 503, ``/wallets/broken``
with a malformed status line, ``/wallets/busy`` with 503 and ``Retry-After`` (a service
shedding a burst), ``/wallets/slow`` after half a second and ``/wallets/hang`` after five.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from common.errors import Problem
from common.fastlane import FastRequest
from gateway.breaker import BreakerState
from gateway.proxy import Proxy
from gateway.routes import DEFAULT_TABLE
from gateway.settings import GatewaySettings
from gateway.upstreams import Upstream, make_upstreams
from infra.testing.http_server import read_request


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            request = await read_request(reader)
            if request is None:
                return
            method, target, headers, body = (
                request.method, request.target, request.headers, request.body
            )  # fmt: skip
            if target.startswith("/wallets/hang"):
                await asyncio.sleep(5)
            elif target.startswith("/wallets/slow"):
                await asyncio.sleep(0.5)
            if target.startswith("/wallets/broken"):
                writer.write(b"HTTP/9 nonsense\r\n\r\n")
                continue
            if target.startswith("/wallets/busy"):
                writer.write(b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 3\r\n"
                             b"Content-Length: 0\r\n\r\n")  # fmt: skip
                continue
            status = b"503 Service Unavailable" if target.startswith("/wallets/down") else b"200 OK"
            echo = orjson.dumps(
                {"method": method, "target": target, "headers": headers, "body": body.decode()}
            )
            writer.write(
                b"HTTP/1.1 %s\r\nContent-Type: application/json\r\n"
                b"Connection: keep-alive, X-Private\r\nX-Private: secret\r\n"
                b"Keep-Alive: timeout=5\r\nServer: uvicorn\r\n"
                b"X-Request-ID: upstream-id\r\nSet-Cookie: a=1\r\nLocation: /wallets/1\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (status, len(echo), echo)
            )
    finally:
        writer.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def upstream_url() -> AsyncIterator[str]:
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()


async def make_proxy(wallet_url: str) -> tuple[Proxy, Upstream]:
    settings = GatewaySettings(
        wallet_svc_url=wallet_url,
        upstream_timeout_s=0.3,
        upstream_connect_timeout_s=1.0,
        breaker_failure_threshold=2,
        breaker_reset_timeout_s=0.5,
    )
    upstreams = make_upstreams(settings)
    proxy = Proxy(settings, DEFAULT_TABLE, upstreams, None, None)  # type: ignore[arg-type]
    return proxy, upstreams["wallet_svc"]


@pytest.fixture
async def proxy(upstream_url: str) -> AsyncIterator[tuple[Proxy, Upstream]]:
    p, up = await make_proxy(upstream_url)
    try:
        yield p, up
    finally:
        for u in p.upstreams.values():
            await u.close()


def request(
    method: str,
    raw_path: bytes,
    body: bytes = b"",
    query: bytes = b"",
    headers: dict[str, str] | None = None,
) -> FastRequest:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    scope = {
        "type": "http",
        "raw_path": raw_path,
        "query_string": query,
        "scheme": "https",
        "client": ("10.1.2.3", 5555),
    }
    return FastRequest(
        scope,
        receive,
        method,
        raw_path.decode(),
        headers or {},
        "rid-1",
        "cid-1",
        "00-0123456789abcdef0123456789abcdef-0123456789abcdef-01",
    )


async def test_a_request_is_forwarded_and_the_answer_filtered(
    proxy: tuple[Proxy, Upstream],
) -> None:
    p, up = proxy
    given = {
        "authorization": "Bearer t",
        "content-type": "application/json",
        "host": "api.example",
        "idempotency-key": "k1",
        "cookie": "not-forwarded",
    }
    req = request("POST", b"/api/v1/wallets/ok%2Fx", b'{"a": 1}', b"q=1&r=%20", given)
    response = await p._forward(up, req, "/api/v1")
    assert response.status == 200
    echo = orjson.loads(response.body)
    assert (echo["method"], echo["target"], echo["body"]) == (
        "POST",
        "/wallets/ok%2Fx?q=1&r=%20",
        '{"a": 1}',
    )
    sent = dict(echo["headers"])
    assert len(sent) == len(echo["headers"])  # no header twice
    assert sent == {
        "host": up.base_url.removeprefix("http://"),
        "accept-encoding": "identity",
        "authorization": "Bearer t",
        "content-type": "application/json",
        "idempotency-key": "k1",
        "x-request-id": "rid-1",
        "x-correlation-id": "cid-1",
        "traceparent": "00-0123456789abcdef0123456789abcdef-0123456789abcdef-01",
        "x-forwarded-for": "10.1.2.3",
        "x-forwarded-proto": "https",
        "x-forwarded-host": "api.example",
        "accept": "*/*",
        "content-length": "8",
    }
    assert response.headers == [
        (b"Content-Type", b"application/json"),
        (b"Set-Cookie", b"a=1"),
        (b"Location", b"/wallets/1"),
    ]
    assert up.breaker.state is BreakerState.CLOSED
    await up.check_health()  # /health answers 200 here too (an echo)


async def test_an_upstream_503_counts_as_a_failure_and_is_passed_on(
    proxy: tuple[Proxy, Upstream],
) -> None:
    p, up = proxy
    for _ in range(2):
        response = await p._forward(up, request("GET", b"/api/v1/wallets/down"), "/api/v1")
        assert response.status == 503
    assert up.breaker.state is BreakerState.OPEN
    with pytest.raises(Problem) as refused:
        await p._forward(up, request("GET", b"/api/v1/wallets/ok"), "/api/v1")
    assert (refused.value.status, refused.value.extra.get("circuit")) == (503, "open")


async def test_an_upstream_shedding_a_burst_is_passed_on_without_opening_the_breaker(
    proxy: tuple[Proxy, Upstream],
) -> None:
    """Given an upstream answering 503 with Retry-After (busy, common.cpu), when more of
    those come than the breaker's threshold, then each is passed on with its Retry-After
    and the breaker stays closed: the upstream's other calls still go through."""
    p, up = proxy
    for _ in range(3):
        response = await p._forward(up, request("POST", b"/api/v1/wallets/busy"), "/api/v1")
        assert (response.status, response.headers) == (503, [(b"Retry-After", b"3")])
    assert up.breaker.state is BreakerState.CLOSED
    response = await p._forward(up, request("GET", b"/api/v1/wallets/ok"), "/api/v1")
    assert response.status == 200


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        (b"/api/v1/wallets/broken", 502, "bad_gateway"),
        (b"/api/v1/wallets/hang", 504, "upstream_timeout"),
    ],
)
async def test_transport_errors_map_to_problems_and_trip_the_breaker(
    proxy: tuple[Proxy, Upstream], path: bytes, status: int, code: str
) -> None:
    p, up = proxy
    for _ in range(2):
        with pytest.raises(Problem) as caught:
            await p._forward(up, request("GET", path), "/api/v1")
        assert (caught.value.status, caught.value.code) == (status, code)
    assert up.breaker.state is BreakerState.OPEN


async def test_prefer_wait_extends_the_upstream_timeout(proxy: tuple[Proxy, Upstream]) -> None:
    p, up = proxy
    with pytest.raises(Problem) as caught:  # 0.3 s by default
        await p._forward(up, request("GET", b"/api/v1/wallets/slow"), "/api/v1")
    assert caught.value.status == 504
    waiting = request("POST", b"/api/v1/wallets/slow", headers={"prefer": "wait=1"})
    response = await p._forward(up, waiting, "/api/v1")  # 1 + 5 s
    assert response.status == 200


async def test_an_upstream_that_is_down_is_unavailable() -> None:
    p, up = await make_proxy(f"http://127.0.0.1:{free_port()}")
    try:
        with pytest.raises(Problem) as caught:
            await p._forward(up, request("GET", b"/api/v1/wallets/ok"), "/api/v1")
        assert (caught.value.status, caught.value.code) == (503, "upstream_unavailable")
        assert up.breaker.state is BreakerState.CLOSED  # one failure of two
        with pytest.raises(OSError):
            await up.check_health()
    finally:
        for u in p.upstreams.values():
            await u.close()


async def test_a_cancelled_forward_releases_the_half_open_probe(
    proxy: tuple[Proxy, Upstream],
) -> None:
    p, up = proxy
    for _ in range(2):
        await p._forward(up, request("GET", b"/api/v1/wallets/down"), "/api/v1")
    await asyncio.sleep(0.6)  # the reset timeout has passed: one probe may go
    assert up.breaker.state is BreakerState.HALF_OPEN
    probe = asyncio.ensure_future(
        p._forward(up, request("GET", b"/api/v1/wallets/hang"), "/api/v1")
    )
    await asyncio.sleep(0.05)
    probe.cancel()
    with pytest.raises(asyncio.CancelledError):
        await probe
    assert up.breaker.allow()  # the probe slot is free again
