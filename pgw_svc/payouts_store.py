"""Payouts to bank accounts in Postgres (schema ``pgw``), keyed by (client, idempotency key)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from pgw_svc.keyed import KeyedTable, PgKeyedRows

PAYOUTS = KeyedTable(
    "payouts",
    ("id", "client_id", "idempotency_key", "request_hash", "payment_method_id", "amount",
     "currency", "status", "failure_reason", "created_at"),
)  # fmt: skip


class PgPayouts(PgKeyedRows):
    """One service client's payouts with their outcome."""

    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__(engine, PAYOUTS)
