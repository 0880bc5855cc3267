"""The upstream services: one pooled HTTP client and one circuit breaker each."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx

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
    client: httpx.AsyncClient
    breaker: CircuitBreaker

    async def check_health(self) -> None:
        """Readiness check: the upstream's ``/health`` answers 200."""
        resp = await self.client.get("/health")
        if resp.status_code != 200:
            raise RuntimeError(f"/health answered {resp.status_code}")


def upstream_urls(settings: GatewaySettings) -> dict[str, str]:
    return {name: str(getattr(settings, f"{name}_url")).rstrip("/") for name in UPSTREAMS}


def _gauge_for(name: str) -> Callable[[BreakerState], None]:
    """Keeps ``paystream_gateway_breaker_open{upstream=name}`` in step with the breaker."""

    def update(state: BreakerState) -> None:
        BREAKER_OPEN.labels(name).set(0 if state is BreakerState.CLOSED else 1)

    return update


def make_upstreams(settings: GatewaySettings) -> dict[str, Upstream]:
    """One client per upstream (the pool is per client), created by the lifespan."""
    limits = httpx.Limits(
        max_connections=settings.upstream_max_connections,
        max_keepalive_connections=settings.upstream_max_keepalive,
    )
    timeout = httpx.Timeout(
        settings.upstream_timeout_s, connect=settings.upstream_connect_timeout_s
    )
    upstreams = {}
    for name, url in upstream_urls(settings).items():
        breaker = CircuitBreaker(
            settings.breaker_failure_threshold,
            settings.breaker_reset_timeout_s,
            on_change=_gauge_for(name),
        )
        BREAKER_OPEN.labels(name).set(0)
        client = httpx.AsyncClient(
            base_url=url,
            limits=limits,
            timeout=timeout,
            headers={"accept-encoding": "identity"},
            follow_redirects=False,
        )
        upstreams[name] = Upstream(name, url, client, breaker)
    return upstreams
