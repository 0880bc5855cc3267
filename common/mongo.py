"""PyMongo's native async client (the official successor of Motor)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

DUPLICATE_KEY = 11000  # the server's code for a write a unique index refused


def make_mongo_client(url: str, app_name: str) -> AsyncMongoClient[dict[str, Any]]:
    """One client per process; it pools connections and is cheap to share."""
    return AsyncMongoClient(
        url,
        appname=app_name,
        serverSelectionTimeoutMS=5000,
        connectTimeoutMS=3000,
        tz_aware=True,
    )


async def scans_every_filter(db: AsyncDatabase[Any]) -> bool:
    """Whether the server answers every query but an ``_id`` equality by reading the whole
    collection: FerretDB v1 (its ``buildInfo`` names ``ferretdbFeatures``; its explain
    shows a SCAN, ``filterPushdown: false``, whatever the indexes). There a secondary
    index serves no query and only costs each insert."""
    info = await db.command("buildInfo")
    return "ferretdbFeatures" in info


async def insert_new(
    collection: AsyncCollection[Any], docs: Sequence[Mapping[str, Any]]
) -> list[int]:
    """Insert ``docs`` in one unordered command; the positions of those a unique index
    refused (stored before: a redelivery, a rerun after a crash). Any other error is
    raised."""
    if not docs:
        return []
    try:
        await collection.insert_many(docs, ordered=False)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if exc.details.get("writeConcernErrors") or any(
            e.get("code") != DUPLICATE_KEY for e in errors
        ):
            raise
        return sorted(e["index"] for e in errors)
    return []
