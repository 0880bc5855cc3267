"""The audit log in MongoDB (FerretDB v1 locally, MongoDB 7 under Docker): appended by the
one projector, read by the API.

Exactly once without transactions: ``event_id`` has a unique index, and ``append`` first
leaves out the events already stored, then numbers the rest after the stored head and
inserts them in order. A crash part-way leaves a prefix stored; the replayed batch
finds it and appends the rest, so ``seq`` stays gap-free and no event is stored twice.
``seq`` has a unique index too: a second writer racing the head fails its insert and its
batch is retried from the new head.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from audit_svc.chain import GENESIS, Verdict, Walk, chained
from common.kafka.mongo_offsets import MongoDocument

LOGS = "audit_logs"
OFFSETS = "audit_offsets"
PROJECTION = {"_id": False}

# filter name -> the record field it matches (each has an index with seq)
FIELDS = {
    "actor_id": "actor.id",
    "user_id": "subjects.user_ids",
    "wallet_id": "subjects.wallet_ids",
    "transaction_id": "subjects.transaction_ids",
    "payment_id": "subjects.payment_ids",
    "type": "type",
}
INDEXES = [
    IndexModel([("seq", ASCENDING)], unique=True, name="seq"),
    IndexModel([("event_id", ASCENDING)], unique=True, name="event_id"),
    IndexModel([("occurred_at", ASCENDING), ("seq", ASCENDING)], name="occurred_at_seq"),
    *(IndexModel([(f, ASCENDING), ("seq", ASCENDING)], name=f"{f}_seq") for f in FIELDS.values()),
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Filters:
    """What a reader asks for; None means any. ``since`` inclusive, ``until`` exclusive."""

    actor_id: str | None = None
    user_id: str | None = None
    wallet_id: str | None = None
    transaction_id: str | None = None
    payment_id: str | None = None
    type: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def query(self) -> dict[str, Any]:
        query: dict[str, Any] = {
            field: getattr(self, name)
            for name, field in FIELDS.items()
            if getattr(self, name) is not None
        }
        when = {op: v for op, v in (("$gte", self.since), ("$lt", self.until)) if v is not None}
        if when:
            query["occurred_at"] = when
        return query


class MongoAuditLog:
    """The ``audit_logs`` collection of ``db``."""

    def __init__(self, db: AsyncDatabase[MongoDocument]) -> None:
        self.logs: AsyncCollection[MongoDocument] = db[LOGS]

    async def ensure_indexes(self) -> None:
        # one index per command: FerretDB v1.24 panics (and drops the connection) when one
        # createIndexes names several indexes that all exist already (every restart)
        for index in INDEXES:
            await self.logs.create_indexes([index])

    async def head(self) -> tuple[int, str]:
        """The last record's (seq, hash); (0, GENESIS) for an empty log."""
        last = await self.logs.find_one({}, {"seq": 1, "hash": 1}, sort=[("seq", DESCENDING)])
        return (0, GENESIS) if last is None else (int(last["seq"]), str(last["hash"]))

    async def append(self, records: Sequence[dict[str, Any]]) -> int:
        """Append the records whose event is not stored yet, chained after the head;
        returns how many were added."""
        ids = [r["event_id"] for r in records]
        stored = {d["event_id"] async for d in self.logs.find({"event_id": {"$in": ids}})}
        fresh: dict[str, dict[str, Any]] = {}
        for r in records:
            if r["event_id"] not in stored:
                fresh.setdefault(r["event_id"], r)
        if not fresh:
            return 0
        seq, prev_hash = await self.head()
        numbered = [{"seq": seq + i, **r} for i, r in enumerate(fresh.values(), start=1)]
        await self.logs.insert_many(chained(prev_hash, numbered), ordered=True)
        return len(numbered)

    async def page(self, filters: Filters, before_seq: int | None, n: int) -> list[MongoDocument]:
        """Up to ``n`` matching records, newest first, below ``before_seq`` when given."""
        query = filters.query()
        if before_seq is not None:
            query["seq"] = {"$lt": before_seq}
        return await self.logs.find(query, PROJECTION).sort("seq", DESCENDING).to_list(n)

    async def stream(
        self, filters: Filters, from_seq: int, to_seq: int
    ) -> AsyncIterator[MongoDocument]:
        """The matching records from ``from_seq`` to ``to_seq``, oldest first, fetched in
        batches (never all in memory)."""
        query = filters.query() | {"seq": {"$gte": from_seq, "$lte": to_seq}}
        async for doc in self.logs.find(query, PROJECTION, batch_size=500).sort("seq", ASCENDING):
            yield doc

    async def between(self, from_seq: int, to_seq: int) -> AsyncIterator[MongoDocument]:
        """Every record from ``from_seq`` to ``to_seq``, in seq order."""
        async for doc in self.stream(Filters(), from_seq, to_seq):
            yield doc

    async def verify(self, from_seq: int, to_seq: int) -> Verdict:
        """Walk the stored chain from ``from_seq`` to ``to_seq`` (chain.Walk), from the
        hash of the record before it."""
        before = await self.logs.find_one({"seq": from_seq - 1}, {"hash": 1})
        prev_hash = str(before["hash"]) if before else None  # None: take the first as given
        if from_seq == 1:
            prev_hash = GENESIS
        walk = Walk(from_seq, prev_hash)
        async for record in self.between(from_seq, to_seq):
            if not walk.step(record):
                break
        return walk.verdict(to_seq)
