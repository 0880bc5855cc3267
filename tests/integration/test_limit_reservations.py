"""Daily limits on real Postgres (transaction_svc.terms through store.Claims): the shares
racing claims reserve never pass the limit, a refused claim leaves no key, transaction or
share behind, and a transaction that ended gives its share back once, and only if it
moved nothing."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from common.errors import Problem
from transaction_svc import store, terms

pytestmark = pytest.mark.integration


def _claim(owner: str, key: str, amount: int, daily: int) -> store.ClaimRequest:
    now = datetime.now(UTC)
    row = {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"transfer/{owner}/{key}")),
        "kind": "transfer", "tx_status": "pending", "owner_id": owner, "from_wallet_id": "wa",
        "to_wallet_id": "wb", "amount": amount, "currency": "USD", "fee": 0,
        "description": None, "saga": None, "created_at": now,
    }  # fmt: skip
    share = {"transaction_id": row["id"], "owner_id": owner, "kind": "transfer",
             "currency": "USD", "day": now.date(), "amount": amount}  # fmt: skip

    async def reserve(conn: Any) -> None:
        await terms.reserve(conn, share, daily)

    return store.ClaimRequest(key, "h", 202, {"id": row["id"]}, row, reserve)


async def _scalar(engine: AsyncEngine, sql: str, **params: Any) -> Any:
    async with engine.connect() as conn:
        return (await conn.execute(text(sql), params)).scalar()


async def _used(engine: AsyncEngine, owner: str) -> int:
    sql = "SELECT used FROM transactions.limit_usage WHERE owner_id = :o AND kind = 'transfer'"
    return int(await _scalar(engine, sql, o=owner) or 0)


async def test_thirty_claims_of_ten_reserve_exactly_a_daily_limit_of_a_hundred(
    engine: AsyncEngine,
) -> None:
    # given 30 claims of 10 by one owner under a daily limit of 100, made at once
    claims, owner = store.Claims(engine), f"owner-{uuid.uuid4()}"
    outcomes = await asyncio.gather(
        *(claims.claim(_claim(owner, f"k{i}", 10, 100)) for i in range(30)),
        return_exceptions=True,
    )
    # then 10 were claimed and 20 refused limit_exceeded with nothing left
    fresh = [o for o in outcomes if isinstance(o, store.Claimed)]
    refused = [o for o in outcomes if isinstance(o, Problem)]
    assert len(fresh) == 10 and len(refused) == 20, outcomes
    assert {(p.code, p.extra["limit"], p.extra["remaining"]) for p in refused} == {
        ("limit_exceeded", 100, 0)
    }
    # and the day's use is the limit, with one share and one transaction per claim
    assert await _used(engine, owner) == 100
    count = "SELECT count(*) FROM transactions.{} WHERE owner_id = :o"
    assert await _scalar(engine, count.format("limit_reservations"), o=owner) == 10
    assert await _scalar(engine, count.format("transactions"), o=owner) == 10
    assert await _scalar(engine, count.format("idempotency"), o=owner) == 10


async def test_an_amount_above_the_whole_day_is_refused_with_what_is_left(
    engine: AsyncEngine,
) -> None:
    claims, owner = store.Claims(engine), f"owner-{uuid.uuid4()}"
    await claims.claim(_claim(owner, "a", 30, 100))
    with pytest.raises(Problem) as refused:
        await claims.claim(_claim(owner, "b", 101, 100))
    assert (refused.value.extra["limit"], refused.value.extra["remaining"]) == (100, 70)
    assert await _used(engine, owner) == 30


async def test_an_ended_transaction_gives_its_share_back_once_and_only_if_it_failed(
    engine: AsyncEngine,
) -> None:
    # given two accepted transactions of 40 and 25 under a daily limit of 100
    claims, owner = store.Claims(engine), f"owner-{uuid.uuid4()}"
    ok = await claims.claim(_claim(owner, "ok", 40, 100))
    bad = await claims.claim(_claim(owner, "bad", 25, 100))
    assert await _used(engine, owner) == 65
    # when both end, the second having moved nothing, and the saga's batch is replayed
    ended, failed = [ok.transaction_id, bad.transaction_id], [bad.transaction_id]
    for _ in range(2):
        async with engine.begin() as conn:
            await terms.release(conn, ended, failed)
    # then only the failed one's 25 came back, once; the completed one keeps its 40
    assert await _used(engine, owner) == 40
    sql = "SELECT count(*) FROM transactions.limit_reservations WHERE owner_id = :o"
    assert await _scalar(engine, sql, o=owner) == 0
    # and the room it left is usable again
    assert isinstance(await claims.claim(_claim(owner, "again", 60, 100)), store.Claimed)
    assert await _used(engine, owner) == 100
