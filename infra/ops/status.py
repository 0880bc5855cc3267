"""``paystream status``: each process's readiness, then what Prometheus knows of the
pipelines (consumer lag, sagas in flight) and each dead-letter topic's depth, read from
Kafka itself."""

from __future__ import annotations

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from rich.console import Console
from rich.table import Table

from common.kafka.consumer import topic_partitions
from common.topics import ALL_TOPICS, dlq
from infra.local.stack import process_states
from infra.ops.target import Target

STATE_STYLE = {"ready": "green", "up": "green", "not-ready": "yellow", "down": "red"}
LAG = "group_topic:paystream_consumer_lag:sum"
IN_FLIGHT = "paystream_sagas_in_flight"
OLDEST = "max by (type) (paystream_saga_oldest_in_flight_age_seconds)"


def prometheus(target: Target, expr: str) -> list[tuple[dict[str, str], float]] | None:
    """An instant query's (labels, value) pairs; None when Prometheus does not answer."""
    try:
        r = httpx.get(f"{target.prometheus_url}/api/v1/query", params={"query": expr}, timeout=5)
        r.raise_for_status()
    except httpx.HTTPError:
        return None
    return [(s["metric"], float(s["value"][1])) for s in r.json()["data"]["result"]]


async def dlq_depths(bootstrap: str) -> dict[str, int]:
    """Records in each ``<topic>.dlq``: its end offsets minus its first kept offsets."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        depths = {}
        for topic in map(dlq, ALL_TOPICS):
            tps = [TopicPartition(topic, p) for p in await topic_partitions(bootstrap, topic)]
            if not tps:
                continue
            ends = await consumer.end_offsets(tps)
            starts = await consumer.beginning_offsets(tps)
            depths[topic] = sum(ends[tp] - starts[tp] for tp in tps)
        return depths
    finally:
        await consumer.stop()


async def status(target: Target, console: Console) -> int:
    """Print the tables; 0 when every process is ready and every DLQ empty."""
    states = process_states(target.cfg)
    processes = Table("process", "state", "pid", "port", title="Processes")
    for s in states:
        style = STATE_STYLE[s.state]
        processes.add_row(s.name, f"[{style}]{s.state}[/]", str(s.pid or "-"), str(s.port))
    console.print(processes)

    lag = prometheus(target, LAG)
    if lag is None:
        console.print(f"[red]Prometheus at {target.prometheus_url} does not answer[/]")
    else:
        table = Table("group", "topic", "lag", title="Consumer lag (records)")
        for labels, value in sorted(lag, key=lambda item: -item[1]):
            table.add_row(labels.get("group", ""), labels.get("topic", ""), f"{value:.0f}")
        console.print(table)
        oldest = {labels["type"]: v for labels, v in prometheus(target, OLDEST) or []}
        sagas = Table("type", "in flight", "oldest (s)", title="Sagas in flight (last hour)")
        for labels, value in sorted(
            prometheus(target, IN_FLIGHT) or [], key=lambda i: i[0]["type"]
        ):
            kind = labels["type"]
            sagas.add_row(kind, f"{value:.0f}", f"{oldest.get(kind, 0.0):.0f}")
        console.print(sagas)

    depths = await dlq_depths(target.kafka_bootstrap)
    dlqs = Table("topic", "records", title="Dead-letter topics")
    for topic, depth in depths.items():
        dlqs.add_row(topic, f"[red]{depth}[/]" if depth else "0")
    console.print(dlqs)
    healthy = all(s.state in ("ready", "up") for s in states) and not any(depths.values())
    return 0 if healthy else 1
