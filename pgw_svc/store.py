"""Payment methods in Postgres (schema ``pgw``): tokens only, never a number or an IBAN."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

COLUMNS = (
    "id, owner_id, type, brand, last4, exp_month, exp_year, country, currency, holder_name,"
    " created_at"
)

_INSERT = text(f"""
INSERT INTO pgw.payment_methods
    (id, owner_id, type, brand, last4, exp_month, exp_year, country, currency, holder_name,
     fingerprint, created_at)
VALUES (:id, :owner_id, :type, :brand, :last4, :exp_month, :exp_year, :country, :currency,
    :holder_name, :fingerprint, :created_at)
RETURNING {COLUMNS}
""")
_GET = text(f"""
SELECT {COLUMNS} FROM pgw.payment_methods WHERE id = :id AND deleted_at IS NULL
""")
_OWNED = text(f"""
SELECT {COLUMNS}, fingerprint FROM pgw.payment_methods
WHERE id = :id AND owner_id = :owner_id AND deleted_at IS NULL
""")
_PAGE = text(f"""
SELECT {COLUMNS} FROM pgw.payment_methods
WHERE owner_id = :owner_id AND deleted_at IS NULL
    AND (CAST(:after AS uuid) IS NULL OR id > CAST(:after AS uuid))
ORDER BY id LIMIT :limit
""")
_DELETE = text("""
UPDATE pgw.payment_methods SET deleted_at = :at
WHERE id = :id AND owner_id = :owner_id AND deleted_at IS NULL
RETURNING id
""")


class PgPaymentMethods:
    """Adds, reads, pages and deletes the payment methods of their owners."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def add(self, row: dict[str, Any]) -> dict[str, Any]:
        """Store a tokenised method (``row`` has every column of ``_INSERT``)."""
        async with self.engine.begin() as conn:
            return dict((await conn.execute(_INSERT, row)).mappings().one())

    async def get(self, method_id: str) -> dict[str, Any] | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(_GET, {"id": method_id})).mappings().first()
        return None if row is None else dict(row)

    async def owned(self, method_id: str, owner_id: str) -> dict[str, Any] | None:
        """The owner's method with its fingerprint (what the provider's outcomes go by)."""
        params = {"id": method_id, "owner_id": owner_id}
        async with self.engine.connect() as conn:
            row = (await conn.execute(_OWNED, params)).mappings().first()
        return None if row is None else dict(row)

    async def page(self, owner_id: str, after: str | None, limit: int) -> list[dict[str, Any]]:
        """Up to ``limit`` of the owner's methods after the id ``after``, oldest first."""
        params = {"owner_id": owner_id, "after": after, "limit": limit}
        async with self.engine.connect() as conn:
            return [dict(r) for r in (await conn.execute(_PAGE, params)).mappings()]

    async def delete(self, method_id: str, owner_id: str, at: datetime) -> bool:
        """Mark the owner's method deleted; False when there is none to delete."""
        params = {"id": method_id, "owner_id": owner_id, "at": at}
        async with self.engine.begin() as conn:
            return (await conn.execute(_DELETE, params)).first() is not None
