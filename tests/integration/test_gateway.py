"""The gateway in front of real services: tokens, forwarding, limits, breaker, probes.

The gateway and wallet_svc run as real processes. user_svc (for its JWKS) and the other
upstreams are played by one small HTTP server in this test process, listening on their
ports: it publishes a JWKS for a key the test signs tokens with, an OpenAPI document per
service, ``/health``, and an echo endpoint under ``/audit`` that shows what arrived.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from common.settings import Settings
from infra.local.procs import stop
from infra.local.stack import start_app
from infra.testing.prometheus import samples_in
from infra.testing.stack import StackUnderTest

pytestmark = pytest.mark.integration

KID = "it-key-1"
SIGNING_KEY = Ed25519PrivateKey.generate()
FAKES = ("user_svc", "transaction_svc", "pgw_svc", "notification_worker", "audit_svc")
GATEWAY_ENV = {
    "PAYSTREAM_RATE_LIMIT_IP_PER_MINUTE": "10000",
    "PAYSTREAM_RATE_LIMIT_USER_PER_MINUTE": "5",
    "PAYSTREAM_RATE_LIMIT_WINDOW_S": "2",
    "PAYSTREAM_MAX_BODY_BYTES": "1024",
    "PAYSTREAM_BREAKER_FAILURE_THRESHOLD": "3",
    "PAYSTREAM_BREAKER_RESET_TIMEOUT_S": "1",
    "PAYSTREAM_UPSTREAM_TIMEOUT_S": "5",
}
TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
TRACEPARENT = f"00-{TRACE_ID}-b7ad6b7169203331-01"


def token(subject: str | None = None, key: Ed25519PrivateKey = SIGNING_KEY, kid: str = KID) -> str:
    settings = Settings()
    now = int(time.time())
    claims = {
        "sub": subject or str(uuid.uuid4()),
        "role": "user",
        "typ": "access",
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "exp": now + 300,
        "jti": str(uuid.uuid4()),
    }
    return jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": kid})


def bearer(subject: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(subject)}"}


# --- the stand-in upstreams -------------------------------------------------------------


def _jwks() -> dict[str, Any]:
    jwk = OKPAlgorithm.to_jwk(SIGNING_KEY.public_key(), as_dict=True)
    return {"keys": [{**jwk, "kid": KID, "use": "sig", "alg": "EdDSA"}]}


def _openapi_for(service: str) -> dict[str, Any]:
    path = {"user_svc": "/auth/login", "audit_svc": "/audit/logs"}.get(service, f"/{service}-x")
    return {
        "openapi": "3.1.0",
        "info": {"title": service, "version": "0"},
        "paths": {path: {"get": {"operationId": f"{service}_op", "responses": {"200": {}}}}},
    }


def fake_upstreams_app(port_to_service: dict[int, str]) -> Starlette:
    def service_of(request: Request) -> str:
        return port_to_service[request.url.port or 0]

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def jwks(request: Request) -> Response:
        return JSONResponse(_jwks())

    async def openapi(request: Request) -> Response:
        return JSONResponse(_openapi_for(service_of(request)))

    async def echo(request: Request) -> Response:
        body = await request.body()
        seen = {
            "service": service_of(request),
            "method": request.method,
            "path": request.url.path,
            "query": request.url.query,
            "headers": dict(request.headers),
            "body": body.decode(),
        }
        status = int(request.query_params.get("status", "200"))
        return JSONResponse(seen, status_code=status, headers={"x-upstream": "echo"})

    return Starlette(
        routes=[
            Route("/health", health),
            Route("/.well-known/jwks.json", jwks),
            Route("/openapi.json", openapi),
            Route("/audit/echo", echo, methods=["GET", "POST", "PUT", "DELETE"]),
        ]
    )


@pytest.fixture(scope="module")
def fake_upstreams(stack: StackUnderTest) -> Iterator[None]:
    ports = {stack.cfg.service_ports[name]: name for name in FAKES}
    sockets = []
    for port in ports:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sockets.append(sock)
    config = uvicorn.Config(fake_upstreams_app(ports), log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": sockets}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the stand-in upstreams did not start"
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(10)
        for sock in sockets:
            sock.close()


# --- the gateway ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gw(stack: StackUnderTest, fake_upstreams: None) -> Iterator[httpx.Client]:
    saved = {k: os.environ.get(k) for k in GATEWAY_ENV}
    os.environ.update(GATEWAY_ENV)
    try:
        stack.start_apps(["wallet_svc", "gateway"])
        url = f"http://127.0.0.1:{stack.cfg.service_ports['gateway']}"
        with httpx.Client(base_url=url, timeout=10) as client:
            yield client
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(scope="module")
def wallet(stack: StackUnderTest) -> Iterator[httpx.Client]:
    url = f"http://127.0.0.1:{stack.cfg.service_ports['wallet_svc']}"
    with httpx.Client(base_url=url, timeout=10) as client:
        yield client


def breaker_gauge(client: httpx.Client, upstream: str) -> float:
    page = client.get("/metrics").text
    gauges = samples_in(page, "paystream_gateway_breaker_open", upstream=upstream)
    assert gauges, f"no breaker gauge for {upstream}"
    return gauges[0].value


def wait_for(check: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


# --- the tests ------------------------------------------------------------------------------


def test_probes_report_redis_and_every_upstream(gw: httpx.Client) -> None:
    assert gw.get("/health").json() == {"status": "ok"}
    ready = gw.get("/ready")
    assert ready.status_code == 200, ready.text
    checks = ready.json()["checks"]
    assert checks["redis"] == "ok"
    assert {f"upstream:{n}" for n in (*FAKES, "wallet_svc")} <= set(checks)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer not-a-jwt"},
        {"Authorization": f"Bearer {token(key=Ed25519PrivateKey.generate())}"},
        {"Authorization": f"Bearer {token(kid='unknown-kid')}"},
        {"Authorization": f"Basic {token()}"},
    ],
    ids=["no-token", "garbage", "wrong-signature", "unknown-kid", "not-bearer"],
)
def test_a_protected_route_refuses_a_missing_or_bad_token(
    gw: httpx.Client, headers: dict[str, str]
) -> None:
    # when a request without a valid token asks for a protected route
    resp = gw.get("/api/v1/audit/echo", headers=headers)
    # then the gateway answers 401 itself
    assert resp.status_code == 401
    assert resp.headers["content-type"] == "application/problem+json"
    assert resp.json()["code"] == "unauthorized"
    assert resp.headers["www-authenticate"] == "Bearer"
    assert "x-upstream" not in resp.headers


def test_public_routes_need_no_token(gw: httpx.Client) -> None:
    for path in ("/api/v1/.well-known/jwks.json", "/.well-known/jwks.json"):
        resp = gw.get(path)
        assert resp.status_code == 200
        assert resp.json()["keys"][0]["kid"] == KID


def test_a_request_is_forwarded_with_its_body_query_headers_and_trace(gw: httpx.Client) -> None:
    # given a valid token and a request with ids, trace context and headers to keep or drop
    auth = bearer()
    headers = {
        **auth,
        "Content-Type": "application/json",
        "Idempotency-Key": "idem-1",
        "Prefer": "wait=2",
        "X-Request-ID": "req-gw-1",
        "traceparent": TRACEPARENT,
        "Cookie": "session=secret",
        "X-Private": "not for upstreams",
    }
    # when it goes through the gateway
    resp = gw.post(
        "/api/v1/audit/echo?status=201&q=a%20b", content=b'{"amount": 2550}', headers=headers
    )
    # then the upstream's status, body and headers come back
    assert resp.status_code == 201
    assert resp.headers["x-upstream"] == "echo"
    seen = resp.json()
    assert seen["service"] == "audit_svc"
    assert seen["method"] == "POST" and seen["path"] == "/audit/echo"
    assert seen["query"] == "status=201&q=a%20b"
    assert seen["body"] == '{"amount": 2550}'
    # and the upstream got the token, the end-to-end headers and the ids, nothing else
    got = seen["headers"]
    assert got["authorization"] == auth["Authorization"]
    assert got["idempotency-key"] == "idem-1" and got["prefer"] == "wait=2"
    assert got["x-request-id"] == "req-gw-1"
    assert got["traceparent"].split("-")[1] == TRACE_ID
    assert got["traceparent"] != TRACEPARENT  # the gateway's own span
    assert "cookie" not in got and "x-private" not in got
    # and the caller sees its request id and its trace
    assert resp.headers["x-request-id"] == "req-gw-1"
    assert resp.headers["traceparent"].split("-")[1] == TRACE_ID
    assert resp.headers.get_list("x-request-id") == ["req-gw-1"]
    assert int(resp.headers["ratelimit-limit"]) == 5
    assert int(resp.headers["ratelimit-remaining"]) == 4


def test_a_real_service_answers_through_the_gateway_as_it_answers_directly(
    gw: httpx.Client, wallet: httpx.Client
) -> None:
    headers = bearer()
    direct = wallet.get("/wallets", headers=headers)
    via = gw.get("/api/v1/wallets", headers=headers)
    assert via.status_code == direct.status_code
    assert via.content == direct.content
    assert via.headers["content-type"] == direct.headers["content-type"]


def test_unknown_routes_are_404_problems(gw: httpx.Client) -> None:
    resp = gw.get("/api/v1/nowhere", headers=bearer())
    assert resp.status_code == 404 and resp.json()["code"] == "route_not_found"


def test_a_body_over_the_limit_is_refused_with_413(gw: httpx.Client) -> None:
    # declared by Content-Length
    resp = gw.post("/api/v1/audit/echo", content=b"x" * 2048, headers=bearer())
    assert resp.status_code == 413
    assert resp.headers["content-type"] == "application/problem+json"
    assert resp.json()["code"] == "body_too_large"

    # and sent chunked, without a length
    def chunks() -> Iterator[bytes]:
        for _ in range(4):
            yield b"y" * 512

    resp = gw.post("/api/v1/audit/echo", content=chunks(), headers=bearer())
    assert resp.status_code == 413
    # a body at the limit passes
    resp = gw.post("/api/v1/audit/echo", content=b"z" * 1024, headers=bearer())
    assert resp.status_code == 200 and len(resp.json()["body"]) == 1024


def test_the_user_rate_limit_trips_and_recovers_after_the_window(gw: httpx.Client) -> None:
    # given a user limit of 5 requests per 2 s window
    headers = bearer(f"rl-{uuid.uuid4()}")
    remaining = []
    for _ in range(5):
        resp = gw.get("/api/v1/audit/echo", headers=headers)
        assert resp.status_code == 200
        remaining.append(int(resp.headers["ratelimit-remaining"]))
    assert remaining == [4, 3, 2, 1, 0]
    # when the sixth request comes in the same window
    refused = gw.get("/api/v1/audit/echo", headers=headers)
    # then it is refused with 429 and told when to come back
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["code"] == "rate_limited"
    retry_after = int(refused.headers["retry-after"])
    assert 1 <= retry_after <= 2
    assert refused.headers["ratelimit-limit"] == "5"
    assert refused.headers["ratelimit-remaining"] == "0"
    assert 1 <= int(refused.headers["ratelimit-reset"]) <= 2
    # another user is not affected
    assert gw.get("/api/v1/audit/echo", headers=bearer()).status_code == 200
    # and after the window the user gets through again
    time.sleep(retry_after + 0.2)
    again = gw.get("/api/v1/audit/echo", headers=headers)
    assert again.status_code == 200 and again.headers["ratelimit-remaining"] == "4"


def test_the_breaker_opens_when_an_upstream_stops_and_closes_when_it_returns(
    gw: httpx.Client, wallet: httpx.Client, stack: StackUnderTest
) -> None:
    assert breaker_gauge(gw, "wallet_svc") == 0
    # given wallet_svc stopped
    stop("wallet_svc", stack.cfg.run_dir)
    try:
        # then /ready says so
        ready = gw.get("/ready")
        assert ready.status_code == 503
        checks = ready.json()["checks"]
        assert checks["upstream:wallet_svc"] != "ok" and checks["redis"] == "ok"
        # when requests keep failing (threshold 3), they are 503s from the failed calls
        for _ in range(3):
            resp = gw.get("/api/v1/wallets", headers=bearer())
            assert resp.status_code == 503
            assert resp.json()["code"] == "upstream_unavailable"
            assert "circuit" not in resp.json()
        # then the breaker is open: fast 503s without calling the upstream
        started = time.perf_counter()
        resp = gw.get("/api/v1/wallets", headers=bearer())
        elapsed = time.perf_counter() - started
        assert resp.status_code == 503
        assert resp.headers["content-type"] == "application/problem+json"
        body = resp.json()
        assert body["code"] == "upstream_unavailable" and body["circuit"] == "open"
        assert body["upstream"] == "wallet_svc"
        assert int(resp.headers["retry-after"]) >= 1
        assert elapsed < 0.5
        assert breaker_gauge(gw, "wallet_svc") == 1
        # other upstreams are not affected
        assert gw.get("/api/v1/audit/echo", headers=bearer()).status_code == 200
    finally:
        # when wallet_svc is back (start_app waits for its /health)
        start_app(stack.cfg, "wallet_svc")
    # then after the reset timeout (1 s) a probe goes through and closes the breaker
    time.sleep(1.1)
    headers = bearer()
    resp = gw.get("/api/v1/wallets", headers=headers)
    assert resp.status_code == wallet.get("/wallets", headers=headers).status_code
    assert "circuit" not in resp.text
    assert breaker_gauge(gw, "wallet_svc") == 0
    wait_for(lambda: gw.get("/ready").status_code == 200)


def test_one_openapi_document_covers_every_service(gw: httpx.Client) -> None:
    doc = gw.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    assert "/api/v1/auth/login" in doc["paths"]
    assert "/api/v1/audit/logs" in doc["paths"]
    # a path the table routes elsewhere is left out
    assert "/api/v1/pgw_svc-x" not in doc["paths"]
    assert doc["x-upstreams"]["wallet_svc"] == "ok"
    assert doc["paths"]["/api/v1/auth/login"]["get"]["operationId"] == "user_svc_op"
    docs = gw.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    # and the Swagger UI it loads is served by the gateway itself, not a CDN
    assets = re.findall(r'(?:src|href)="([^"]+)"', docs.text)
    assert assets and all(a.startswith("/docs/assets/") for a in assets), assets
    for asset in assets:
        assert gw.get(asset).status_code == 200, asset


def test_the_ip_rate_limit_applies_to_anonymous_callers(
    gw: httpx.Client, stack: StackUnderTest
) -> None:
    # given the gateway restarted with an IP limit of 3 requests per window
    def lower_ip_limit() -> None:
        os.environ["PAYSTREAM_RATE_LIMIT_IP_PER_MINUTE"] = "3"

    stack.restart_app("gateway", before_start=lower_ip_limit)
    try:
        # (a fresh window: wait out what earlier tests counted)
        time.sleep(2.1)
        statuses = [gw.get("/.well-known/jwks.json").status_code for _ in range(4)]
        # then the fourth request is refused
        assert statuses == [200, 200, 200, 429]
        refused = gw.get("/api/v1/.well-known/jwks.json")
        assert refused.status_code == 429 and "retry-after" in refused.headers
        # and probes are never limited
        assert gw.get("/health").status_code == 200
    finally:
        os.environ["PAYSTREAM_RATE_LIMIT_IP_PER_MINUTE"] = GATEWAY_ENV[
            "PAYSTREAM_RATE_LIMIT_IP_PER_MINUTE"
        ]
        stack.restart_app("gateway")
