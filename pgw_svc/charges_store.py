"""Charges and their refunds in Postgres (schema ``pgw``), keyed by (client, idempotency key).

A create inserts or finds the row of its key (``pgw_svc.keyed``), so two concurrent
requests with one key make one charge. A refund locks its charge, so refunds racing for
one charge never sum past what was captured.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from pgw_svc.keyed import Keyed, KeyedTable, PgKeyedRows

CHARGES = KeyedTable(
    "charges",
    ("id", "client_id", "idempotency_key", "request_hash", "payment_method_id", "amount",
     "currency", "status", "failure_reason", "captured_amount", "refunded_amount", "capture",
     "created_at", "updated_at"),
)  # fmt: skip
REFUNDS = KeyedTable(
    "refunds",
    ("id", "client_id", "idempotency_key", "request_hash", "charge_id", "amount", "currency",
     "status", "created_at"),
)  # fmt: skip

_CHARGE = text("SELECT * FROM pgw.charges WHERE id = :id AND client_id = :client_id")
_LOCK_CHARGE = text(
    "SELECT * FROM pgw.charges WHERE id = :id AND client_id = :client_id FOR UPDATE"
)
# A void also cancels a pending charge before the provider decides it; the charge is then
# decided (voided) and its callback is owed, as for a decision. The settlement decides a
# pending charge under the row's lock, so one of the two wins.
_MOVE = text("""
UPDATE pgw.charges
SET status = :to, captured_amount = CASE WHEN :to = 'captured' THEN amount ELSE 0 END,
    callback_due_at = CASE WHEN status = 'pending' THEN :at ELSE callback_due_at END,
    callback_first_due_at = CASE WHEN status = 'pending' THEN :at ELSE callback_first_due_at END,
    updated_at = :at
WHERE id = :id AND client_id = :client_id
  AND (status = 'authorized' OR (status = 'pending' AND :to = 'voided'))
RETURNING *
""")
_ADD_REFUNDED = text("""
UPDATE pgw.charges SET refunded_amount = refunded_amount + :amount, updated_at = :at
WHERE id = :id
""")


@dataclass(frozen=True, slots=True)
class RefundAttempt:
    """A refund stored or found, or why none was (``refusal``), with the charge it names."""

    refund: Keyed | None
    charge: dict[str, Any] | None = None
    refusal: str | None = None  # charge_not_found | charge_not_captured | over_captured


class PgCharges(PgKeyedRows):
    """Creates, captures, voids and refunds one service client's charges."""

    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__(engine, CHARGES)

    async def move(
        self, client_id: str, charge_id: str, to: str, at: datetime
    ) -> tuple[bool, dict[str, Any] | None]:
        """Capture or void (``to``) an authorized charge, or void a pending one: (moved
        now, the charge or None)."""
        params = {"id": charge_id, "client_id": client_id, "to": to, "at": at}
        async with self.engine.begin() as conn:
            moved = (await conn.execute(_MOVE, params)).mappings().first()
            if moved is not None:
                return True, dict(moved)
            current = (await conn.execute(_CHARGE, params)).mappings().first()
        return False, None if current is None else dict(current)

    async def refund_by_key(self, client_id: str, key: str) -> dict[str, Any] | None:
        async with self.engine.connect() as conn:
            return await REFUNDS.find(conn, client_id, key)

    async def refund(self, row: dict[str, Any]) -> RefundAttempt:
        """Refund part of a captured charge, never past what was captured in total."""
        async with self.engine.begin() as conn:
            params = {"id": row["charge_id"], "client_id": row["client_id"]}
            charge = (await conn.execute(_LOCK_CHARGE, params)).mappings().first()
            if charge is None:
                return RefundAttempt(None, refusal="charge_not_found")
            # under the charge's lock a concurrent request with this key has finished
            found = await REFUNDS.find(conn, row["client_id"], row["idempotency_key"])
            if found is not None:
                return RefundAttempt(Keyed(found, fresh=False), dict(charge))
            if charge["status"] != "captured":
                return RefundAttempt(None, dict(charge), "charge_not_captured")
            if charge["refunded_amount"] + row["amount"] > charge["captured_amount"]:
                return RefundAttempt(None, dict(charge), "over_captured")
            stored = await REFUNDS.insert(conn, {**row, "currency": charge["currency"]})
            added = {"id": charge["id"], "amount": row["amount"], "at": row["created_at"]}
            await conn.execute(_ADD_REFUNDED, added)
            return RefundAttempt(stored, dict(charge))
