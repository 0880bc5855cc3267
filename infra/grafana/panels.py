"""Every dashboard panel, as data: a title, a unit and its PromQL queries.

The one place the dashboards' queries live: ``infra.grafana.generate`` renders them into
Grafana's JSON, and the e2e tier runs each query against a real Prometheus after a short
load (tests/e2e/test_dashboards.py), so a panel that shows nothing fails a test.
"""

from __future__ import annotations

from dataclasses import dataclass

HTTP = "paystream_http_requests_total"
FIVEXX = 'status=~"5.."'


@dataclass(frozen=True, slots=True)
class Query:
    expr: str
    legend: str


@dataclass(frozen=True, slots=True)
class Panel:
    title: str
    description: str
    queries: tuple[Query, ...]
    unit: str = "short"


@dataclass(frozen=True, slots=True)
class Dashboard:
    uid: str
    title: str
    description: str
    panels: tuple[Panel, ...]


def q(expr: str, legend: str) -> tuple[Query, ...]:
    return (Query(" ".join(expr.split()), legend),)


SERVICES = Dashboard(
    "paystream-overview",
    "paystream: golden signals",
    "Traffic, errors, latency and saturation of every paystream process.",
    (
        Panel("Up", "1 when the last scrape of the target answered.", q("up", "{{job}}")),
        Panel(
            "Traffic",
            "HTTP requests answered per second.",
            q(f"sum by (job) (rate({HTTP}[1m]))", "{{job}}"),
            "reqps",
        ),
        Panel(
            "Errors",
            "Share of requests answered with a 5xx (0 when none).",
            q(
                f"(sum by (job) (rate({HTTP}{{{FIVEXX}}}[1m])) or sum by (job) "
                f"(rate({HTTP}[1m])) * 0) / sum by (job) (rate({HTTP}[1m]))",
                "{{job}}",
            ),
            "percentunit",
        ),
        Panel(
            "Latency p99",
            "99th percentile of the request duration (the SLO is 2.5 s).",
            q(
                "histogram_quantile(0.99, sum by (job, le) "
                "(rate(paystream_http_request_duration_seconds_bucket[1m])))",
                "{{job}}",
            ),
            "s",
        ),
        Panel(
            "Latency p50",
            "Median request duration.",
            q(
                "histogram_quantile(0.5, sum by (job, le) "
                "(rate(paystream_http_request_duration_seconds_bucket[1m])))",
                "{{job}}",
            ),
            "s",
        ),
        Panel(
            "CPU",
            "CPU seconds per second of each process (saturation: two cores in all).",
            q('rate(process_cpu_seconds_total{job!~"prometheus"}[1m])', "{{job}}"),
            "percentunit",
        ),
        Panel(
            "Memory",
            "Resident memory of each process.",
            q("process_resident_memory_bytes", "{{job}}"),
            "bytes",
        ),
    ),
)

MONEY = Dashboard(
    "paystream-money",
    "paystream: money flow",
    "Transactions by type and outcome, failure reasons, volumes and fees (minor units).",
    (
        Panel(
            "Transactions ended",
            "Transactions that reached a terminal status per second, by type and status.",
            q(
                "sum by (type, status) (rate(paystream_transactions_total[1m]))",
                "{{type}} {{status}}",
            ),
            "ops",
        ),
        Panel(
            "Failure reasons",
            "Transactions that moved nothing in the last 5 minutes, by type and reason.",
            q(
                "sum by (type, reason) (increase(paystream_transaction_failures_total[5m]))",
                "{{type}} {{reason}}",
            ),
        ),
        Panel(
            "Left for an operator",
            "Transactions that ended reversal_failed in the last hour, by type "
            "(MoneyLeftForOperator fires above 0).",
            q("type:paystream_transactions_reversal_failed:increase1h", "{{type}}"),
        ),
        Panel(
            "Money moved",
            "Completed transactions' amounts in the last 5 minutes, minor units.",
            q(
                "sum by (currency, type) (increase(paystream_money_moved_minor_units_total[5m]))",
                "{{currency}} {{type}}",
            ),
        ),
        Panel(
            "Fees collected",
            "Fees of completed transactions in the last 5 minutes, minor units, by currency.",
            q(
                "sum by (currency) (increase(paystream_fees_collected_minor_units_total[5m]))",
                "{{currency}}",
            ),
        ),
        Panel(
            "Decider decisions",
            "Wallet commands decided per second, by outcome and rejection reason.",
            q(
                "sum by (outcome, reason) (rate(paystream_decider_commands_total[1m]))",
                "{{outcome}} {{reason}}",
            ),
            "ops",
        ),
        Panel(
            "Provider calls",
            "Calls to the payment provider per second, by command and outcome.",
            q(
                "sum by (command, outcome) (rate(paystream_provider_call_seconds_count[5m]))",
                "{{command}} {{outcome}}",
            ),
            "ops",
        ),
        Panel(
            "Provider latency p99",
            "99th percentile of a provider call, retries included, by command.",
            q(
                "histogram_quantile(0.99, sum by (command, le) "
                "(rate(paystream_provider_call_seconds_bucket[5m])))",
                "{{command}}",
            ),
            "s",
        ),
        Panel(
            "Notifications",
            "Notifications whose delivery ended per second, by channel and outcome.",
            q(
                "sum by (channel, outcome) (rate(paystream_notifications_total[5m]))",
                "{{channel}} {{outcome}}",
            ),
            "ops",
        ),
        Panel(
            "Webhook attempts",
            "Merchants' webhook delivery attempts per second, by outcome.",
            q(
                "sum by (outcome) (rate(paystream_webhook_attempts_total[5m]))",
                "{{outcome}}",
            ),
            "ops",
        ),
        Panel(
            "Audit chain",
            "Records in the hash-chained audit log.",
            q("max(paystream_audit_chain_length)", "records"),
        ),
        Panel(
            "Audit verification",
            "1 when the last verification of the audit chain found no broken link.",
            q("min(paystream_audit_verify_ok)", "ok"),
        ),
    ),
)

PIPELINES = Dashboard(
    "paystream-pipelines",
    "paystream: pipelines",
    "Consumer lag, batch times, sagas in flight and dead-letter topics.",
    (
        Panel(
            "Consumer lag",
            "Records not yet applied per group and topic (end offset minus stored offset).",
            q("sum by (group, topic) (paystream_consumer_lag)", "{{group}} {{topic}}"),
        ),
        Panel(
            "Records applied",
            "Records handled per second by each tracked consumer, by outcome.",
            q(
                "sum by (service, outcome) (rate(paystream_events_processed_total[1m]))",
                "{{service}} {{outcome}}",
            ),
            "ops",
        ),
        Panel(
            "Batch time p99",
            "99th percentile of one batch applied and committed, per consumer.",
            q(
                "histogram_quantile(0.99, sum by (service, le) "
                "(rate(paystream_consumer_batch_seconds_bucket[5m])))",
                "{{service}}",
            ),
            "s",
        ),
        Panel(
            "Sagas in flight",
            "Transactions made in the last hour that are not terminal yet, by type.",
            q("sum by (type) (paystream_sagas_in_flight)", "{{type}}"),
        ),
        Panel(
            "Oldest saga in flight",
            "Age of the oldest of them (SagaStuck fires above 5 minutes).",
            q("max by (type) (paystream_saga_oldest_in_flight_age_seconds)", "{{type}}"),
            "s",
        ),
        Panel(
            "Dead-letter topics",
            "Records held by each dead-letter topic (DeadLettersPresent fires above 0).",
            q("topic:paystream_dlq_depth:sum", "{{topic}}"),
        ),
    ),
)

BACKING = Dashboard(
    "paystream-backing",
    "paystream: Kafka, Postgres, Redis",
    "The backing services, through their standard exporters.",
    (
        Panel(
            "Kafka messages in",
            "Messages appended per second, by topic.",
            q("sum by (topic) (rate(kafka_topic_messagesin_total[1m]))", "{{topic}}"),
            "ops",
        ),
        Panel(
            "Kafka bytes in and out",
            "Bytes per second the broker received and sent.",
            (
                Query("rate(kafka_broker_bytesin_total[1m])", "in"),
                Query("rate(kafka_broker_bytesout_total[1m])", "out"),
            ),
            "Bps",
        ),
        Panel(
            "Kafka request time p99",
            "The broker's 99th percentile time per request type.",
            q('kafka_request_total_time_ms{quantile="0.99"}', "{{request}}"),
            "ms",
        ),
        Panel(
            "Kafka partitions",
            "Partitions on the broker, and those under-replicated.",
            (
                Query("kafka_replica_manager_partitioncount", "partitions"),
                Query("kafka_replica_manager_underreplicatedpartitions", "under-replicated"),
            ),
        ),
        Panel(
            "Kafka heap",
            "The broker's JVM heap in use.",
            q('jvm_memory_used_bytes{job="kafka",area="heap"}', "heap"),
            "bytes",
        ),
        Panel(
            "Postgres transactions",
            "Commits and rollbacks per second in the paystream database.",
            (
                Query('rate(pg_stat_database_xact_commit{datname="paystream"}[1m])', "commit"),
                Query('rate(pg_stat_database_xact_rollback{datname="paystream"}[1m])', "rollback"),
            ),
            "ops",
        ),
        Panel(
            "Postgres connections",
            "Connections to the paystream database by state.",
            q(
                'sum by (state) (pg_stat_activity_count{datname="paystream"})',
                "{{state}}",
            ),
        ),
        Panel(
            "Postgres database size",
            "Size of the paystream database.",
            q('pg_database_size_bytes{datname="paystream"}', "paystream"),
            "bytes",
        ),
        Panel(
            "Redis commands",
            "Commands Redis processed per second.",
            q("rate(redis_commands_processed_total[1m])", "commands"),
            "ops",
        ),
        Panel(
            "Redis clients and memory",
            "Connected clients, and memory in use.",
            (
                Query("redis_connected_clients", "clients"),
                Query("redis_memory_used_bytes", "memory bytes"),
            ),
        ),
    ),
)

DASHBOARDS = (SERVICES, MONEY, PIPELINES, BACKING)
