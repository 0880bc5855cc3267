"""The Redis balance cache: ``wallet:{id}:balance`` -> JSON of the wallet's read-model row.

Written by the projector from the rows its batch transaction returned, read by the API
(falling back to Postgres on a miss). Values: ``ledger``, ``available``, ``status``,
``currency`` and, so that ``GET /wallets/{id}`` needs no query, ``owner_id``,
``overdraft_limit`` and ``created_at``. Entries expire (``TTL_S``) so that a write lost
to a crash, or an old instance racing a rebalance, cannot leave a stale value forever.
"""

from __future__ import annotations

from typing import Any

import orjson
from redis.asyncio import Redis

TTL_S = 3600


def balance_key(wallet_id: str) -> str:
    return f"wallet:{wallet_id}:balance"


def cache_value(row: dict[str, Any]) -> dict[str, Any]:
    """The cached document of a wallet row (as returned by the store)."""
    created = row.get("created_at")
    return {
        "ledger": int(row["ledger"]),
        "available": int(row["available"]),
        "status": row["status"],
        "currency": row["currency"],
        "owner_id": row.get("owner_id"),
        "overdraft_limit": int(row.get("overdraft_limit") or 0),
        "created_at": created.isoformat() if created is not None else None,
    }


async def put_many(redis: Redis, rows: dict[str, dict[str, Any]]) -> None:
    """Write the balances of many wallets in one round trip."""
    if not rows:
        return
    async with redis.pipeline(transaction=False) as pipe:
        for wallet_id, row in rows.items():
            pipe.set(balance_key(wallet_id), orjson.dumps(cache_value(row)), ex=TTL_S)
        await pipe.execute()


async def get(redis: Redis, wallet_id: str) -> dict[str, Any] | None:
    raw = await redis.get(balance_key(wallet_id))
    return orjson.loads(raw) if raw else None
