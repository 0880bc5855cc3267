"""A transactional outbox: events are written with the change that caused them and
published to Kafka afterwards, so a committed change never loses its event.

Delivery is at least once (a crash between send and delete resends); consumers
deduplicate by ``event_id``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from common.kafka.producer import send_envelope
from contracts.envelope import Envelope

log = logging.getLogger("user_svc.outbox")


async def add(
    conn: AsyncConnection, topic: str, envelope: Envelope, traceparent: str | None = None
) -> None:
    """Queue ``envelope`` inside the caller's transaction."""
    await conn.execute(
        text(
            "INSERT INTO users.outbox (topic, envelope, traceparent, created_at)"
            " VALUES (:topic, :env, :tp, :now)"
        ),
        {"topic": topic, "env": envelope.to_bytes(), "tp": traceparent, "now": datetime.now(UTC)},
    )


class PgOutboxRelay:
    """Publishes queued events in order; woken after each commit, polls as a fallback."""

    def __init__(
        self, engine: AsyncEngine, producer: AIOKafkaProducer, poll_s: float, batch: int = 100
    ) -> None:
        self._engine = engine
        self._producer = producer
        self._poll_s = poll_s
        self._batch = batch
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def relay_once(self) -> int:
        """Publish one batch; returns how many events went out."""
        async with self._engine.begin() as conn:
            rows = (
                await conn.execute(
                    text(
                        "SELECT id, topic, envelope, traceparent FROM users.outbox"
                        " ORDER BY id LIMIT :n FOR UPDATE SKIP LOCKED"
                    ),
                    {"n": self._batch},
                )
            ).all()
            for row in rows:
                envelope = Envelope.from_bytes(bytes(row.envelope))
                await send_envelope(self._producer, row.topic, envelope, row.traceparent)
            if rows:
                await conn.execute(
                    text("DELETE FROM users.outbox WHERE id = ANY(:ids)"),
                    {"ids": [r.id for r in rows]},
                )
        return len(rows)

    async def run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll_s)
            self._wake.clear()
            try:
                while await self.relay_once() == self._batch:
                    pass
            except Exception:
                log.exception("outbox relay failed; retrying")
                await asyncio.sleep(self._poll_s)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[PgOutboxRelay]:
        task = asyncio.create_task(self.run(), name="outbox-relay")
        try:
            yield self
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
