"""The consumer loop retries transient failures, dead-letters poison, and commits."""

from __future__ import annotations

import uuid

import pytest
from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from common.kafka.consumer import ConsumerLoop, PermanentError, make_consumer
from common.kafka.producer import make_producer
from common.settings import Settings
from common.topics import dlq

pytestmark = pytest.mark.integration


async def test_retries_then_dead_letters_and_commits(settings: Settings) -> None:
    # given a topic (and its DLQ) holding a good, a flaky and a poison message
    topic = f"it-loop-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, 1, 1), NewTopic(dlq(topic), 1, 1)])
    await admin.close()
    producer = make_producer(settings.kafka_bootstrap, "it")
    await producer.start()
    for value in (b"good", b"flaky", b"poison"):
        await producer.send_and_wait(topic, value, key=value)
    attempts: dict[bytes, int] = {}
    handled: list[bytes] = []

    async def handler(record: ConsumerRecord[bytes, bytes]) -> None:
        attempts[record.value] = attempts.get(record.value, 0) + 1
        if record.value == b"flaky" and attempts[b"flaky"] < 3:
            raise ConnectionError("transient")
        if record.value == b"poison":
            raise PermanentError("cannot parse")
        handled.append(record.value)

    group = f"g-{topic}"
    consumer = make_consumer(settings.kafka_bootstrap, group, [topic])
    await consumer.start()
    loop = ConsumerLoop(consumer, handler, producer, "it", attempts=3, backoff=0.01)
    try:
        # when the loop runs until all three were seen
        for _ in range(20):
            await loop.run_once(timeout_ms=1000)
            if len(attempts) == 3:
                break
        # then the flaky one succeeded on its third try, poison was tried once and dead-lettered
        assert handled == [b"good", b"flaky"]
        assert attempts == {b"good": 1, b"flaky": 3, b"poison": 1}
        assert await consumer.committed(TopicPartition(topic, 0)) == 3
    finally:
        await consumer.stop()
        await producer.stop()
    dead = make_consumer(settings.kafka_bootstrap, f"g-dlq-{topic}", [dlq(topic)])
    await dead.start()
    try:
        batch = await dead.getmany(timeout_ms=5000)
        records = [r for rs in batch.values() for r in rs]
        assert [r.value for r in records] == [b"poison"]
        headers = dict(records[0].headers)
        assert headers["dlq_origin"] == f"{topic}:0:2".encode()
        assert b"PermanentError" in headers["dlq_error"]
    finally:
        await dead.stop()
