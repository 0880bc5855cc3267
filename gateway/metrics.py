"""Prometheus metrics of the gateway (the HTTP ones come from ``common.metrics``)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

BREAKER_OPEN = Gauge(
    "paystream_gateway_breaker_open",
    "1 while the upstream's circuit breaker refuses calls (open or half-open), else 0",
    ["upstream"],
)
UPSTREAM_RESPONSES = Counter(
    "paystream_gateway_upstream_responses_total",
    "Outcomes of calls to upstreams: the HTTP status, or the transport error, or 'breaker_open'",
    ["upstream", "outcome"],
)
RATE_LIMITED = Counter(
    "paystream_gateway_rate_limited_total",
    "Requests refused with 429",
    [],
)
