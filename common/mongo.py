"""PyMongo's native async client (the official successor of Motor)."""

from __future__ import annotations

from typing import Any

from pymongo import AsyncMongoClient


def make_mongo_client(url: str, app_name: str) -> AsyncMongoClient[dict[str, Any]]:
    """One client per process; it pools connections and is cheap to share."""
    return AsyncMongoClient(
        url,
        appname=app_name,
        serverSelectionTimeoutMS=5000,
        connectTimeoutMS=3000,
        tz_aware=True,
    )
