"""notification_worker's MongoDB collections: the notification history, the users and
wallets it needs to address people (projected from user-events and wallet-events, never
read from another service's tables), and each user's preferences (a document per switch
they changed).

Every write the consumer makes is idempotent (FerretDB has no transactions): a
notification is claimed by an insert under the unique index on (event, kind, channel,
user); projections are upserts keyed by their id.

A notification's life is three inserts and no update: its claim in ``notifications``,
its outcome in ``notification_outcomes`` and, once that is on ``notification-events``, a
mark in ``notification_published`` (both keyed by the notification's id). FerretDB v1.24's
SQLite backend answers every find or update, even one by ``_id``, by reading the whole
collection (it filters ``_id`` with an expression its ``_id`` index does not match), while
an insert is checked under the unique indexes in log time: so the worker's cost per
notification does not grow with the history. Only a redelivery looks anything up. Readers
see a notification with its outcome (``with_outcomes``); a claim without one is pending.
"""

from __future__ import annotations

from contextlib import suppress
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReturnDocument, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from common.kafka.mongo_offsets import MongoDocument
from contracts.ids import uuid7
from notification_worker.preferences import CATEGORIES

NOTIFICATIONS = "notifications"
USERS = "notification_users"
WALLETS = "notification_wallets"
SWITCHES = "notification_switches"
OUTCOMES = "notification_outcomes"
PUBLISHED = "notification_published"
OFFSETS = "notification_offsets"

PENDING, SENT, FAILED = "pending", "sent", "failed"
Db = AsyncDatabase[MongoDocument]


async def ensure_indexes(db: Db) -> None:
    """The unique claim of each notification and the index of each user's history."""
    await db[NOTIFICATIONS].create_index(
        [("event_id", ASCENDING), ("kind", ASCENDING), ("channel", ASCENDING),
         ("user_id", ASCENDING)],
        unique=True, name="one_per_event_kind_channel_user",
    )  # fmt: skip
    await db[NOTIFICATIONS].create_index(
        [("user_id", ASCENDING), ("_id", DESCENDING)], name="history"
    )


async def remember_user(db: Db, user_id: str, email: str, full_name: str) -> None:
    await db[USERS].update_one(
        {"_id": user_id}, {"$set": {"email": email, "full_name": full_name}}, upsert=True
    )


async def remember_wallet(db: Db, wallet_id: str, owner_id: str) -> None:
    await db[WALLETS].update_one({"_id": wallet_id}, {"$set": {"owner_id": owner_id}}, upsert=True)


async def user(db: Db, user_id: str) -> MongoDocument | None:
    return await db[USERS].find_one({"_id": user_id})


async def wallet_owner(db: Db, wallet_id: str) -> str | None:
    doc = await db[WALLETS].find_one({"_id": wallet_id})
    return str(doc["owner_id"]) if doc else None


def switch_id(user_id: str, category: str, channel: str) -> str:
    return f"{user_id}|{category}|{channel}"


async def stored_preferences(db: Db, user_id: str) -> dict[str, dict[str, bool]]:
    """The switches ``user_id`` changed, by category and channel."""
    ids = [switch_id(user_id, cat, ch) for cat, chs in CATEGORIES.items() for ch in chs]
    stored: dict[str, dict[str, bool]] = {}
    async for doc in db[SWITCHES].find({"_id": {"$in": ids}}):
        stored.setdefault(doc["category"], {})[doc["channel"]] = bool(doc["on"])
    return stored


async def save_switches(db: Db, user_id: str, change: dict[str, dict[str, bool]]) -> None:
    """Set each switch of ``change`` in a document of its own, so two requests that change
    different switches never overwrite each other: FerretDB v1 applies an update by reading
    the whole document and writing it back, and lost one of two concurrent ``$set``s of
    different fields of one document in most of our tries."""
    writes = [
        UpdateOne(
            {"_id": switch_id(user_id, category, channel)},
            {
                "$set": {"on": on},
                "$setOnInsert": {"user_id": user_id, "category": category, "channel": channel},
            },
            upsert=True,
        )
        for category, switches in change.items()
        for channel, on in switches.items()
    ]
    if not writes:
        return
    try:
        await db[SWITCHES].bulk_write(writes, ordered=False)
    except BulkWriteError as exc:
        # two first changes of one switch at once: both upserts inserted (FerretDB does not
        # retry as MongoDB does), one failed on the _id; the document exists now
        if any(e.get("code") != 11000 for e in exc.details.get("writeErrors", [])):
            raise
        await db[SWITCHES].bulk_write(writes, ordered=False)


async def claim(db: Db, key: dict[str, str], fields: dict[str, Any]) -> MongoDocument:
    """The notification of ``key`` (event_id, kind, channel, user_id) with its outcome: a
    new pending one, or the stored one when the insert meets it under the unique index (a
    redelivery, the only time it is looked up)."""
    doc = {"_id": str(uuid7()), **key, **fields, "read_at": None,
           "created_at": datetime.now(UTC)}  # fmt: skip
    try:
        await db[NOTIFICATIONS].insert_one(doc)
    except DuplicateKeyError:
        found = await db[NOTIFICATIONS].find_one(key)
        assert found is not None
        [stored] = await with_outcomes(db, [found])
        published = await db[PUBLISHED].find_one({"_id": found["_id"]})
        return {**stored, "published": stored["published"] or published is not None}
    return {**doc, "status": PENDING, "attempts": 0, "published": False}


async def settle(db: Db, doc: MongoDocument, status: str, attempts: int,
                 error: str | None = None, dead_letter: bool = False) -> MongoDocument:  # fmt: skip
    """Record how the delivery of ``doc`` ended (sent or failed; ``dead_letter``: its event
    goes to the DLQ, on every replay too): its outcome, written once (a second settle of the
    same notification keeps the first)."""
    outcome = {"_id": doc["_id"], "status": status, "attempts": attempts, "error": error,
               "dead_letter": dead_letter, "settled_at": datetime.now(UTC)}  # fmt: skip
    try:
        await db[OUTCOMES].insert_one(outcome)
    except DuplicateKeyError:
        stored = await db[OUTCOMES].find_one({"_id": doc["_id"]})
        assert stored is not None
        outcome = stored
    return {**doc, **outcome, "_id": doc["_id"]}


async def mark_published(db: Db, notification_id: str) -> None:
    """Its outcome is on ``notification-events``: a replay does not publish it again."""
    with suppress(DuplicateKeyError):  # published and marked before
        await db[PUBLISHED].insert_one({"_id": notification_id})


async def with_outcomes(db: Db, docs: list[MongoDocument]) -> list[MongoDocument]:
    """``docs`` (notifications) with their outcome's fields; pending without one. A
    notification settled in place by an earlier version keeps its own fields."""
    if not docs:
        return []
    ids = [doc["_id"] for doc in docs]
    outcomes = {o["_id"]: o async for o in db[OUTCOMES].find({"_id": {"$in": ids}})}
    pending = {"status": PENDING, "attempts": 0, "published": False}
    return [{**pending, **doc, **outcomes.get(doc["_id"], {})} for doc in docs]


async def history(db: Db, user_id: str, before: str | None, limit: int) -> list[MongoDocument]:
    """A user's notifications, newest first (ids are UUIDv7), after the cursor's id."""
    query: dict[str, Any] = {"user_id": user_id}
    if before is not None:
        query["_id"] = {"$lt": before}
    cursor = db[NOTIFICATIONS].find(query).sort("_id", DESCENDING).limit(limit)
    return await with_outcomes(db, [doc async for doc in cursor])


async def mark_read(db: Db, user_id: str, notification_id: str) -> MongoDocument | None:
    """Mark the user's own notification read (first read time kept); None if not theirs."""
    doc = await db[NOTIFICATIONS].find_one({"_id": notification_id, "user_id": user_id})
    if doc is None:
        return None
    if doc.get("read_at") is None:
        doc = await db[NOTIFICATIONS].find_one_and_update(
            {"_id": notification_id, "user_id": user_id},
            {"$set": {"read_at": datetime.now(UTC)}},
            return_document=ReturnDocument.AFTER,
        )
    return (await with_outcomes(db, [doc]))[0] if doc else None
