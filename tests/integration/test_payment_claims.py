"""The claims of payments and refunds on real Postgres (transaction_svc.store.Claims with
transaction_svc.payments' records): one payment per order and refunds within the payment
however concurrent, and a refused request leaves no row behind."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from common.errors import Problem
from transaction_svc import payments, store

pytestmark = pytest.mark.integration


def _row(owner: str, key: str, kind: str, amount: int) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{kind}/{owner}/{key}")),
        "kind": kind, "tx_status": "pending", "owner_id": owner, "from_wallet_id": "wa",
        "to_wallet_id": "wb", "amount": amount, "currency": "USD", "fee": 0,
        "description": None, "saga": None, "created_at": datetime.now(UTC),
    }  # fmt: skip


def _payment(payer: str, key: str, merchant: str, order: str) -> store.ClaimRequest:
    row = _row(payer, key, "payment", 100)
    order_row = {
        "id": row["id"], "merchant_id": merchant, "order_id": order, "payer_id": payer,
        "provider": "wallet", "amount": 100, "currency": "USD", "customer_email": None,
        "customer_name": None, "metadata": None, "created_at": row["created_at"],
    }  # fmt: skip
    record = payments.record_payment(order_row)
    return store.ClaimRequest(key, "h", 202, {"id": row["id"]}, row, record)


def _refund(merchant: str, key: str, payment_id: str, amount: int) -> store.ClaimRequest:
    row = _row(merchant, key, "refund", amount)
    record = payments.record_refund(row["id"], payment_id, amount, None)
    return store.ClaimRequest(key, "h", 202, {"id": row["id"]}, row, record)


async def _count(engine: AsyncEngine, sql: str, **params: Any) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text(sql), params)).scalar_one())


async def test_fifty_claims_of_one_order_make_one_payment_and_leave_nothing_else(
    engine: AsyncEngine,
) -> None:
    # given 50 payments of one order, each under its own key, claimed at once
    claims, payer, merchant = store.Claims(engine), f"payer-{uuid.uuid4()}", str(uuid.uuid4())
    requests = [_payment(payer, f"k{i}", merchant, "order-1") for i in range(50)]
    outcomes = await asyncio.gather(*(claims.claim(r) for r in requests), return_exceptions=True)
    # then one claimed its key, and the 49 others were refused naming it
    fresh = [o for o in outcomes if isinstance(o, store.Claimed)]
    refused = [o for o in outcomes if isinstance(o, Problem)]
    assert len(fresh) == 1 and len(refused) == 49, outcomes
    assert {(p.status, p.code, p.extra["payment_id"]) for p in refused} == {
        (409, "duplicate_order", fresh[0].transaction_id)
    }
    # and the refused left no key, no transaction, no payment behind
    owned = "SELECT count(*) FROM transactions.{} WHERE owner_id = :o"
    assert await _count(engine, owned.format("idempotency"), o=payer) == 1
    assert await _count(engine, owned.format("transactions"), o=payer) == 1
    paid = "SELECT count(*) FROM transactions.payments WHERE merchant_id = :m"
    assert await _count(engine, paid, m=merchant) == 1
    # and the first key replayed is the first payment again, not a 409
    first_key = next(r.key for r in requests if r.row["id"] == fresh[0].transaction_id)
    replay = await claims.claim(_payment(payer, first_key, merchant, "order-1"))
    assert replay.transaction_id == fresh[0].transaction_id and not replay.fresh


async def test_twenty_refunds_of_ten_reserve_exactly_the_hundred_paid(engine: AsyncEngine) -> None:
    # given a payment of 100
    claims, payer, merchant = store.Claims(engine), f"payer-{uuid.uuid4()}", str(uuid.uuid4())
    paid = await claims.claim(_payment(payer, "pay", merchant, "order-1"))
    # when 20 refunds of 10 are claimed at once
    refunds = [_refund(merchant, f"r{i}", paid.transaction_id, 10) for i in range(20)]
    outcomes = await asyncio.gather(*(claims.claim(r) for r in refunds), return_exceptions=True)
    # then exactly 10 are recorded and 10 refused with nothing left
    refused = [o for o in outcomes if isinstance(o, Problem)]
    assert sum(isinstance(o, store.Claimed) for o in outcomes) == 10
    assert {(p.code, p.extra["remaining"]) for p in refused} == {("refund_exceeds_remainder", 0)}
    reserved = "SELECT reserved FROM transactions.payments WHERE id = :p"
    assert await _count(engine, reserved, p=paid.transaction_id) == 100
    recorded = "SELECT count(*) FROM transactions.refunds WHERE payment_id = :p"
    assert await _count(engine, recorded, p=paid.transaction_id) == 10
    owned = "SELECT count(*) FROM transactions.idempotency WHERE owner_id = :o"
    assert await _count(engine, owned, o=merchant) == 10
    # and a failed refund's share, given back, can be refunded again
    async with engine.begin() as conn:
        await payments.settle_refunds(conn, [(paid.transaction_id, 10, False)])
    again = await claims.claim(_refund(merchant, "r-again", paid.transaction_id, 10))
    assert again.fresh
