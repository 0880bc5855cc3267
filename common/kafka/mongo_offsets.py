"""``MongoOffsets``: a tracked consumer's offsets in a MongoDB (FerretDB) collection.

The store has no transactions (FerretDB v1 has none, and the code keeps to what both it
and MongoDB 7 accept), so a unit is a plain scope with no rollback: the handler's
effects are written first and the batch's offsets after them, in separate writes. A
crash between the two replays the batch, so every effect MUST be idempotent: an insert
under a unique index on ``event_id`` (a duplicate key is the sign it was already
applied), an upsert keyed by the event, never an ``$inc``. ``lock`` cannot lock: two
instances briefly on one partition during a rebalance may both apply a record, which
the idempotent effect makes harmless.

One document per (consumer, topic, partition): ``{_id: "<consumer>|<topic>|<partition>",
consumer, topic, partition, next_offset}``; ``save`` only moves ``next_offset`` forward
(``$max``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

from aiokafka import TopicPartition
from pymongo import UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

MongoDocument = dict[str, Any]


class MongoOffsets:
    """The ``OffsetStore`` (``common.kafka.tracked``) of ``consumer`` in ``collection``.

    Its unit is the collection's database: the handler writes its (idempotent) effects
    there."""

    def __init__(self, collection: AsyncCollection[MongoDocument], consumer: str) -> None:
        self.collection = collection
        self.consumer = consumer

    @asynccontextmanager
    async def unit(self) -> AsyncIterator[AsyncDatabase[MongoDocument]]:
        yield self.collection.database

    async def load(self, tps: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        """Stored next offsets; a partition never saved is absent (the consumer reads 0)."""
        ids = [self._id(tp) for tp in tps]
        stored: dict[TopicPartition, int] = {}
        async for doc in self.collection.find({"_id": {"$in": ids}}):
            stored[TopicPartition(doc["topic"], doc["partition"])] = int(doc["next_offset"])
        return stored

    async def lock(
        self, unit: AsyncDatabase[MongoDocument], tps: Sequence[TopicPartition]
    ) -> dict[TopicPartition, int]:
        """The stored offsets, read again (not locked: the store cannot)."""
        return await self.load(tps)

    async def save(
        self, unit: AsyncDatabase[MongoDocument], offsets: Mapping[TopicPartition, int]
    ) -> None:
        if not offsets:
            return
        await self.collection.bulk_write(
            [
                UpdateOne(
                    {"_id": self._id(tp)},
                    {
                        "$max": {"next_offset": offset},
                        "$setOnInsert": {
                            "consumer": self.consumer,
                            "topic": tp.topic,
                            "partition": tp.partition,
                        },
                    },
                    upsert=True,
                )
                for tp, offset in sorted(offsets.items())
            ],
            ordered=False,
        )

    def _id(self, tp: TopicPartition) -> str:
        return f"{self.consumer}|{tp.topic}|{tp.partition}"
