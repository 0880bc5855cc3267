"""``MongoOffsets``: a tracked consumer's offsets in a MongoDB (FerretDB) collection.

The store has no transactions (FerretDB v1 has none, and the code keeps to what both it
and MongoDB 7 accept), so a unit is a plain scope with no rollback: the handler's
effects are written first and the batch's offsets after them, in separate writes. A
crash between the two replays the batch, so every effect MUST be idempotent: an insert
under a unique index on ``event_id`` (a duplicate key is the sign it was already
applied), an upsert keyed by the event, never an ``$inc``. ``lock`` cannot lock: two
instances briefly on one partition during a rebalance may both apply a record, which
the idempotent effect makes harmless.

One document per consumer: ``{_id: "<consumer>", next: {"<topic>|<partition>": offset}}``
(a dot of a topic's name written ``%2E``: a field path cannot hold one). ``save`` moves
each partition's offset only forward (``$max``), all of a batch's partitions in one
update: with a document per partition, the audit projector (40 partitions) spent about
35 ms of FerretDB's CPU a batch on its offsets (docs/benchmarks.md). Offsets stored by
that earlier layout (``_id: "<consumer>|<topic>|<partition>"``, ``next_offset``) are
read when a partition without an offset here is assigned (``load``), so an upgrade
continues where it was.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

from aiokafka import TopicPartition
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

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
        stored = await self._read(tps)
        missing = [tp for tp in tps if tp not in stored]
        if missing:  # saved by the earlier layout, one document per partition
            ids = [f"{self.consumer}|{tp.topic}|{tp.partition}" for tp in missing]
            async for doc in self.collection.find({"_id": {"$in": ids}}):
                stored[TopicPartition(doc["topic"], doc["partition"])] = int(doc["next_offset"])
        return stored

    async def lock(
        self, unit: AsyncDatabase[MongoDocument], tps: Sequence[TopicPartition]
    ) -> dict[TopicPartition, int]:
        """The stored offsets, read again (not locked: the store cannot)."""
        return await self._read(tps)

    async def save(
        self, unit: AsyncDatabase[MongoDocument], offsets: Mapping[TopicPartition, int]
    ) -> None:
        if not offsets:
            return
        forward = {"$max": {f"next.{_key(tp)}": offset for tp, offset in offsets.items()}}
        try:
            await self.collection.update_one({"_id": self.consumer}, forward, upsert=True)
        except DuplicateKeyError:  # two first saves at once (FerretDB does not retry them)
            await self.collection.update_one({"_id": self.consumer}, forward, upsert=True)

    async def _read(self, tps: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        doc = await self.collection.find_one({"_id": self.consumer})
        saved: dict[str, Any] = (doc or {}).get("next", {})
        return {tp: int(saved[_key(tp)]) for tp in tps if _key(tp) in saved}


def _key(tp: TopicPartition) -> str:
    return f"{tp.topic.replace('.', '%2E')}|{tp.partition}"
