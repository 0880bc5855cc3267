"""``PgOffsets``: a tracked consumer's offsets in a Postgres table of the service's schema.

The table has the columns ``(consumer, topic, partition, next_offset)`` with that primary
key (``wallets.offsets``, ``transactions.offsets``). A unit is one transaction on the
service's engine, so the batch's effects and its offsets commit together.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager

from aiokafka import TopicPartition
from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

_TABLE = re.compile(r"^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$")


class PgOffsets:
    """The ``OffsetStore`` (``common.kafka.tracked``) of ``consumer`` in ``table``."""

    def __init__(self, engine: AsyncEngine, table: str, consumer: str) -> None:
        if not _TABLE.match(table):
            raise ValueError(f"not a schema-qualified table name: {table!r}")
        self.engine = engine
        self.consumer = consumer
        self._create = text(
            f"INSERT INTO {table} (consumer, topic, partition, next_offset) "
            "SELECT :c, u.topic, u.partition, 0 "
            "FROM unnest(CAST(:topics AS text[]), CAST(:partitions AS int[])) "
            "AS u(topic, partition) ON CONFLICT DO NOTHING"
        )
        select = (
            f"SELECT o.topic, o.partition, o.next_offset FROM {table} o "
            "JOIN unnest(CAST(:topics AS text[]), CAST(:partitions AS int[])) "
            "AS u(topic, partition) ON o.topic = u.topic AND o.partition = u.partition "
            "WHERE o.consumer = :c"
        )
        self._select = text(select)
        self._select_locked = text(select + " ORDER BY o.topic, o.partition FOR UPDATE OF o")
        self._save = text(
            f"INSERT INTO {table} AS o (consumer, topic, partition, next_offset) "
            "SELECT :c, u.topic, u.partition, u.next_offset "
            "FROM unnest(CAST(:topics AS text[]), CAST(:partitions AS int[]), "
            "CAST(:offsets AS bigint[])) AS u(topic, partition, next_offset) "
            "ON CONFLICT (consumer, topic, partition) "
            "DO UPDATE SET next_offset = GREATEST(o.next_offset, EXCLUDED.next_offset)"
        )

    @asynccontextmanager
    async def unit(self) -> AsyncIterator[AsyncConnection]:
        async with self.engine.begin() as conn:
            yield conn

    async def load(self, tps: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        """Stored next offsets (rows made at 0 for new partitions, so they can be locked)."""
        async with self.engine.begin() as conn:
            await conn.execute(self._create, self._params(tps))
            return await self._read(conn, self._select, tps)

    async def lock(
        self, unit: AsyncConnection, tps: Sequence[TopicPartition]
    ) -> dict[TopicPartition, int]:
        return await self._read(unit, self._select_locked, tps)

    async def save(self, unit: AsyncConnection, offsets: Mapping[TopicPartition, int]) -> None:
        tps = sorted(offsets)
        await unit.execute(self._save, self._params(tps) | {"offsets": [offsets[tp] for tp in tps]})

    async def _read(
        self, conn: AsyncConnection, query: TextClause, tps: Sequence[TopicPartition]
    ) -> dict[TopicPartition, int]:
        rows = await conn.execute(query, self._params(tps))
        return {TopicPartition(r.topic, r.partition): r.next_offset for r in rows}

    def _params(self, tps: Sequence[TopicPartition]) -> dict[str, object]:
        return {
            "c": self.consumer,
            "topics": [tp.topic for tp in tps],
            "partitions": [tp.partition for tp in tps],
        }
