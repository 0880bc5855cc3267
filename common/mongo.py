"""PyMongo's native async client (the official successor of Motor)."""

from __future__ import annotations

from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase


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
