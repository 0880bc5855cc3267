"""The one-time upgrade of audit records written before they had ``keys`` (the version
before one multikey index served every id and type filter) and their ``event_id`` as
``_id``: without keys, the id and type filters of ``GET /audit/logs`` do not find such a
record.

Run at start, before the projector and the API, until it has once gone through (then
``audit_upgrades`` says so, and a start costs one look-up), and idempotent: it picks only
records without ``keys`` and gives them their keys, derived from the fields they were
hashed with (``records.keys_of_record``), with the mark ``chain.KEYS_ADDED``, which keeps
the keys out of their hash (they were not in it) while a walk still checks them.

FerretDB v1 reads the whole collection for every update, even one by ``_id``, so a
record at a time would cost the square of the log. The records are rewritten a chunk at
a time instead: copied, upgraded, into ``audit_logs_upgrade`` first, then deleted from
the log and inserted again. A crash in between leaves each record in the log or in that
copy; the next start puts the copy back (what is already back is refused by the unique
indexes) before it goes on.

The same rewrite gives each such record its ``event_id`` as ``_id`` (they were stored
under a generated one, which the unique ``_id`` does not guard), so an old event stored
again is refused like any other (``_id`` is not hashed: the chain is unchanged). A record
with a generated ``_id`` but its keys (a log given its keys by the version before) is
rewritten for that alone. An event that such a log already holds twice (stored again
after the upgrade before this one) keeps its second copy's ``_id`` under the generated
one: both stay in the chain, and the upgrade names their seqs in its log line.
"""

from __future__ import annotations

import logging
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from audit_svc.chain import KEYS_ADDED
from audit_svc.records import keys_of_record
from audit_svc.store import LOGS
from common.kafka.mongo_offsets import MongoDocument
from common.mongo import insert_new

log = logging.getLogger("paystream.audit_backfill")
UPGRADE = "audit_logs_upgrade"
DONE, UPGRADED = "audit_upgrades", "event_ids"  # the upgrades done; this one's name
CHUNK = 1000


async def backfill_keys(db: AsyncDatabase[MongoDocument], chunk: int = CHUNK) -> int:
    """Give each record of the audit log in ``db`` without ``keys`` or without its
    ``event_id`` as ``_id`` both, once (a document in ``audit_upgrades`` says it was
    done); how many were rewritten."""
    if await db[DONE].find_one({"_id": UPGRADED}):
        return 0
    logs, copy = db[LOGS], db[UPGRADE]
    await _put_back(logs, copy)  # what a crash left aside
    done, doubles = 0, list[Any]()
    old_shape = {"$or": [{"keys": {"$exists": False}}, {"_id": {"$type": "objectId"}}]}
    while old := await logs.find({**old_shape, "_id": {"$nin": doubles}}).limit(chunk).to_list():
        ids = [r["event_id"] for r in old]
        stored = {d["_id"] async for d in logs.find({"_id": {"$in": ids}}, {"_id": 1})}
        twice = [r for r in old if r["event_id"] in stored and r["_id"] != r["event_id"]]
        doubles += [r["_id"] for r in twice]
        old = [r for r in old if r not in twice]
        if old:
            await copy.insert_many([upgraded(r) for r in old])
            await logs.delete_many({"_id": {"$in": [r["_id"] for r in old]}})
            await _put_back(logs, copy)
        done += len(old)
    with suppress(DuplicateKeyError):  # (two starts at once)
        await db[DONE].insert_one({"_id": UPGRADED, "records": done, "at": datetime.now(UTC)})
    seqs = sorted([d["seq"] async for d in logs.find({"_id": {"$in": doubles}}, {"seq": 1})])
    log.info("audit records upgraded", extra={"records": done, "stored_twice_seqs": seqs})
    return done


def upgraded(record: MongoDocument) -> MongoDocument:
    """``record`` under its ``event_id`` as ``_id``, with its keys (marked as added after
    hashing) when it had none."""
    if "keys" in record:
        return {**record, "_id": record["event_id"]}
    return {**record, "_id": record["event_id"], "keys": keys_of_record(record), KEYS_ADDED: True}


async def _put_back(logs: AsyncCollection[MongoDocument], copy: AsyncCollection[Any]) -> None:
    """Insert every record of ``copy`` into ``logs`` (those already there are refused),
    then empty ``copy``."""
    records = await copy.find({}).to_list()
    if not records:
        return
    await insert_new(logs, records)
    await copy.delete_many({})
