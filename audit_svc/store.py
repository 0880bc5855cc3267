"""The audit log in MongoDB (FerretDB v1 locally, MongoDB 7 under Docker): appended by the
one projector, read by the API.

Exactly once without transactions: a record's ``_id`` is its ``event_id`` and ``seq`` has
a unique index, and ``append`` numbers a batch after the head and inserts it in order.
When an event is already stored (a replay after a crash, a producer's resend), the
ordered insert stops there with the records before it stored; the events of the rest
that are stored are then looked up once, left out, and the rest numbered again after
what was just stored.
So ``seq`` stays gap-free and no event is stored twice.

The head (last seq and hash) is kept in memory between batches: on FerretDB v1 a
sorted ``find_one`` or an ``$in`` look-up scans the whole collection (``bench/
audit_ingest.py``), so the steady path makes one ``insert_many`` per batch and nothing
else. The head is read again after any failure; a second writer racing it fails on the
unique ``seq`` and its batch is retried from the new head.

Three indexes besides ``_id``, each paid on every insert (FerretDB evaluates each index's
expression over the whole document): ``seq``, ``occurred_at`` with ``seq``, and the
record's ``keys`` with ``seq``, which serves every id and type filter
(``records.keys_of``). On FerretDB v1, which uses no index but ``_id`` for any query
(``common.mongo.scans_every_filter``), only the unique ``seq`` is kept: the two search
indexes there cost a quarter of its CPU per record and served nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from audit_svc.chain import GENESIS, Verdict, Walk, chained
from audit_svc.records import as_stored, readable, search_key
from common.kafka.mongo_offsets import MongoDocument
from common.metrics import AUDIT_CHAIN_LENGTH
from common.mongo import scans_every_filter

LOGS = "audit_logs"
OFFSETS = "audit_offsets"
PROJECTION = {"_id": False}

# the filters matched through a record's ``keys`` (records.search_key)
KEY_FILTERS = ("actor_id", "user_id", "wallet_id", "transaction_id", "payment_id", "type")
INDEXES = [
    IndexModel([("seq", ASCENDING)], unique=True, name="seq"),
    IndexModel([("occurred_at", ASCENDING), ("seq", ASCENDING)], name="occurred_at_seq"),
    IndexModel([("keys", ASCENDING), ("seq", ASCENDING)], name="keys_seq"),
]
SEARCH_INDEXES = frozenset({"occurred_at_seq", "keys_seq"})  # for readers only
# indexes of earlier versions, dropped at start (``_id`` now holds the event_id, and
# ``keys_seq`` replaced an index per filter)
OBSOLETE = frozenset(
    {"event_id", "actor.id_seq", "type_seq"}
    | {
        f"subjects.{kind}_seq"
        for kind in ("user_ids", "wallet_ids", "transaction_ids", "payment_ids")
    }
)


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
        query: dict[str, Any] = {}
        keys = [
            search_key(name, value)
            for name in KEY_FILTERS
            if (value := getattr(self, name)) is not None
        ]
        if keys:
            query["keys"] = keys[0] if len(keys) == 1 else {"$all": keys}
        when = {op: v for op, v in (("$gte", self.since), ("$lt", self.until)) if v is not None}
        if when:
            query["occurred_at"] = when
        return query


def indexes_for(scans_every_filter: bool) -> tuple[list[IndexModel], frozenset[str]]:
    """The log's indexes to make, and the names to drop, on a server that does (FerretDB
    v1) or does not answer every filter by a scan: the unique ``seq`` always (it keeps the
    writer one), the search indexes only where queries use them."""
    if not scans_every_filter:
        return INDEXES, OBSOLETE
    return [ix for ix in INDEXES if ix.document["name"] not in SEARCH_INDEXES], (
        OBSOLETE | SEARCH_INDEXES
    )


class MongoAuditLog:
    """The ``audit_logs`` collection of ``db``."""

    def __init__(self, db: AsyncDatabase[MongoDocument]) -> None:
        self.logs: AsyncCollection[MongoDocument] = db[LOGS]
        self._head: tuple[int, str] | None = None  # kept by append (see module doc)

    async def ensure_indexes(self) -> None:
        """The indexes the server can use, and none of an earlier version (see module doc)."""
        wanted, unwanted = indexes_for(await scans_every_filter(self.logs.database))
        # one index per command: FerretDB v1.24 panics (and drops the connection) when one
        # createIndexes names several indexes that all exist already (every restart)
        for index in wanted:
            await self.logs.create_indexes([index])
        for name in unwanted & {ix["name"] async for ix in await self.logs.list_indexes()}:
            await self.logs.drop_index(name)

    async def head(self) -> tuple[int, str]:
        """The last record's (seq, hash); (0, GENESIS) for an empty log."""
        last = await self.logs.find_one({}, {"seq": 1, "hash": 1}, sort=[("seq", DESCENDING)])
        return (0, GENESIS) if last is None else (int(last["seq"]), str(last["hash"]))

    async def append(self, records: Sequence[dict[str, Any]]) -> int:
        """Append the records whose event is not stored yet, chained after the head;
        returns how many were added."""
        fresh = list({r["event_id"]: r for r in records}.values())  # once per event
        added = 0
        try:
            while fresh:
                if self._head is None:
                    self._head = await self.head()
                seq, prev_hash = self._head
                docs = chained(
                    prev_hash,
                    [{"_id": r["event_id"], "seq": seq + i, **r} for i, r in enumerate(fresh, 1)],
                )
                try:
                    await self.logs.insert_many([as_stored(doc) for doc in docs], ordered=True)
                except BulkWriteError as exc:
                    stored = int(exc.details.get("nInserted", 0))
                    if stored:
                        self._head = (docs[stored - 1]["seq"], docs[stored - 1]["hash"])
                    added += stored
                    fresh = await self._not_stored(fresh[stored:])
                    continue
                self._head = (docs[-1]["seq"], docs[-1]["hash"])
                AUDIT_CHAIN_LENGTH.labels(self.logs.database.name).set(docs[-1]["seq"])
                return added + len(docs)
            return added
        except BaseException:
            self._head = None  # read it again: what was stored is unknown
            raise

    async def _not_stored(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """``records`` without the events already stored; raises when the first one is
        not stored (its insert failed on ``seq``: another writer moved the head)."""
        ids = [r["event_id"] for r in records]
        stored = {d["_id"] async for d in self.logs.find({"_id": {"$in": ids}}, {"_id": 1})}
        if ids[0] not in stored:
            raise RuntimeError("the audit log's head moved: another writer appended")
        return [r for r in records if r["event_id"] not in stored]

    async def page(self, filters: Filters, before_seq: int | None, n: int) -> list[MongoDocument]:
        """Up to ``n`` matching records, newest first, below ``before_seq`` when given, as
        readers get them (``records.readable``)."""
        query = filters.query()
        if before_seq is not None:
            query["seq"] = {"$lt": before_seq}
        found = await self.logs.find(query, PROJECTION).sort("seq", DESCENDING).to_list(n)
        return [readable(doc) for doc in found]

    async def stream(
        self, filters: Filters, from_seq: int, to_seq: int
    ) -> AsyncIterator[MongoDocument]:
        """The matching records from ``from_seq`` to ``to_seq``, oldest first, fetched in
        batches (never all in memory), as readers get them (``records.readable``; the hash
        is over the same)."""
        query = filters.query() | {"seq": {"$gte": from_seq, "$lte": to_seq}}
        async for doc in self.logs.find(query, PROJECTION, batch_size=500).sort("seq", ASCENDING):
            yield readable(doc)

    async def in_ranges(
        self, ranges: Sequence[tuple[int, int | None]]
    ) -> AsyncIterator[MongoDocument]:
        """Every record whose seq is in one of ``ranges`` (from, to; to None: up to the
        head), in seq order, by one query: FerretDB v1 reads and decodes the whole
        collection for any query but an ``_id`` equality (about 250 µs of its CPU a stored
        record, whatever the query returns), so a walk asks once."""
        clauses = [
            {"seq": {"$gte": lo} if hi is None else {"$gte": lo, "$lte": hi}} for lo, hi in ranges
        ]
        query = clauses[0] if len(clauses) == 1 else {"$or": clauses}
        async for doc in self.logs.find(query, PROJECTION, batch_size=500).sort("seq", ASCENDING):
            yield doc

    async def between(self, from_seq: int, to_seq: int) -> AsyncIterator[MongoDocument]:
        """Every record from ``from_seq`` to ``to_seq``, in seq order."""
        async for doc in self.stream(Filters(), from_seq, to_seq):
            yield doc

    async def verify(self, from_seq: int, to_seq: int) -> Verdict:
        """Walk the stored chain from ``from_seq`` to ``to_seq`` (chain.Walk), from the
        hash of the record before it (the whole chain's verdict is exported by
        ``chain_watch``)."""
        before = await self.logs.find_one({"seq": from_seq - 1}, {"hash": 1})
        prev_hash = str(before["hash"]) if before else None  # None: take the first as given
        if from_seq == 1:
            prev_hash = GENESIS
        walk = Walk(from_seq, prev_hash)
        async for record in self.between(from_seq, to_seq):
            if not walk.step(record):
                break
        return walk.verdict(to_seq)
