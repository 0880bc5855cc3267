"""Prometheus metrics: every paystream series (HTTP, consumers, money, sagas, decider,
provider, notifications, audit) and a ``/metrics`` route. docs/operations.md lists them."""

from __future__ import annotations

from collections.abc import Iterable
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
    ["service", "group", "topic", "partition"],
)
CPU_WORK_REFUSED = Counter(
    "paystream_cpu_work_refused_total",
    "CPU-heavy calls (password hashing, common.cpu) refused 503: no slot free in time",
    ["service"],
)
NOTIFICATIONS = Counter(
    "paystream_notifications_total",
    "Notifications whose delivery ended (notification_worker), by channel and outcome",
    ["channel", "kind", "outcome"],
)

# --- money: counted by the saga worker when a transaction ends ---------------------------
TRANSACTIONS = Counter(
    "paystream_transactions_total",
    "Transactions that reached a terminal status, by type (saga kind) and status",
    ["type", "status"],
)
TRANSACTION_FAILURES = Counter(
    "paystream_transaction_failures_total",
    "Transactions that ended without moving money, by type and failure reason",
    ["type", "reason"],
)
MONEY_MOVED = Counter(
    "paystream_money_moved_minor_units_total",
    "Amount of completed transactions, in the currency's minor unit",
    ["type", "currency"],
)
FEES_COLLECTED = Counter(
    "paystream_fees_collected_minor_units_total",
    "Fees of completed transactions, in the currency's minor unit",
    ["type", "currency"],
)
SAGAS_IN_FLIGHT = Gauge(
    "paystream_sagas_in_flight",
    "Transactions not yet terminal among those made in the watched window, by type",
    ["type"],
)
SAGA_OLDEST_AGE = Gauge(
    "paystream_saga_oldest_in_flight_age_seconds",
    "Age of the oldest transaction not yet terminal in the watched window (0: none)",
    ["type"],
)
# --- the wallet decider --------------------------------------------------------------------
DECISIONS = Counter(
    "paystream_decider_commands_total",
    "Commands decided, by outcome (the last event's type, duplicate or dead_lettered) "
    "and the rejection's reason (empty when accepted)",
    ["outcome", "reason"],
)
# --- the payment provider, as the provider worker sees it ---------------------------------
PROVIDER_CALLS = Histogram(
    "paystream_provider_call_seconds",
    "One provider command carried to pgw_svc (retries included), by command and outcome",
    ["command", "outcome"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
# --- the provider's own callbacks (pgw_svc's settlement task) ------------------------------
PROVIDER_CALLBACK_OUTCOMES = ("delivered", "retry", "given_up")
PROVIDER_CALLBACKS = Counter(
    "paystream_provider_callback_attempts_total",
    "pgw_svc's signed charge callback attempts, by outcome (delivered, retry later, given up)",
    ["outcome"],
)
# --- merchants' webhooks (transaction_svc's delivery worker) -------------------------------
WEBHOOK_OUTCOMES = ("delivered", "retry", "given_up")
WEBHOOK_ATTEMPTS = Counter(
    "paystream_webhook_attempts_total",
    "Webhook delivery attempts, by outcome (delivered, retry later, given up)",
    ["outcome"],
)
WEBHOOK_ATTEMPT_SECONDS = Histogram(
    "paystream_webhook_attempt_seconds", "Time a webhook delivery attempt took"
)
# --- the audit log ------------------------------------------------------------------------
# labelled by the audit log's database: only the process that keeps the log has them
AUDIT_CHAIN_LENGTH = Gauge(
    "paystream_audit_chain_length",
    "Seq of the audit log's head (its records, gap-free)",
    ["database"],
)
AUDIT_VERIFY_OK = Gauge(
    "paystream_audit_verify_ok",
    "1 if the last background verification of the whole chain found no broken link, else 0",
    ["database"],
)
AUDIT_VERIFY_TIME = Gauge(
    "paystream_audit_verify_timestamp_seconds",
    "When the last background verification of the whole chain ended",
    ["database"],
)
AUDIT_VERIFY_CHECKED = Gauge(
    "paystream_audit_verify_checked",
    "Records the last background verification walked before the end or a broken link",
    ["database"],
)


def declare_terminal(kinds: Iterable[str], statuses: Iterable[str]) -> None:
    """Create the ``paystream_transactions_total`` series at 0, so that the first
    transaction of each is a rise that ``rate()`` sees, not a series born at 1."""
    for kind in kinds:
        for status in statuses:
            TRANSACTIONS.labels(kind, status)


def observe_terminal(
    kind: str, status: str, reason: str | None, currency: str, amount: int, fee: int
) -> None:
    """Count one transaction that ended: its status, its failure reason, and for a
    completed one its amount and fee in minor units (integers, never floats)."""
    TRANSACTIONS.labels(kind, status).inc()
    if status == "COMPLETED":
        MONEY_MOVED.labels(kind, currency).inc(amount)
        FEES_COLLECTED.labels(kind, currency).inc(fee)
    else:
        TRANSACTION_FAILURES.labels(kind, reason or "unknown").inc()


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
