"""Postgres access for batches of transfers: each batch's items, and the statuses of
their transfers (one statement each way, whatever the batch's size)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncEngine

# the same batch sent again keeps its creation time and shows its latest items (an item
# refused the first time, e.g. for a wallet that did not exist yet, may pass now)
_SAVE = text("""
INSERT INTO transactions.transfer_batches (id, owner_id, items, created_at, updated_at)
VALUES (:id, :owner_id, CAST(:items AS jsonb), :now, :now)
ON CONFLICT (id) DO UPDATE SET items = EXCLUDED.items, updated_at = EXCLUDED.updated_at
RETURNING created_at
""")


async def save(
    engine: AsyncEngine, batch_id: str, owner_id: str, items: list[dict[str, Any]], now: datetime
) -> datetime:
    """Store the batch's items; when it was first made."""
    params = {"id": batch_id, "owner_id": owner_id, "items": orjson.dumps(items).decode()}
    async with engine.begin() as conn:
        created: datetime = (await conn.execute(_SAVE, params | {"now": now})).scalar_one()
    return created


async def get(engine: AsyncEngine, batch_id: str) -> Row[Any] | None:
    async with engine.connect() as conn:
        return (
            await conn.execute(
                text(
                    "SELECT id, owner_id, items, created_at FROM transactions.transfer_batches "
                    "WHERE id = :id"
                ),
                {"id": batch_id},
            )
        ).first()


async def statuses(
    engine: AsyncEngine, transaction_ids: list[str]
) -> dict[str, tuple[str, str | None]]:
    """Each transaction's status and failure reason, by id."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT id, status, failure_reason FROM transactions.transactions "
                "WHERE id = ANY(:ids)"
            ),
            {"ids": transaction_ids},
        )
        return {r.id: (r.status, r.failure_reason) for r in rows}
