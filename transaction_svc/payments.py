"""Postgres access for payments to merchants and their refunds, and the merchants
transaction_svc knows (projected from ``user-events`` by the saga worker).

Two rules live here, each decided by Postgres in the claim's own database transaction
(``store.ClaimRequest.record``), so no concurrency can beat them (docs/merchants.md):
one payment per ``(merchant_id, order_id)`` (a unique constraint), and refunds never above
what was paid (the payment's row locked while a refund's share is reserved).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from common.errors import Problem
from transaction_svc.store import newest_first

MERCHANT = "merchant"
PAYMENT_COLUMNS = (
    "p.id, p.merchant_id, p.order_id, p.payer_id, p.provider, p.amount, p.currency, "
    "p.customer_email, p.customer_name, p.metadata, p.reserved, "
    # a card payment's charge at the provider, kept by its saga
    "NULLIF(t.saga->>'charge_id', '') AS provider_payment_id, "
    "p.refunded, p.created_at, GREATEST(p.updated_at, t.updated_at) AS updated_at, "
    "t.status AS transaction_status, t.failure_reason, t.description, t.from_wallet_id, "
    "t.to_wallet_id"
)
PAYMENT_FROM = "transactions.payments p JOIN transactions.transactions t ON t.id = p.id"


@dataclass(frozen=True, slots=True)
class Merchant:
    """What the command API knows of a payee: a merchant, and its wallet in a currency."""

    is_merchant: bool
    wallet_id: str | None  # its oldest wallet in the currency asked about


async def merchant(engine: AsyncEngine, user_id: str, currency: str) -> Merchant:
    """The user ``user_id`` as a payee in ``currency`` (unknown users are no merchant)."""
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    "SELECT (SELECT role FROM transactions.merchants WHERE user_id = :u) "
                    "AS role, (SELECT min(wallet_id) FROM transactions.wallet_directory "
                    "WHERE owner_id = :u AND currency = :c) AS wallet_id"
                ),
                {"u": user_id, "c": currency},
            )
        ).one()
    return Merchant(row.role == MERCHANT, row.wallet_id)


def record_payment(payment: dict[str, Any]) -> Any:
    """The claim's extra row of a payment: its order, unique per merchant. A second payment
    of the order waits for the first one's claim to commit (the unique index), then is
    refused 409 ``duplicate_order`` naming the first; if the first rolled back, it goes on.
    """

    async def record(conn: AsyncConnection) -> None:
        params = payment | {"metadata": orjson.dumps(payment["metadata"]).decode()}
        taken = (
            await conn.execute(
                text(
                    "INSERT INTO transactions.payments (id, merchant_id, order_id, payer_id, "
                    "provider, amount, currency, customer_email, customer_name, metadata, "
                    "created_at, updated_at) VALUES (:id, :merchant_id, :order_id, :payer_id, "
                    ":provider, :amount, :currency, :customer_email, :customer_name, "
                    "CAST(:metadata AS jsonb), :created_at, :created_at) "
                    "ON CONFLICT (merchant_id, order_id) DO NOTHING RETURNING id"
                ),
                params,
            )
        ).scalar()
        if taken is None:
            first = (
                await conn.execute(
                    text(
                        "SELECT id FROM transactions.payments "
                        "WHERE merchant_id = :merchant_id AND order_id = :order_id"
                    ),
                    payment,
                )
            ).scalar_one()
            raise Problem(
                409,
                "duplicate_order",
                f"order {payment['order_id']} of this merchant is already paid by {first}",
                payment_id=first,
            )

    return record


def record_refund(refund_id: str, payment_id: str, amount: int, reason: str | None) -> Any:
    """The claim's extra rows of a refund: its share of the payment reserved under the
    payment's row lock (so racing refunds are counted one after the other), and the
    refund's own row; 422 ``refund_exceeds_remainder`` when the share is not there."""

    async def record(conn: AsyncConnection) -> None:
        paid = (
            await conn.execute(
                text("SELECT amount, reserved FROM transactions.payments WHERE id = :p FOR UPDATE"),
                {"p": payment_id},
            )
        ).one()
        remaining = paid.amount - paid.reserved
        if amount > remaining:
            raise exceeds(remaining)
        await conn.execute(
            text(
                "UPDATE transactions.payments SET reserved = reserved + :a, updated_at = now() "
                "WHERE id = :p"
            ),
            {"a": amount, "p": payment_id},
        )
        await conn.execute(
            text(
                "INSERT INTO transactions.refunds (id, payment_id, amount, reason, created_at) "
                "VALUES (:id, :p, :a, :r, now())"
            ),
            {"id": refund_id, "p": payment_id, "a": amount, "r": reason},
        )

    return record


def exceeds(remaining: int) -> Problem:
    return Problem(
        422,
        "refund_exceeds_remainder",
        f"at most {remaining} minor units of this payment are left to refund",
        remaining=remaining,
    )


async def settle_refunds(conn: AsyncConnection, ended: list[tuple[str, int, bool]]) -> None:
    """Refunds that ended (payment id, amount, completed?): a completed one counts as
    refunded, a failed one gives its reserved share back. Called in the saga's database
    transaction, so each refund ends once, with the saga state and the consumed offsets."""
    await conn.execute(
        text(
            "UPDATE transactions.payments SET refunded = refunded + "
            "CASE WHEN :done THEN :a ELSE 0 END, reserved = reserved - "
            "CASE WHEN :done THEN 0 ELSE :a END, updated_at = now() WHERE id = :p"
        ),
        [{"p": p, "a": a, "done": done} for p, a, done in ended],
    )


async def get_payment(engine: AsyncEngine, payment_id: str) -> Row[Any] | None:
    async with engine.connect() as conn:
        return (
            await conn.execute(
                text(f"SELECT {PAYMENT_COLUMNS} FROM {PAYMENT_FROM} WHERE p.id = :id"),
                {"id": payment_id},
            )
        ).first()


async def refunds_of(engine: AsyncEngine, payment_ids: list[str]) -> dict[str, list[Row[Any]]]:
    """Each payment's refunds, oldest first."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT r.id, r.payment_id, r.amount, r.reason, r.created_at, t.status, "
                "t.failure_reason FROM transactions.refunds r JOIN transactions.transactions t "
                "ON t.id = r.id WHERE r.payment_id = ANY(:ids) ORDER BY r.created_at, r.id"
            ),
            {"ids": payment_ids},
        )
        found: dict[str, list[Row[Any]]] = {p: [] for p in payment_ids}
        for row in rows:
            found[row.payment_id].append(row)
        return found


async def search_payments(
    engine: AsyncEngine,
    *,
    party: str | None,
    merchant_id: str | None,
    order_id: str | None,
    cursor: tuple[datetime, str] | None,
    limit: int,
) -> list[Row[Any]]:
    """Newest first; ``party`` (a user id) keeps the payments it paid or was paid, None
    every payment (admins, auditors)."""
    filters: list[tuple[Any, str, str]] = [
        (party, "(p.payer_id = :party OR p.merchant_id = :party)", "party"),
        (merchant_id, "p.merchant_id = :merchant", "merchant"),
        (order_id, "p.order_id = :order", "order"),
    ]
    select = f"SELECT {PAYMENT_COLUMNS} FROM {PAYMENT_FROM}"
    sql, params = newest_first(select, "p", filters, cursor, limit)
    async with engine.connect() as conn:
        return list(await conn.execute(text(sql), params))
