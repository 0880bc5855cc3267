"""Prometheus metrics: the HTTP series, the consumers' series and a ``/metrics`` route."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

HTTP_REQUESTS = Counter(
    "paystream_http_requests_total",
    "HTTP requests answered",
    ["service", "method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "paystream_http_request_duration_seconds",
    "HTTP request duration",
    ["service", "method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
EVENTS_PROCESSED = Counter(
    "paystream_events_processed_total",
    "Kafka messages handled by a consumer loop",
    ["service", "topic", "outcome"],
)
CONSUMER_BATCH_SECONDS = Histogram(
    "paystream_consumer_batch_seconds",
    "One batch of a tracked consumer (common.kafka.tracked), applied and committed",
    ["service"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
CONSUMER_LAG = Gauge(
    "paystream_consumer_lag",
    "End offset minus the stored next offset of a tracked consumer, per partition",
    ["service", "topic", "partition"],
)
NOTIFICATIONS = Counter(
    "paystream_notifications_total",
    "Notifications whose delivery ended (notification_worker), by channel and outcome",
    ["channel", "kind", "outcome"],
)


_SERIES: dict[tuple[str, str, str, int], tuple[Any, Any]] = {}


def observe_http(service: str, method: str, route: str, status: int, seconds: float) -> None:
    """Count and time one answered request by route template (``/wallets/{wallet_id}``,
    so labels stay few). The labelled series are looked up once per label set: the
    lookup costs more than the increment on the hot path."""
    key = (service, method, route, status)
    series = _SERIES.get(key)
    if series is None:
        series = (
            HTTP_REQUESTS.labels(service, method, route, str(status)),
            HTTP_LATENCY.labels(service, method, route),
        )
        _SERIES[key] = series
    series[0].inc()
    series[1].observe(seconds)


def install_metrics(app: FastAPI) -> None:
    """The ``/metrics`` route (requests are observed by :mod:`common.context`)."""

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
