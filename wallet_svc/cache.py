"""The Redis balance cache: ``wallet:{id}:balance`` -> JSON of the wallet's read-model row.

Written by the projector from the rows its batch transaction returned, read by the API
(falling back to Postgres on a miss). Values: ``ledger``, ``available``, ``status``,
``currency`` and, so that ``GET /wallets/{id}`` needs no query, ``owner_id``,
``overdraft_limit`` and ``created_at``. Entries expire (``TTL_S``) so that a write lost
to a crash, or an old instance racing a rebalance, cannot leave a stale value forever.

Beside them, ``wallet:command:{command_id}`` keeps the completion notice of each admin
command (freeze, unfreeze, close, or its rejection) for ``OUTCOME_TTL_S``: the decider
emits nothing for a command it has already decided, so a retry with the same
Idempotency-Key is answered from here instead of waiting for a notice that never comes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from redis.asyncio import Redis

TTL_S = 3600
OUTCOME_TTL_S = 86400
ADMIN_ANSWERS = frozenset({"WalletFrozen", "WalletUnfrozen", "WalletClosed", "CommandRejected"})


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


def outcome_key(command_id: str) -> str:
    return f"wallet:command:{command_id}"


async def put_outcomes(redis: Redis, notices: Sequence[dict[str, Any]]) -> None:
    """Keep the notices that answer admin commands (``ADMIN_ANSWERS``), one round trip."""
    answers = [n for n in notices if n.get("type") in ADMIN_ANSWERS and n.get("key")]
    if not answers:
        return
    async with redis.pipeline(transaction=False) as pipe:
        for notice in answers:
            pipe.set(outcome_key(notice["key"]), orjson.dumps(notice), ex=OUTCOME_TTL_S)
        await pipe.execute()


async def outcome(redis: Redis, command_id: str) -> dict[str, Any] | None:
    """The notice that answered admin command ``command_id``, if it was decided."""
    raw = await redis.get(outcome_key(command_id))
    return orjson.loads(raw) if raw else None
