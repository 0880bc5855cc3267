"""Kafka consumers as paystream configures them.

Progress is never committed to Kafka by a timer: the tracked consumer
(``common.kafka.tracked``) stores offsets with its effects, the decider commits them in
its Kafka transactions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from common.metrics import CONSUMER_LAG


def make_consumer(
    bootstrap: str,
    group_id: str,
    topics: Sequence[str] = (),
    client_id: str | None = None,
    max_poll_records: int = 1000,
    fetch: dict[str, int] | None = None,
) -> AIOKafkaConsumer:
    """A ``read_committed`` consumer with auto-commit off, reading from the earliest offset.

    Without ``topics`` the caller subscribes itself (with a rebalance listener);
    ``fetch`` sets fetch sizes and waits (``Settings.fetch_tuning()``)."""
    return AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        group_id=group_id,
        client_id=client_id or group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        max_poll_records=max_poll_records,
        **(fetch or {}),
    )


async def topic_partitions(bootstrap: str, topic: str) -> list[int]:
    """The partition ids of ``topic`` (none when it does not exist), asked of the cluster:
    for readers that assign partitions themselves instead of joining a group."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return sorted(
        p["partition"]
        for t in described
        if t["topic"] == topic and not t["error_code"]
        for p in t["partitions"]
    )


async def read_records(bootstrap: str, topic: str) -> list[ConsumerRecord[bytes, bytes]]:
    """Every committed record of ``topic`` up to its current end, in partition order
    (a reader of a whole topic: the tests, the operator command's ``dlq show``)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, isolation_level="read_committed", enable_auto_commit=False
    )
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in await topic_partitions(bootstrap, topic)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        out: list[ConsumerRecord[bytes, bytes]] = []
        while [tp for tp in tps if await consumer.position(tp) < end[tp]]:
            batch = await consumer.getmany(timeout_ms=500, max_records=5000)
            for records in batch.values():
                out.extend(records)
        return out
    finally:
        await consumer.stop()


def lags(
    consumer: AIOKafkaConsumer, next_offsets: Mapping[TopicPartition, int]
) -> dict[TopicPartition, int]:
    """Each assigned partition's end offset (the last stable one under
    ``read_committed``) minus ``next_offsets`` (where the group's progress is stored), from
    the last fetch's metadata: no round trip. A partition without either is left out."""
    out = {}
    for tp in consumer.assignment():
        stored = next_offsets.get(tp)
        if stored is None:
            continue
        end = consumer.last_stable_offset(tp)
        if end is None or end < 0:
            end = consumer.highwater(tp)
        if end is not None and end >= 0:
            out[tp] = end - stored
    return out


def report_lag(
    consumer: AIOKafkaConsumer, service: str, group: str, next_offsets: Mapping[TopicPartition, int]
) -> None:
    """Set ``paystream_consumer_lag`` of each assigned partition (``lags``)."""
    for tp, lag in lags(consumer, next_offsets).items():
        CONSUMER_LAG.labels(service, group, tp.topic, str(tp.partition)).set(lag)


class _EventId(msgspec.Struct):
    event_id: str | None = None


_event_id = msgspec.json.Decoder(_EventId)
MAX_ERROR_CHARS = 200


def record_context(
    records: Sequence[ConsumerRecord[bytes, bytes]], error: BaseException | None = None
) -> dict[str, Any]:
    """What a log line about consumed records says: where they are (``topic``,
    ``partition``, ``offset`` of the first, ``last_offset`` when there are more,
    ``records``), for one record its ``event_id`` when its value is an envelope that
    names one (a record that is not JSON has none), and the ``error`` if one is given."""
    context: dict[str, Any] = {}
    if error is not None:
        context["error"] = f"{type(error).__name__}: {error}"[:MAX_ERROR_CHARS]
    if not records:
        return context
    first, last = records[0], records[-1]
    context |= {
        "topic": first.topic,
        "partition": first.partition,
        "offset": first.offset,
    }
    if len(records) > 1:
        context |= {"last_offset": last.offset, "records": len(records)}
        if last.topic != first.topic or last.partition != first.partition:
            context["last"] = f"{last.topic}:{last.partition}:{last.offset}"
    else:
        try:
            event_id = _event_id.decode(first.value or b"").event_id
        except msgspec.MsgspecError:
            event_id = None
        if event_id is not None:
            context["event_id"] = event_id
    return context
