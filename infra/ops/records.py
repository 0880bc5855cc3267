"""``paystream tail``: a topic's records with their headers, the envelope decoded when
the value is one."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from rich.console import Console

from common.kafka.consumer import topic_partitions
from contracts.envelope import Envelope


def decoded(record: ConsumerRecord[bytes, bytes]) -> dict[str, Any]:
    """The record's envelope as a dict, or its raw value when it is not one."""
    try:
        return dict(orjson.loads(Envelope.from_bytes(record.value or b"").to_bytes()))
    except Exception:
        return {"raw": (record.value or b"").decode(errors="replace")[:500]}


def headers_of(record: ConsumerRecord[bytes, bytes]) -> dict[str, str]:
    return {k: v.decode(errors="replace") for k, v in record.headers or ()}


async def tail(
    bootstrap: str,
    topic: str,
    from_beginning: bool,
    count: int | None,
    console: Console,
    until_end: bool = False,
) -> int:
    """Print ``topic``'s records as they arrive (from its end, or its beginning), each
    with its partition, offset, key, headers and decoded value; stop after ``count``, or
    with ``until_end`` once it reached the end the topic had when it began."""
    tps = [TopicPartition(topic, p) for p in await topic_partitions(bootstrap, topic)]
    if not tps:
        console.print(f"[red]no topic {topic}[/]")
        return 1
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, isolation_level="read_committed"
    )
    await consumer.start()
    shown = 0
    try:
        consumer.assign(tps)
        if from_beginning:
            await consumer.seek_to_beginning(*tps)
        else:
            await consumer.seek_to_end(*tps)
        ends = await consumer.end_offsets(tps)
        while count is None or shown < count:
            if until_end and all([await consumer.position(tp) >= ends[tp] for tp in tps]):
                break
            batch = await consumer.getmany(timeout_ms=1000)
            for record in (r for records in batch.values() for r in records):
                console.rule(f"{record.topic}:{record.partition}:{record.offset}")
                console.print_json(
                    data={
                        "key": (record.key or b"").decode(errors="replace"),
                        "headers": headers_of(record),
                        "value": decoded(record),
                    }
                )
                shown += 1
                if count is not None and shown >= count:
                    break
    except asyncio.CancelledError:
        pass
    finally:
        await consumer.stop()
    return 0
