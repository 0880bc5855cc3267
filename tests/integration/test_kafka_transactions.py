"""Kafka on this machine is real and its transactions behave (what the decider relies on)."""

from __future__ import annotations

import asyncio
import uuid

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from common.kafka.consumer import make_consumer
from common.kafka.producer import make_producer
from common.settings import Settings

pytestmark = __import__("pytest").mark.integration


async def _topic(settings: Settings, partitions: int = 1) -> str:
    name = f"it-{uuid.uuid4().hex[:10]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        await admin.close()
    return name


async def _read_all(settings: Settings, topic: str, isolation: str) -> list[bytes]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.kafka_bootstrap,
        isolation_level=isolation,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        batches = await consumer.getmany(timeout_ms=3000)
        values = [r.value for recs in batches.values() for r in recs]
        while batch := await consumer.getmany(timeout_ms=500):
            values += [r.value for recs in batch.values() for r in recs]
        return values
    finally:
        await consumer.stop()


async def _committed(consumer: AIOKafkaConsumer, tp: TopicPartition, want: int) -> int | None:
    """The group's committed offset, once the transaction markers have landed."""
    got = None
    for _ in range(50):
        got = await consumer.committed(tp)
        if got == want:
            break
        await asyncio.sleep(0.1)
    return got


async def test_committed_transaction_is_seen_and_aborted_one_is_not(settings: Settings) -> None:
    # given a topic and a transactional producer
    topic = await _topic(settings)
    producer = make_producer(settings.kafka_bootstrap, "it", transactional_id=f"tx-{topic}")
    await producer.start()
    try:
        # when one transaction commits and the next one aborts
        async with producer.transaction():
            await producer.send(topic, b"committed-1")
            await producer.send(topic, b"committed-2")
        await producer.begin_transaction()
        await producer.send(topic, b"aborted")
        await producer.abort_transaction()
    finally:
        await producer.stop()
    # then a read_committed consumer sees only the committed messages
    assert await _read_all(settings, topic, "read_committed") == [b"committed-1", b"committed-2"]
    # and a read_uncommitted one also sees the aborted write (so the check above is real)
    assert b"aborted" in await _read_all(settings, topic, "read_uncommitted")


async def test_send_offsets_to_transaction_moves_the_group_offset(settings: Settings) -> None:
    # given three input messages and a consume-transform-produce loop
    source, sink = await _topic(settings), await _topic(settings)
    plain = make_producer(settings.kafka_bootstrap, "it-plain")
    await plain.start()
    for i in range(3):
        await plain.send_and_wait(source, f"in-{i}".encode())
    await plain.stop()
    group = f"g-{source}"
    consumer = make_consumer(settings.kafka_bootstrap, group, [source])
    producer = make_producer(settings.kafka_bootstrap, "it", transactional_id=f"tx-{source}-0")
    await consumer.start()
    await producer.start()
    try:
        batches = await consumer.getmany(timeout_ms=5000)
        records = [r for recs in batches.values() for r in recs]
        assert len(records) == 3
        tp = TopicPartition(source, 0)
        # when the outputs and the input offsets commit in one transaction
        async with producer.transaction():
            for r in records:
                await producer.send(sink, r.value.upper())
            await producer.send_offsets_to_transaction({tp: records[-1].offset + 1}, group)
        # then the group's committed offset moved past the input, and the outputs exist
        assert await _committed(consumer, tp, 3) == 3
        assert await _read_all(settings, sink, "read_committed") == [b"IN-0", b"IN-1", b"IN-2"]
        # and an aborted transaction does not move it
        async with producer.transaction():
            await producer.send(sink, b"x")
        await producer.begin_transaction()
        await producer.send_offsets_to_transaction({tp: 1}, group)
        await producer.abort_transaction()
        await asyncio.sleep(1)
        assert await _committed(consumer, tp, 3) == 3
    finally:
        await producer.stop()
        await consumer.stop()
