"""Group-committed idempotency claims (transaction_svc.store.Claims) on real Postgres."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from common.errors import Problem
from transaction_svc import store

pytestmark = pytest.mark.integration


def _request(owner: str, key: str, body_hash: str, currency: str = "USD") -> store.ClaimRequest:
    tx = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{owner}/{key}"))  # as the API derives it
    row = {
        "id": tx, "kind": "transfer", "tx_status": "pending", "owner_id": owner,
        "from_wallet_id": "wa", "to_wallet_id": "wb", "amount": 5, "currency": currency,
        "fee": 0, "description": None, "saga": None, "created_at": datetime.now(UTC),
    }  # fmt: skip
    return store.ClaimRequest(key, body_hash, 202, {"id": tx, "hash": body_hash}, row)


async def _count(engine: AsyncEngine, table: str, owner: str) -> int:
    async with engine.connect() as conn:
        return int(
            (
                await conn.execute(
                    text(f"SELECT count(*) FROM transactions.{table} WHERE owner_id = :o"),
                    {"o": owner},
                )
            ).scalar_one()
        )


async def test_each_request_of_a_batch_gets_its_own_outcome(engine: AsyncEngine) -> None:
    claims = store.Claims(engine)
    owner = f"claims-{uuid.uuid4()}"
    # 30 keys; 10 of them sent twice with the same body, 10 twice with another body,
    # all at once: they land in the same batch
    requests = (
        [_request(owner, f"k{i}", "h") for i in range(30)]
        + [_request(owner, f"k{i}", "h") for i in range(10)]
        + [_request(owner, f"k{i}", "other") for i in range(10, 20)]
    )
    outcomes = await asyncio.gather(*(claims.claim(r) for r in requests))
    by_key: dict[str, list[tuple[store.ClaimRequest, store.Claimed]]] = {}
    for request, outcome in zip(requests, outcomes, strict=True):
        by_key.setdefault(request.key, []).append((request, outcome))
    for key, pairs in by_key.items():
        assert sum(o.fresh for _, o in pairs) == 1, key  # exactly one effect per key
        first_request, first = next((r, o) for r, o in pairs if o.fresh)
        for request, outcome in pairs:
            assert outcome.transaction_id == first.transaction_id
            assert outcome.same_body == (request.request_hash == first_request.request_hash)
            if not outcome.fresh and outcome.same_body:
                assert outcome.response == first.response  # the first answer, replayed
    assert await _count(engine, "idempotency", owner) == 30
    assert await _count(engine, "transactions", owner) == 30

    # once committed, the same keys are replays whatever batch they come in
    again = await asyncio.gather(*(claims.claim(r) for r in requests[:30]))
    assert not any(o.fresh for o in again) and all(o.same_body for o in again)
    assert await _count(engine, "transactions", owner) == 30


async def test_a_bad_request_does_not_fail_the_others_of_its_batch(engine: AsyncEngine) -> None:
    claims = store.Claims(engine)
    owner = f"claims-{uuid.uuid4()}"
    good = [_request(owner, f"g{i}", "h") for i in range(5)]
    bad = _request(owner, "bad", "h", currency="TOOLONG")  # violates varchar(3)
    outcomes = await asyncio.gather(
        *(claims.claim(r) for r in [*good[:2], bad, *good[2:]]), return_exceptions=True
    )
    assert isinstance(outcomes[2], Exception)
    assert all(isinstance(o, store.Claimed) and o.fresh for o in outcomes[:2] + outcomes[3:])
    assert await _count(engine, "transactions", owner) == 5
    assert await _count(engine, "idempotency", owner) == 5  # nothing of the bad one


async def test_a_batch_of_transfers_is_claimed_together_each_with_its_own_outcome_in_order(
    engine: AsyncEngine,
) -> None:
    # given a batch of 1,000 new keys, one key again with another body, one that breaks
    # its row, and one whose extra record refuses it (a daily limit, say)
    claims = store.Claims(engine)
    owner = f"claims-{uuid.uuid4()}"

    async def refuse(conn: AsyncConnection) -> None:
        raise Problem(422, "limit_exceeded")

    limited = dataclasses.replace(_request(owner, "limited", "h"), record=refuse)
    requests = [_request(owner, f"n{i}", "h") for i in range(1000)] + [
        _request(owner, "n7", "other"),
        _request(owner, "bad", "h", currency="TOOLONG"),
        limited,
    ]
    # when they are claimed as one batch
    outcomes = await claims.claim_many(requests)
    # then each has its own outcome, in order: the new keys claimed, the reused key a
    # conflict, the broken and the refused ones their errors, with nothing of theirs kept
    assert len(outcomes) == len(requests)
    assert all(isinstance(o, store.Claimed) and o.fresh for o in outcomes[:1000])
    reused = outcomes[1000]
    assert isinstance(reused, store.Claimed) and not reused.fresh and not reused.same_body
    assert isinstance(outcomes[1001], Exception) and not isinstance(outcomes[1001], Problem)
    assert isinstance(outcomes[1002], Problem) and outcomes[1002].code == "limit_exceeded"
    assert await _count(engine, "transactions", owner) == 1000
    assert await _count(engine, "idempotency", owner) == 1000
    # and the same batch again creates nothing: every key is a replay of the same body
    again = await claims.claim_many(requests[:1000])
    assert all(isinstance(o, store.Claimed) and not o.fresh and o.same_body for o in again)
    assert await _count(engine, "transactions", owner) == 1000
