"""The upstream services: one pooled HTTP client and one circuit breaker each.

Requests are forwarded on a :class:`common.http1.Http1Pool` per upstream: a lean
HTTP/1.1 keep-alive client of our own, in place of aiohttp's. Forwarding is the
gateway's hot path: aiohttp's client cost about 155-185 µs of CPU a request on our hosts,
httpx's over a millisecond, the pool about 35 µs (bench/client_cost.py, docs/benchmarks.md).
The pool keeps what the aiohttp session did here: at most ``upstream_max_connections``
connections, FIFO waiting for a free one, ``upstream_connect_timeout_s`` for getting a
connection (waiting included), ``upstream_timeout_s`` for the whole request unless the
proxy gives one (``Prefer: wait``), idle connections closed after 30 s (before the
services' keep-alive of 75 s ends them), and a retry on a new connection only for an
idempotent request whose reused connection was closed before any answer.
The same pool answers the readiness checks and fetches the service's OpenAPI document
(:mod:`gateway.openapi`): every call to an upstream goes through it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from common.http1 import Http1Pool
from gateway.breaker import BreakerState, CircuitBreaker
from gateway.metrics import BREAKER_OPEN
from gateway.routes import UPSTREAMS
from gateway.settings import GatewaySettings

# Statuses that mean the upstream itself is in trouble (not that the request was bad).
# A plain 500 is an answer about one request, so it does not trip the breaker.
FAILURE_STATUSES = frozenset({502, 503, 504})


# Idle connections are closed after this long (aiohttp's keepalive_timeout before): well
# before the services' own keep-alive timeout (75 s, common.app), so that a request is
# not sent on a connection the service is closing at that moment.
IDLE_TIMEOUT_S = 30.0
# Sent with every forwarded request (besides Host): bodies are passed on as they are.
FIXED_HEADERS = ((b"Accept-Encoding", b"identity"),)


@dataclass(slots=True)
class Upstream:
    name: str
    base_url: str  # without a trailing slash
    pool: Http1Pool  # forwarding, health checks, the OpenAPI document
    breaker: CircuitBreaker
    path: str = field(init=False)  # base_url's path ("" mostly): prefixed to every target

    def __post_init__(self) -> None:
        self.path = urlsplit(self.base_url).path.rstrip("/")

    async def check_health(self) -> None:
        """Readiness check: the upstream's ``/health`` answers 200."""
        status, _, _ = await self.pool.request("GET", f"{self.path}/health")
        if status != 200:
            raise RuntimeError(f"/health answered {status}")

    async def close(self) -> None:
        await self.pool.close()


def upstream_urls(settings: GatewaySettings) -> dict[str, str]:
    return {name: str(getattr(settings, f"{name}_url")).rstrip("/") for name in UPSTREAMS}


def _gauge_for(name: str) -> Callable[[BreakerState], None]:
    """Keeps ``paystream_gateway_breaker_open{upstream=name}`` in step with the breaker."""

    def update(state: BreakerState) -> None:
        BREAKER_OPEN.labels(name).set(0 if state is BreakerState.CLOSED else 1)

    return update


def make_upstreams(settings: GatewaySettings) -> dict[str, Upstream]:
    """One pool per upstream, created by the lifespan (which closes them)."""
    upstreams = {}
    for name, url in upstream_urls(settings).items():
        breaker = CircuitBreaker(
            settings.breaker_failure_threshold,
            settings.breaker_reset_timeout_s,
            on_change=_gauge_for(name),
        )
        BREAKER_OPEN.labels(name).set(0)
        pool = Http1Pool(
            url,
            max_connections=settings.upstream_max_connections,
            timeout=settings.upstream_timeout_s,
            headers=FIXED_HEADERS,
            connect_timeout=settings.upstream_connect_timeout_s,
            idle_timeout=IDLE_TIMEOUT_S,
        )
        upstreams[name] = Upstream(name, url, pool, breaker)
    return upstreams
