"""Postgres access for the command API: idempotency records and transactions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import orjson
from sqlalchemy import text
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncEngine

from common.batching import GroupCall

COLUMNS = (
    "id, kind, status, owner_id, from_wallet_id, to_wallet_id, amount, currency, fee, "
    "description, failure_reason, saga, created_at, updated_at"
)


@dataclass(frozen=True, slots=True)
class Claimed:
    """The outcome of claiming an idempotency key."""

    transaction_id: str
    fresh: bool  # True: this request created it; False: a replay
    same_body: bool
    status_code: int
    response: dict[str, Any]


# Claims the keys of many requests at once, each with its pending transaction: one round
# trip and one commit for all (both rows of a request or neither). Run on the driver
# (asyncpg) connection underneath the pool, outside a transaction: this is every money
# POST's statement, and SQLAlchemy's execution layer cost more than the statement.
_CLAIM = (
    "WITH u AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],"
    " $5::int[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::bigint[],"
    " $12::text[], $13::bigint[], $14::text[], $15::text[], $16::timestamptz[])"
    " AS u(owner_id, key, request_hash, transaction_id, status_code, response, kind,"
    " status, from_wallet_id, to_wallet_id, amount, currency, fee, description, saga,"
    " created_at)),"
    " claim AS ("
    " INSERT INTO transactions.idempotency (owner_id, key, request_hash, transaction_id,"
    " status_code, response, created_at) SELECT owner_id, key, request_hash,"
    " transaction_id, status_code, response::jsonb, now() FROM u"
    " ON CONFLICT DO NOTHING RETURNING transaction_id),"
    " tx AS ("
    " INSERT INTO transactions.transactions (id, kind, status, owner_id, from_wallet_id,"
    " to_wallet_id, amount, currency, fee, description, saga, created_at, updated_at)"
    " SELECT u.transaction_id, u.kind, u.status, u.owner_id, u.from_wallet_id,"
    " u.to_wallet_id, u.amount, u.currency, u.fee, u.description, u.saga::jsonb,"
    " u.created_at, u.created_at FROM u JOIN claim USING (transaction_id)"
    " ON CONFLICT DO NOTHING)"
    " SELECT transaction_id FROM claim"
)
_PREVIOUS = (
    "SELECT request_hash, transaction_id, status_code, response::text AS response "
    "FROM transactions.idempotency WHERE owner_id = $1 AND key = $2"
)


@dataclass(frozen=True, slots=True)
class ClaimRequest:
    """What one money POST asks to claim (the arguments of ``claim``)."""

    key: str
    request_hash: str
    status_code: int
    response: dict[str, Any]
    row: dict[str, Any]

    def values(self) -> tuple[Any, ...]:
        """The claim statement's 16 parameters, in order."""
        row = self.row
        return (
            row["owner_id"],
            self.key,
            self.request_hash,
            row["id"],
            self.status_code,
            orjson.dumps(self.response).decode(),
            row["kind"],
            row["tx_status"],
            row["from_wallet_id"],
            row["to_wallet_id"],
            row["amount"],
            row["currency"],
            row["fee"],
            row["description"],
            row["saga"],
            row["created_at"],
        )


class Claims:
    """Group commit of idempotency claims (``common.batching.GroupCall``).

    The claims of the requests that arrive while a claim statement runs are made
    together by the next one (at most two in flight): no timer, no added wait when
    idle, larger batches exactly when the load is high. Every request is answered only
    once its claim is committed, as with one statement each. A key queued twice in one
    batch, or a batch that fails, goes one statement per request (``claim``), so one
    bad request cannot fail the others and a replay still finds the first answer."""

    def __init__(self, engine: AsyncEngine, concurrency: int = 2, max_batch: int = 500) -> None:
        self.engine = engine
        self.claim = GroupCall(self._claim_batch, concurrency, max_batch)

    async def _claim_batch(self, batch: list[ClaimRequest]) -> list[Claimed | BaseException]:
        outcomes: list[Claimed | BaseException | None] = [None] * len(batch)
        first: dict[tuple[str, str], int] = {}  # (owner, key) -> its first index
        for i, request in enumerate(batch):
            first.setdefault((request.row["owner_id"], request.key), i)
        try:
            async with _driver(self.engine) as driver:
                taken = await _insert(driver, [batch[i] for i in first.values()])
        except Exception:
            taken = set()  # one by one below: each gets its own outcome
        for i in first.values():
            if batch[i].row["id"] in taken:
                outcomes[i] = fresh(batch[i])
        for i, request in enumerate(batch):
            if outcomes[i] is None:
                try:
                    outcomes[i] = await claim(self.engine, request)
                except Exception as exc:
                    outcomes[i] = exc
        return [o for o in outcomes if o is not None]


@asynccontextmanager
async def _driver(engine: AsyncEngine) -> AsyncIterator[asyncpg.Connection]:
    """The asyncpg connection under one of the pool's."""
    async with engine.connect() as conn:
        driver = (await conn.get_raw_connection()).driver_connection
        assert driver is not None
        try:
            yield driver
        except (asyncpg.InterfaceError, asyncpg.PostgresConnectionError, OSError):
            # a connection the server dropped (a restart): SQLAlchemy did not see the
            # error, so tell the pool not to hand this connection out again
            await conn.invalidate()
            raise


async def _insert(driver: asyncpg.Connection, requests: list[ClaimRequest]) -> set[str]:
    """Claim ``requests`` (distinct keys) in one statement; the transaction ids taken."""
    columns = list(zip(*(request.values() for request in requests), strict=True))
    return {row[0] for row in await driver.fetch(_CLAIM, *columns)}


def fresh(request: ClaimRequest) -> Claimed:
    """The outcome of a request that claimed its key."""
    return Claimed(request.row["id"], True, True, request.status_code, request.response)


async def claim(engine: AsyncEngine, request: ClaimRequest) -> Claimed:
    """Claim the idempotency key and record the pending transaction, in ONE statement
    (its own transaction: both rows or neither); or return what the request that claimed
    the key first stored."""
    async with _driver(engine) as driver:
        if request.row["id"] in await _insert(driver, [request]):
            return fresh(request)
        # Taken: by a committed request, or by one that was still running when this
        # statement started (its row is visible to a new statement once it committed).
        prev = await driver.fetchrow(_PREVIOUS, request.row["owner_id"], request.key)
    assert prev is not None
    return Claimed(
        prev["transaction_id"],
        False,
        prev["request_hash"] == request.request_hash,
        prev["status_code"],
        orjson.loads(prev["response"]),
    )


async def remember_answer(
    engine: AsyncEngine, owner: str, key: str, status_code: int, response: dict[str, Any]
) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE transactions.idempotency SET status_code = :s, "
                "response = CAST(:r AS jsonb) WHERE owner_id = :o AND key = :k"
            ),
            {"o": owner, "k": key, "s": status_code, "r": orjson.dumps(response).decode()},
        )


async def get(engine: AsyncEngine, transaction_id: str) -> Row[Any] | None:
    async with engine.connect() as conn:
        return (
            await conn.execute(
                text(f"SELECT {COLUMNS} FROM transactions.transactions WHERE id = :id"),
                {"id": transaction_id},
            )
        ).first()


async def search(
    engine: AsyncEngine,
    *,
    owner: str | None,
    kind: str | None,
    status: str | None,
    wallet_id: str | None,
    since: datetime | None,
    until: datetime | None,
    cursor: tuple[datetime, str] | None,
    limit: int,
) -> list[Row[Any]]:
    """Newest first; ``owner`` None means every owner (admins, auditors)."""
    where: list[str] = ["TRUE"]
    params: dict[str, Any] = {"limit": limit}
    filters: list[tuple[Any, str, str]] = [
        (owner, "owner_id = :owner", "owner"),
        (kind, "kind = :kind", "kind"),
        (status, "status = :status", "status"),
        (wallet_id, "(from_wallet_id = :wallet OR to_wallet_id = :wallet)", "wallet"),
        (since, "created_at >= :since", "since"),
        (until, "created_at < :until", "until"),
    ]
    for value, clause, name in filters:
        if value is not None:
            where.append(clause)
            params[name] = value
    if cursor is not None:
        where.append("(created_at, id) < (:c_at, :c_id)")
        params.update(c_at=cursor[0], c_id=cursor[1])
    sql = (
        f"SELECT {COLUMNS} FROM transactions.transactions WHERE {' AND '.join(where)} "
        "ORDER BY created_at DESC, id DESC LIMIT :limit"
    )
    async with engine.connect() as conn:
        return list(await conn.execute(text(sql), params))
