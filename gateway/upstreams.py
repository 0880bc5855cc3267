"""The upstream services: one pooled HTTP client and one circuit breaker each.

The client is aiohttp's: under load its connection pool and request path cost a fraction
of the CPU httpx's do (see docs/benchmarks.md), and forwarding is the gateway's hot path."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import aiohttp

from gateway.breaker import BreakerState, CircuitBreaker
from gateway.metrics import BREAKER_OPEN
from gateway.routes import UPSTREAMS
from gateway.settings import GatewaySettings

# Statuses that mean the upstream itself is in trouble (not that the request was bad).
# A plain 500 is an answer about one request, so it does not trip the breaker.
FAILURE_STATUSES = frozenset({502, 503, 504})


@dataclass(slots=True)
class Upstream:
    name: str
    base_url: str
    client: aiohttp.ClientSession
    breaker: CircuitBreaker

    async def check_health(self) -> None:
        """Readiness check: the upstream's ``/health`` answers 200."""
        async with self.client.get(f"{self.base_url}/health") as resp:
            if resp.status != 200:
                raise RuntimeError(f"/health answered {resp.status}")


def upstream_urls(settings: GatewaySettings) -> dict[str, str]:
    return {name: str(getattr(settings, f"{name}_url")).rstrip("/") for name in UPSTREAMS}


def _gauge_for(name: str) -> Callable[[BreakerState], None]:
    """Keeps ``paystream_gateway_breaker_open{upstream=name}`` in step with the breaker."""

    def update(state: BreakerState) -> None:
        BREAKER_OPEN.labels(name).set(0 if state is BreakerState.CLOSED else 1)

    return update


def make_upstreams(settings: GatewaySettings) -> dict[str, Upstream]:
    """One client per upstream (the pool is per client), created by the lifespan."""
    timeout = aiohttp.ClientTimeout(
        total=settings.upstream_timeout_s, connect=settings.upstream_connect_timeout_s
    )
    upstreams = {}
    for name, url in upstream_urls(settings).items():
        breaker = CircuitBreaker(
            settings.breaker_failure_threshold,
            settings.breaker_reset_timeout_s,
            on_change=_gauge_for(name),
        )
        BREAKER_OPEN.labels(name).set(0)
        client = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                limit=settings.upstream_max_connections,
                limit_per_host=0,
                keepalive_timeout=30,
            ),
            timeout=timeout,
            headers={"accept-encoding": "identity"},
            skip_auto_headers=("User-Agent", "Content-Type"),
            auto_decompress=False,
        )
        upstreams[name] = Upstream(name, url, client, breaker)
    return upstreams
