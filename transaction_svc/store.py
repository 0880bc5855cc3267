"""Postgres access for the command API: idempotency records and transactions."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import orjson
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import asyncpg as postgresql_asyncpg
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from common.batching import GroupCall

COLUMNS = (
    "t.id, t.kind, t.status, t.owner_id, t.from_wallet_id, t.to_wallet_id, t.amount, "
    "t.currency, t.fee, t.description, t.failure_reason, t.saga, t.created_at, t.updated_at, "
    # a payment's own record, or the payment a refund gives back from (else NULLs)
    "p.merchant_id, p.order_id, p.provider AS payment_provider, "
    "NULLIF(t.saga->>'charge_id', '') AS provider_payment_id, "
    "p.refunded, r.payment_id AS refund_of"
)
# every row read with its payment's or refund's record
FROM = (
    "transactions.transactions t LEFT JOIN transactions.payments p ON p.id = t.id "
    "LEFT JOIN transactions.refunds r ON r.id = t.id"
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
# trip and one commit for all (both rows of a request or neither). Run in autocommit (one
# statement, its own transaction: no BEGIN and COMMIT round trips around it); the batches
# of ``Claims`` on the driver connection (``insert_on_driver``, below).
CLAIM_PARAMS = (
    "owner_ids",
    "keys",
    "request_hashes",
    "transaction_ids",
    "status_codes",
    "responses",
    "kinds",
    "statuses",
    "from_wallet_ids",
    "to_wallet_ids",
    "amounts",
    "currencies",
    "fees",
    "descriptions",
    "sagas",
    "created_ats",
)
CLAIM = text("""
WITH u AS (SELECT * FROM unnest(CAST(:owner_ids AS text[]), CAST(:keys AS text[]),
    CAST(:request_hashes AS text[]), CAST(:transaction_ids AS text[]),
    CAST(:status_codes AS int[]), CAST(:responses AS text[]), CAST(:kinds AS text[]),
    CAST(:statuses AS text[]), CAST(:from_wallet_ids AS text[]),
    CAST(:to_wallet_ids AS text[]), CAST(:amounts AS bigint[]), CAST(:currencies AS text[]),
    CAST(:fees AS bigint[]), CAST(:descriptions AS text[]), CAST(:sagas AS text[]),
    CAST(:created_ats AS timestamptz[]))
    AS u(owner_id, key, request_hash, transaction_id, status_code, response, kind, status,
         from_wallet_id, to_wallet_id, amount, currency, fee, description, saga, created_at)),
claim AS (
    INSERT INTO transactions.idempotency
        (owner_id, key, request_hash, transaction_id, status_code, response, created_at)
    SELECT owner_id, key, request_hash, transaction_id, status_code, response::jsonb, now()
    FROM u
    ON CONFLICT DO NOTHING RETURNING transaction_id),
tx AS (
    INSERT INTO transactions.transactions (id, kind, status, owner_id, from_wallet_id,
        to_wallet_id, amount, currency, fee, description, saga, created_at, updated_at)
    SELECT u.transaction_id, u.kind, u.status, u.owner_id, u.from_wallet_id, u.to_wallet_id,
        u.amount, u.currency, u.fee, u.description, u.saga::jsonb, u.created_at, u.created_at
    FROM u JOIN claim USING (transaction_id)
    ON CONFLICT DO NOTHING)
SELECT transaction_id FROM claim
""")
_PREVIOUS = text(
    "SELECT request_hash, transaction_id, status_code, response::text AS response "
    "FROM transactions.idempotency WHERE owner_id = :owner_id AND key = :key"
)


# more rows a claim writes in its own database transaction (``ClaimRequest.record``)
Record = Callable[[AsyncConnection], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class ClaimRequest:
    """What one money POST asks to claim (the arguments of ``claim``)."""

    key: str
    request_hash: str
    status_code: int
    response: dict[str, Any]
    row: dict[str, Any]
    # more rows to write in the claim's own database transaction (a payment's order, a
    # refund's share of its payment, a share of a daily limit); raises to refuse the
    # request, and then neither the key nor anything else stays claimed
    record: Record | None = None

    def values(self) -> tuple[Any, ...]:
        """The claim statement's parameters for this request, in ``CLAIM_PARAMS`` order."""
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
    bad request cannot fail the others and a replay still finds the first answer.
    A claim that records more (``ClaimRequest.record``: a payment's order, a refund's
    share) has its own database transaction beside the batches, since it may wait on
    another request's lock and must not hold up the batch it would share."""

    def __init__(self, engine: AsyncEngine, concurrency: int = 2, max_batch: int = 500) -> None:
        self.engine = engine
        self._grouped = GroupCall(self._claim_batch, concurrency, max_batch)

    async def claim(self, request: ClaimRequest) -> Claimed:
        if request.record is not None:
            return await claim(self.engine, request)
        return await self._grouped(request)

    async def claim_many(self, requests: list[ClaimRequest]) -> list[Claimed | BaseException]:
        """Claim ``requests`` (a batch of transfers) together: those that record nothing
        more in one statement (as one group-committed batch), the others each in its
        own database transaction; one outcome each, in order."""
        plain = [i for i, r in enumerate(requests) if r.record is None]
        outcomes: list[Claimed | BaseException | None] = [None] * len(requests)
        if plain:
            claimed = await self._claim_batch([requests[i] for i in plain])
            for i, outcome in zip(plain, claimed, strict=True):
                outcomes[i] = outcome
        return await self._one_by_one(requests, outcomes)

    async def _claim_batch(self, batch: list[ClaimRequest]) -> list[Claimed | BaseException]:
        outcomes: list[Claimed | BaseException | None] = [None] * len(batch)
        first: dict[tuple[str, str], int] = {}  # (owner, key) -> its first index
        for i, request in enumerate(batch):
            first.setdefault((request.row["owner_id"], request.key), i)
        try:
            taken = await insert_on_driver(self.engine, [batch[i] for i in first.values()])
        except Exception:
            taken = set()  # one by one below: each gets its own outcome
        for i in first.values():
            if batch[i].row["id"] in taken:
                outcomes[i] = fresh(batch[i])
        return await self._one_by_one(batch, outcomes)

    async def _one_by_one(
        self, requests: list[ClaimRequest], outcomes: list[Claimed | BaseException | None]
    ) -> list[Claimed | BaseException]:
        """``outcomes`` with each request that has none yet claimed on its own."""
        for i, request in enumerate(requests):
            if outcomes[i] is None:
                try:
                    outcomes[i] = await claim(self.engine, request)
                except Exception as exc:
                    outcomes[i] = exc
        return [o for o in outcomes if o is not None]


@asynccontextmanager
async def autocommit(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A pooled connection on which every statement commits by itself."""
    async with engine.connect() as conn:
        yield await conn.execution_options(isolation_level="AUTOCOMMIT")


def claim_params(requests: list[ClaimRequest]) -> dict[str, list[Any]]:
    """The claim statement's parameters for ``requests``: one array per column."""
    columns = zip(*(request.values() for request in requests), strict=True)
    return {name: list(column) for name, column in zip(CLAIM_PARAMS, columns, strict=True)}


async def insert_claims(conn: AsyncConnection, requests: list[ClaimRequest]) -> set[str]:
    """Claim ``requests`` (distinct keys) in one statement; the transaction ids taken."""
    return set((await conn.execute(CLAIM, claim_params(requests))).scalars())


# The one statement that skips SQLAlchemy's execution layer (docs/architecture.md, "The
# claim on the driver connection"): the batched claim, every money POST's statement, runs
# as SQLAlchemy compiled it for asyncpg on the asyncpg connection under one of the pool's.
# Same run, same statement: SQLAlchemy's execution cost 30-60 % more CPU per claim
# (bench/claim_cost.py, figures in docs/benchmarks.md).
_COMPILED = CLAIM.compile(dialect=postgresql_asyncpg.dialect())
_ON_DRIVER, _ON_DRIVER_ORDER = str(_COMPILED), tuple(_COMPILED.positiontup or ())


async def insert_on_driver(engine: AsyncEngine, requests: list[ClaimRequest]) -> set[str]:
    """``insert_claims`` on the driver connection of a pooled connection (autocommit)."""
    params = claim_params(requests)
    async with engine.connect() as conn:
        driver = (await conn.get_raw_connection()).driver_connection
        assert driver is not None
        try:
            rows = await driver.fetch(_ON_DRIVER, *(params[n] for n in _ON_DRIVER_ORDER))
        except (asyncpg.InterfaceError, asyncpg.PostgresConnectionError, OSError):
            # a connection the server dropped (a restart): SQLAlchemy did not see the
            # error, so tell the pool not to hand this connection out again
            await conn.invalidate()
            raise
    return {row[0] for row in rows}


def fresh(request: ClaimRequest) -> Claimed:
    """The outcome of a request that claimed its key."""
    return Claimed(request.row["id"], True, True, request.status_code, request.response)


async def claim(engine: AsyncEngine, request: ClaimRequest) -> Claimed:
    """Claim the idempotency key and record the pending transaction, in ONE statement
    (its own transaction: both rows or neither), with what ``request.record`` writes if
    anything (then in one database transaction); or return what the request that claimed
    the key first stored."""
    if request.record is not None:
        async with engine.begin() as conn:
            if request.row["id"] in await insert_claims(conn, [request]):
                await request.record(conn)  # raises: nothing of this request stays
                return fresh(request)
            return await _previous(conn, request)
    async with autocommit(engine) as conn:
        if request.row["id"] in await insert_claims(conn, [request]):
            return fresh(request)
        return await _previous(conn, request)


async def _previous(conn: AsyncConnection, request: ClaimRequest) -> Claimed:
    """What the request that claimed the key first stored. It is taken by a committed
    request, or by one that was still running when the claim statement started (its row
    is visible to a new statement once it committed)."""
    prev = (
        await conn.execute(_PREVIOUS, {"owner_id": request.row["owner_id"], "key": request.key})
    ).one()
    return Claimed(
        prev.transaction_id,
        False,
        prev.request_hash == request.request_hash,
        prev.status_code,
        orjson.loads(prev.response),
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
                text(f"SELECT {COLUMNS} FROM {FROM} WHERE t.id = :id"),
                {"id": transaction_id},
            )
        ).first()


async def get_many(engine: AsyncEngine, transaction_ids: list[str]) -> dict[str, Row[Any]]:
    """The rows of ``transaction_ids`` that exist, by id (one statement)."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(f"SELECT {COLUMNS} FROM {FROM} WHERE t.id = ANY(:ids)"),
            {"ids": transaction_ids},
        )
        return {row.id: row for row in rows}


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
    filters: list[tuple[Any, str, str]] = [
        (owner, "t.owner_id = :owner", "owner"),
        (kind, "t.kind = :kind", "kind"),
        (status, "t.status = :status", "status"),
        (wallet_id, "(t.from_wallet_id = :wallet OR t.to_wallet_id = :wallet)", "wallet"),
        (since, "t.created_at >= :since", "since"),
        (until, "t.created_at < :until", "until"),
    ]
    sql, params = newest_first(f"SELECT {COLUMNS} FROM {FROM}", "t", filters, cursor, limit)
    async with engine.connect() as conn:
        return list(await conn.execute(text(sql), params))


def newest_first(
    select: str,
    alias: str,
    filters: list[tuple[Any, str, str]],
    cursor: tuple[datetime, str] | None,
    limit: int,
) -> tuple[str, dict[str, Any]]:
    """A page of ``select`` (its table named ``alias``), newest first: each filter
    ``(value, clause, parameter)`` whose value is not None, and the rows after ``cursor``
    (the last row's created_at and id)."""
    where: list[str] = ["TRUE"]
    params: dict[str, Any] = {"limit": limit}
    for value, clause, name in filters:
        if value is not None:
            where.append(clause)
            params[name] = value
    if cursor is not None:
        where.append(f"({alias}.created_at, {alias}.id) < (:c_at, :c_id)")
        params.update(c_at=cursor[0], c_id=cursor[1])
    order = f"ORDER BY {alias}.created_at DESC, {alias}.id DESC LIMIT :limit"
    return f"{select} WHERE {' AND '.join(where)} {order}", params
