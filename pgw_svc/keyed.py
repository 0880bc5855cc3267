"""Rows keyed by (service client, idempotency key): the provider's memory of each request.

An insert that meets its key's row inserts nothing and finds that row instead, so a
retried request (or two concurrent ones) leaves exactly one charge, refund or payout.
The caller compares the found row's ``request_hash`` to tell a retry from a reused key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine


@dataclass(frozen=True, slots=True)
class Keyed:
    """A stored row, and whether this request stored it (False: its key had one already)."""

    row: dict[str, Any]
    fresh: bool


class KeyedTable:
    """One of the provider's keyed tables in schema ``pgw``."""

    def __init__(self, name: str, columns: tuple[str, ...]) -> None:
        names = ", ".join(columns)
        values = ", ".join(f":{c}" for c in columns)
        self._insert: TextClause = text(
            f"INSERT INTO pgw.{name} ({names}) VALUES ({values})"
            " ON CONFLICT (client_id, idempotency_key) DO NOTHING RETURNING *"
        )
        self._by_key: TextClause = text(
            f"SELECT * FROM pgw.{name} WHERE client_id = :client_id AND idempotency_key = :key"
        )

    async def find(self, conn: AsyncConnection, client_id: str, key: str) -> dict[str, Any] | None:
        """The row of ``client_id``'s ``key``, or None."""
        params = {"client_id": client_id, "key": key}
        row = (await conn.execute(self._by_key, params)).mappings().first()
        return None if row is None else dict(row)

    async def insert(self, conn: AsyncConnection, row: dict[str, Any]) -> Keyed:
        """Insert ``row``, or find the row its key already has (waiting for a concurrent one)."""
        inserted = (await conn.execute(self._insert, row)).mappings().first()
        if inserted is not None:
            return Keyed(dict(inserted), fresh=True)
        found = await self.find(conn, row["client_id"], row["idempotency_key"])
        assert found is not None  # the conflicting row is committed once the insert returns
        return Keyed(found, fresh=False)


class PgKeyedRows:
    """A keyed table's rows of one service client: found by key, created once per key."""

    def __init__(self, engine: AsyncEngine, table: KeyedTable) -> None:
        self.engine = engine
        self.table = table

    async def by_key(self, client_id: str, key: str) -> dict[str, Any] | None:
        async with self.engine.connect() as conn:
            return await self.table.find(conn, client_id, key)

    async def create(self, row: dict[str, Any]) -> Keyed:
        """Store ``row`` with its outcome, or find the one its key already made."""
        async with self.engine.begin() as conn:
            return await self.table.insert(conn, row)
