"""The one-time move of the audit log into a database of its own (``audit_mongo_db``),
out of the one it shared with the notification history (``mongo_db``).

Why: FerretDB's SQLite backend keeps each Mongo database in one file with one writer at
a time, so the projector's appends waited behind the notification worker's writes
(docs/benchmarks.md, "One SQLite file"); on MongoDB the move changes nothing but names.

Run at start, before the projector, the API and the key backfill, by the one audit_svc
(the version before it stopped, as the launcher and a rolling restart of one replica
do). FerretDB v1 cannot rename a collection into another database, so each collection
of the log is copied, in chunks off one cursor (one scan of each), under the same
``_id``s. A crash in the middle leaves the old database whole; the next start copies
again, and what was copied before is refused by the unique ``_id`` (``insert_new``).
Only when everything is copied does the mark (``audit_upgrades``, ``own_database``) go
in, and only then are the old collections dropped, at this start or, after a crash, at
the next. Records are copied as stored: their hashes, seqs and ``_id``s are unchanged,
so the chain verifies as before and the projector goes on from the offsets it stored.
"""

from __future__ import annotations

import logging
from contextlib import suppress
from datetime import UTC, datetime

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from audit_svc.backfill import DONE, UPGRADE
from audit_svc.store import LOGS, OFFSETS
from common.kafka.mongo_offsets import MongoDocument
from common.mongo import insert_new

log = logging.getLogger("paystream.audit_own_database")
MOVED = "own_database"  # the mark's _id in DONE of the log's database
COLLECTIONS = (LOGS, OFFSETS, DONE, UPGRADE)  # every collection of the audit log
CHUNK = 1000


async def move_log(
    shared: AsyncDatabase[MongoDocument], own: AsyncDatabase[MongoDocument], chunk: int = CHUNK
) -> int:
    """Move the audit log's collections from ``shared`` to ``own``, once (see module doc);
    how many documents were copied (0 when moved before, or nothing was there)."""
    if shared.name == own.name:
        return 0
    copied = 0
    present = [n for n in await shared.list_collection_names() if n in COLLECTIONS]
    if await own[DONE].find_one({"_id": MOVED}) is None:
        for name in present:
            batch = list[MongoDocument]()
            async for doc in shared[name].find({}, batch_size=chunk):
                batch.append(doc)
                if len(batch) == chunk:
                    await insert_new(own[name], batch)
                    copied, batch = copied + len(batch), []
            await insert_new(own[name], batch)
            copied += len(batch)
        with suppress(DuplicateKeyError):  # (two starts at once)
            mark = {"_id": MOVED, "from": shared.name, "documents": copied}
            await own[DONE].insert_one(mark | {"at": datetime.now(UTC)})
        log.info("audit log moved", extra={k: mark[k] for k in ("from", "documents")})
    for name in present:
        await shared.drop_collection(name)  # moved: at this start, or at one that crashed
    return copied
