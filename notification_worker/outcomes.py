"""Writing the outcomes of a batch's deliveries, many to an insert.

FerretDB's SQLite backend makes each command expensive and an insert of many documents
hardly dearer than of one, so a batch's outcomes are written ``WRITE_EVERY`` to an insert:
as soon as that many deliveries have ended unwritten, and the rest when the batch's last
delivery ends (sent, failed, or left pending by an outage). A delivery counts as settled
(and is published) only once its outcome is written, so what a crash can send again on
replay is the messages a provider accepted whose outcome was not written yet: fewer than
``WRITE_EVERY``, plus those that ended while a write was in flight (they keep their
Message-ID). An outage is not a crash: the outcomes of what ended are written before the
batch fails.
"""

from __future__ import annotations

import asyncio

from common.kafka.mongo_offsets import MongoDocument
from notification_worker import store

WRITE_EVERY = 32  # outcomes per insert at most
Waiting = tuple[MongoDocument, MongoDocument, "asyncio.Future[MongoDocument]"]


class Outcomes:
    """The outcome writer of one batch of ``deliveries`` (unit: its Mongo db)."""

    def __init__(self, db: store.Db, deliveries: int, every: int = WRITE_EVERY) -> None:
        self._db = db
        self._left = deliveries  # deliveries that have not ended yet
        self._every = every
        self._waiting: list[Waiting] = []
        self._writing = asyncio.Lock()
        self.writes = 0  # inserts made

    async def settle(self, doc: MongoDocument, outcome: MongoDocument) -> MongoDocument:
        """Write how the delivery of ``doc`` ended (``store.outcome``), with others; ``doc``
        with its outcome (the first one, if one was stored before) once it is written."""
        ended: asyncio.Future[MongoDocument] = asyncio.get_running_loop().create_future()
        self._waiting.append((doc, outcome, ended))
        await self._ended()
        return await ended

    async def left_pending(self) -> None:
        """A delivery ended without an outcome (an outage): it stays pending."""
        await self._ended()

    async def _ended(self) -> None:
        self._left -= 1
        while self._due():
            async with self._writing:
                if self._due():  # else the write before this one took them along
                    taken = self._waiting[: self._every]
                    del self._waiting[: self._every]
                    await self._write(taken)

    def _due(self) -> bool:
        """A write is due: ``every`` outcomes wait, or the batch's last delivery ended."""
        return len(self._waiting) >= self._every or (self._left == 0 and bool(self._waiting))

    async def _write(self, taken: list[Waiting]) -> None:
        futures = [f for _, _, f in taken]
        try:
            self.writes += 1
            settled = await store.settle_many(
                self._db, [doc for doc, _, _ in taken], [o for _, o, _ in taken]
            )
        except asyncio.CancelledError:
            for f in futures:
                f.cancel()
            raise
        except Exception as exc:  # every delivery taken along sees the write fail
            for f in futures:
                f.set_exception(exc)
        else:
            for f, doc in zip(futures, settled, strict=True):
                f.set_result(doc)
