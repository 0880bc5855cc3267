"""MongoOffsets (common/kafka/mongo_offsets.py) on real FerretDB and Kafka: offsets only
move forward, and a tracked consumer whose effect is an insert under a unique event_id
index applies every record exactly once across a crash between effects and offsets and
a restart."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer, ConsumerRecord, TopicPartition
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from common.kafka.consumer import make_consumer
from common.kafka.mongo_offsets import MongoDocument, MongoOffsets
from common.kafka.producer import make_producer
from common.kafka.tracked import AfterCommit, Tracked, TrackedConsumer
from common.mongo import make_mongo_client
from common.settings import Settings
from common.topics import ensure_topics

pytestmark = pytest.mark.integration

DUPLICATE_KEY = 11000


class Effects:
    """Inserts one document per ``{"event_id": ...}`` record; a duplicate is skipped."""

    def __init__(self, collection: str) -> None:
        self.collection = collection
        self.pause: asyncio.Event | None = None  # set: apply stops after its effect
        self.applied = asyncio.Event()

    def decode(self, record: ConsumerRecord[bytes, bytes]) -> str:
        return str(orjson.loads(record.value or b"")["event_id"])

    async def apply(
        self, batch: Sequence[Tracked[str]], unit: AsyncDatabase[MongoDocument]
    ) -> AfterCommit | None:
        docs = [{"event_id": item.value, "offset": item.record.offset} for item in batch]
        try:
            await unit[self.collection].insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            if any(e["code"] != DUPLICATE_KEY for e in exc.details["writeErrors"]):
                raise
        self.applied.set()
        if self.pause is not None:
            await self.pause.wait()  # the effects are written, the offsets are not
        return None


@dataclass
class World:
    settings: Settings
    topic: str
    db: AsyncDatabase[MongoDocument]
    producer: AIOKafkaProducer

    @property
    def group(self) -> str:
        return f"g-{self.topic}"

    @property
    def offsets(self) -> MongoOffsets:
        return MongoOffsets(self.db["offsets"], self.group)

    @property
    def effects(self) -> AsyncCollection[MongoDocument]:
        return self.db["effects"]

    def runtime(self, handler: Effects) -> TrackedConsumer[str, Any]:
        return TrackedConsumer(
            make_consumer(self.settings.kafka_bootstrap, self.group),
            [self.topic],
            handler,
            self.offsets,
            self.producer,
            service=self.group,
            backoff=0.01,
        )

    async def stored(self) -> int:
        tp = TopicPartition(self.topic, 0)
        return (await self.offsets.load([tp])).get(tp, 0)

    async def applied(self) -> list[str]:
        return [d["event_id"] async for d in self.effects.find({}).sort("offset", 1)]

    async def until_stored(self, runtime: TrackedConsumer[str, Any], n: int) -> None:
        for _ in range(60):
            await runtime.run_once(timeout_ms=500)
            if await self.stored() == n:
                return
        raise AssertionError("the tracked consumer did not get there")


@pytest.fixture
async def world(settings: Settings) -> AsyncIterator[World]:
    topic = f"it-mongo-offsets-{uuid.uuid4().hex[:8]}"
    await ensure_topics(settings.kafka_bootstrap, 1, (topic,))
    client = make_mongo_client(settings.mongo_url, "it")
    db = client[f"it_{uuid.uuid4().hex[:8]}"]
    await db["effects"].create_index("event_id", unique=True)
    producer = make_producer(settings.kafka_bootstrap, "it-mongo-offsets")
    await producer.start()
    try:
        yield World(settings, topic, db, producer)
    finally:
        await producer.stop()
        await client.drop_database(db.name)
        await client.close()


async def _send(world: World, *event_ids: str) -> None:
    for event_id in event_ids:
        raw = orjson.dumps({"event_id": event_id})
        await world.producer.send_and_wait(world.topic, raw, key=b"k")


async def test_saved_offsets_move_forward_never_back(world: World) -> None:
    # given a partition never saved, and one saved at 7
    offsets = world.offsets
    a, b = TopicPartition("t", 0), TopicPartition("t", 1)
    assert await offsets.load([a, b]) == {}
    async with offsets.unit() as unit:
        await offsets.save(unit, {a: 7})
        # when a smaller offset is saved for it and a first one for the other
        await offsets.save(unit, {a: 3, b: 2})
        # then the larger stays, the new one is stored, and lock reads the same
        assert await offsets.lock(unit, [a, b]) == {a: 7, b: 2}
    # and another consumer's offsets are its own
    assert await MongoOffsets(world.db["offsets"], "other").load([a, b]) == {}


async def test_offsets_of_the_per_partition_layout_carry_over(world: World) -> None:
    # given an offset stored by the earlier layout (one document per partition), of a
    # topic whose name has a dot
    a, b = TopicPartition("t.dlq", 0), TopicPartition("t.dlq", 1)
    await world.db["offsets"].insert_one(
        {"_id": f"{world.group}|t.dlq|0", "consumer": world.group, "topic": "t.dlq",
         "partition": 0, "next_offset": 5}
    )  # fmt: skip
    offsets = world.offsets
    # when the partitions are assigned, then the consumer continues from it
    assert await offsets.load([a, b]) == {a: 5}
    # and what is saved next is what is read, for both
    async with offsets.unit() as unit:
        await offsets.save(unit, {a: 9, b: 1})
        assert await offsets.lock(unit, [a, b]) == {a: 9, b: 1}
    assert await offsets.load([a, b]) == {a: 9, b: 1}


async def test_a_crash_between_effects_and_offsets_replays_without_a_duplicate(
    world: World,
) -> None:
    # given a consumer killed after writing a batch's effects, before its offsets
    await _send(world, "e1", "e2", "e3")
    stalled = Effects("effects")
    stalled.pause = asyncio.Event()
    first = world.runtime(stalled)
    await first.start()
    running = asyncio.create_task(first.run())
    await asyncio.wait_for(stalled.applied.wait(), 60)
    running.cancel()
    await asyncio.gather(running, return_exceptions=True)
    await first.stop()
    assert await world.stored() == 0
    assert await world.applied() == ["e1", "e2", "e3"]
    # when another consumer of the group takes over, and later more records arrive
    second = world.runtime(Effects("effects"))
    await second.start()
    try:
        await world.until_stored(second, 3)
        await _send(world, "e4")
        await world.until_stored(second, 4)
    finally:
        await second.stop()
    # then each record's effect exists exactly once
    assert await world.applied() == ["e1", "e2", "e3", "e4"]


async def test_a_restart_continues_from_the_stored_offsets(world: World) -> None:
    # given a consumer that applied two records and stopped
    await _send(world, "e1", "e2")
    first = world.runtime(Effects("effects"))
    await first.start()
    try:
        await world.until_stored(first, 2)
    finally:
        await first.stop()
    # when the effects are removed (so a re-read would show) and one more record arrives
    await world.effects.delete_many({})
    await _send(world, "e3")
    second = world.runtime(Effects("effects"))
    await second.start()
    try:
        await world.until_stored(second, 3)
    finally:
        await second.stop()
    # then the new consumer started at the stored offset: only the new record applied
    assert await world.applied() == ["e3"]
