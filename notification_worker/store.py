"""notification_worker's MongoDB collections: the notification history, the users and
wallets it needs to address people (projected from user-events and wallet-events, never
read from another service's tables), and each user's preferences (a document per switch
they changed).

Every write the consumer makes is idempotent (FerretDB has no transactions): a
notification is claimed by an insert under the unique index on (event, kind, channel,
user); projections are upserts keyed by their id.

A notification's life is three inserts and no update: its claim in ``notifications``,
its outcome in ``notification_outcomes`` and, once that is on ``notification-events``, a
mark in ``notification_published`` (both keyed by the notification's id), each written
with many others in one ``insert_many`` (unordered: a document the unique index refuses,
stored before, does not stop the others). FerretDB v1.24's SQLite backend answers every
find or update, even one by ``_id``, by reading the whole collection (it filters ``_id``
with an expression its ``_id`` index does not match), while an insert is checked under the
unique indexes in log time: so the worker's cost per notification does not grow with the
history. Only a redelivery looks anything up. Readers see a notification with its outcome
(``with_outcomes``); a claim without one is pending.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReturnDocument, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from common.kafka.mongo_offsets import MongoDocument
from common.mongo import DUPLICATE_KEY, insert_new
from contracts.ids import uuid7

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


async def users(db: Db, user_ids: Collection[str]) -> dict[str, MongoDocument]:
    """The projected users of ``user_ids`` that are known, by id (one read for all)."""
    if not user_ids:
        return {}
    return {doc["_id"]: doc async for doc in db[USERS].find({"_id": {"$in": list(user_ids)}})}


async def wallet_owners(db: Db, wallet_ids: Collection[str]) -> dict[str, str]:
    """The owner of each of ``wallet_ids`` that is projected, by wallet (one read)."""
    if not wallet_ids:
        return {}
    query = {"_id": {"$in": list(wallet_ids)}}
    return {doc["_id"]: str(doc["owner_id"]) async for doc in db[WALLETS].find(query)}


def switch_id(user_id: str, category: str, channel: str) -> str:
    return f"{user_id}|{category}|{channel}"


async def stored_preferences(db: Db, user_id: str) -> dict[str, dict[str, bool]]:
    """The switches ``user_id`` changed, by category and channel."""
    return (await stored_preferences_of(db, [user_id])).get(user_id, {})


async def stored_preferences_of(
    db: Db, user_ids: Collection[str]
) -> dict[str, dict[str, dict[str, bool]]]:
    """The switches each of ``user_ids`` changed, by user, category and channel (one read
    for all: FerretDB reads the whole collection for any find, so one per batch)."""
    stored: dict[str, dict[str, dict[str, bool]]] = {}
    if not user_ids:
        return stored
    async for doc in db[SWITCHES].find({"user_id": {"$in": list(user_ids)}}):
        mine = stored.setdefault(doc["user_id"], {})
        mine.setdefault(doc["category"], {})[doc["channel"]] = bool(doc["on"])
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
        if any(e.get("code") != DUPLICATE_KEY for e in exc.details.get("writeErrors", [])):
            raise
        await db[SWITCHES].bulk_write(writes, ordered=False)


KEY = ("event_id", "kind", "channel", "user_id")  # the unique claim of a notification
Claim = tuple[dict[str, str], dict[str, Any]]  # its key (KEY's fields), its other fields


async def claim_many(db: Db, claims: Sequence[Claim]) -> list[MongoDocument]:
    """The notification of each claim's key with its outcome, in order: a new pending one,
    or the stored one where the insert met it under the unique index (a redelivery, the
    only time they are looked up). One insert for all of them."""
    now = datetime.now(UTC)
    docs = [{"_id": str(uuid7()), **key, **fields, "read_at": None, "created_at": now}
            for key, fields in claims]  # fmt: skip
    met = await insert_new(db[NOTIFICATIONS], docs)
    result = [{**doc, "status": PENDING, "attempts": 0, "published": False} for doc in docs]
    if met:
        found = await db[NOTIFICATIONS].find({"$or": [claims[i][0] for i in met]}).to_list()
        stored = await with_outcomes(db, found)
        query = {"_id": {"$in": [doc["_id"] for doc in stored]}}
        published = {doc["_id"] async for doc in db[PUBLISHED].find(query, {"_id": 1})}
        by_key = {
            tuple(doc[f] for f in KEY): {
                **doc,
                "published": doc["published"] or doc["_id"] in published,
            }
            for doc in stored
        }
        for i in met:
            result[i] = by_key[tuple(claims[i][0][f] for f in KEY)]
    return result


def outcome(doc: MongoDocument, status: str, attempts: int, error: str | None = None,
            dead_letter: bool = False) -> MongoDocument:  # fmt: skip
    """How the delivery of ``doc`` ended (sent or failed; ``dead_letter``: its event goes
    to the DLQ, on every replay too), to be written by ``settle_many``."""
    return {"_id": doc["_id"], "status": status, "attempts": attempts, "error": error,
            "dead_letter": dead_letter, "settled_at": datetime.now(UTC)}  # fmt: skip


async def settle_many(
    db: Db, docs: Sequence[MongoDocument], outcomes: Sequence[MongoDocument]
) -> list[MongoDocument]:
    """Record the outcome of each of ``docs`` (one insert for all), written once: where one
    was stored before (a second settle of the same notification), the first is kept. The
    notifications with their outcome, in order."""
    met = await insert_new(db[OUTCOMES], outcomes)
    kept = list(outcomes)
    if met:
        query = {"_id": {"$in": [outcomes[i]["_id"] for i in met]}}
        stored = {doc["_id"]: doc async for doc in db[OUTCOMES].find(query)}
        for i in met:
            kept[i] = stored[outcomes[i]["_id"]]
    return [{**doc, **o, "_id": doc["_id"]} for doc, o in zip(docs, kept, strict=True)]


async def mark_published(db: Db, notification_ids: Sequence[str]) -> None:
    """Their outcomes are on ``notification-events``: a replay does not publish them
    again (one insert; a mark stored before is kept)."""
    await insert_new(db[PUBLISHED], [{"_id": i} for i in notification_ids])


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
