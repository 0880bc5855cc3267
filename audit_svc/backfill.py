"""The one-time upgrade of audit records written before they had ``keys`` (the version
before one multikey index served every id and type filter): without them, the id and
type filters of ``GET /audit/logs`` do not find such a record.

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
"""

from __future__ import annotations

import logging
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from audit_svc.chain import KEYS_ADDED
from audit_svc.records import keys_of_record
from audit_svc.store import LOGS
from common.kafka.mongo_offsets import MongoDocument

log = logging.getLogger("paystream.audit_backfill")
UPGRADE = "audit_logs_upgrade"
DONE, KEYS = "audit_upgrades", "keys"  # the upgrades done, by name
CHUNK = 1000
DUPLICATE_KEY = 11000


async def backfill_keys(db: AsyncDatabase[MongoDocument], chunk: int = CHUNK) -> int:
    """Give each record of the audit log in ``db`` without ``keys`` its keys, once (a
    document in ``audit_upgrades`` says it was done); how many were given."""
    if await db[DONE].find_one({"_id": KEYS}):
        return 0
    logs, copy = db[LOGS], db[UPGRADE]
    await _put_back(logs, copy)  # what a crash left aside
    done = 0
    while old := await logs.find({"keys": {"$exists": False}}).limit(chunk).to_list():
        upgraded = [{**r, "keys": keys_of_record(r), KEYS_ADDED: True} for r in old]
        await copy.insert_many(upgraded)
        await logs.delete_many({"_id": {"$in": [r["_id"] for r in old]}})
        await _put_back(logs, copy)
        done += len(old)
    with suppress(DuplicateKeyError):  # (two starts at once)
        await db[DONE].insert_one({"_id": KEYS, "records": done, "at": datetime.now(UTC)})
    log.info("audit records given their keys", extra={"records": done})
    return done


async def _put_back(logs: AsyncCollection[MongoDocument], copy: AsyncCollection[Any]) -> None:
    """Insert every record of ``copy`` into ``logs`` (those already there are refused),
    then empty ``copy``."""
    records = await copy.find({}).to_list()
    if not records:
        return
    try:
        await logs.insert_many(records, ordered=False)
    except BulkWriteError as exc:
        if any(e.get("code") != DUPLICATE_KEY for e in exc.details.get("writeErrors", [])):
            raise
    await copy.delete_many({})
