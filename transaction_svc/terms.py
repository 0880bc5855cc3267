"""Postgres access for fees and limits: what a money POST costs and may move
(docs/fees-and-limits.md).

A request reads its terms once (``TermsReader``: the fee rule of its type and currency,
and the limit that applies to its caller: the user's own, else the role's); the reads of
requests that arrive together go in one statement (``common.batching.GroupCall``), on an
autocommit connection, so a money POST's terms cost no round trip of its own under load
and never a stale answer (no cache: an admin's change applies to the next request). A
daily limit is
enforced in the claim's own database transaction (``reserve``, a ``ClaimRequest.record``):
the day's use grows by the amount only while it stays within the limit, in one
statement, so concurrent requests are counted one after the other and none can slip
past. The share reserved is given back when the transaction ends without moving money
(``release``, in the saga worker's transaction that ends it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from common.batching import GroupCall
from common.errors import Problem
from transaction_svc.domain.fees import NO_FEE, FeeRule
from transaction_svc.store import autocommit

PER_TRANSACTION, DAILY = "per_transaction", "daily"


def role_subject(role: str) -> str:
    return f"role:{role}"


def user_subject(user_id: str) -> str:
    return f"user:{user_id}"


@dataclass(frozen=True, slots=True)
class Limit:
    """The limits of one type and currency for one caller (None: no such limit)."""

    per_transaction: int | None
    daily: int | None
    subject: str  # whose they are: role:<role> or user:<id>


@dataclass(frozen=True, slots=True)
class Terms:
    """What a request of one type and currency costs, and the caller's limit on it."""

    fee: FeeRule
    limit: Limit | None


_TERMS = text("""
SELECT q.i, f.basis_points, f.fixed, f.minimum, f.maximum, l.per_transaction, l.daily, l.subject
FROM unnest(CAST(:k AS text[]), CAST(:c AS text[]), CAST(:u AS text[]), CAST(:r AS text[]))
    WITH ORDINALITY AS q(k, c, u, r, i)
LEFT JOIN transactions.fee_schedule f ON f.kind = q.k AND f.currency = q.c
LEFT JOIN LATERAL (
    SELECT per_transaction, daily, subject FROM transactions.limits
    WHERE subject IN (q.u, q.r) AND kind = q.k AND currency = q.c
    ORDER BY subject = q.u DESC LIMIT 1) l ON TRUE
""")

TermsKey = tuple[str, str, str, str]  # kind, currency, role, user


class TermsReader:
    """The terms of money requests, read together: every call made while a read is in
    flight joins the next one (one statement for all their distinct keys)."""

    def __init__(self, engine: AsyncEngine, concurrency: int = 2) -> None:
        self._engine = engine
        self._group: GroupCall[TermsKey, Terms] = GroupCall(self._read_many, concurrency)

    async def __call__(self, kind: str, currency: str, role: str, user: str) -> Terms:
        """The fee rule of ``kind`` in ``currency`` and the limit of ``user`` (role ``role``)."""
        return await self._group((kind, currency, role, user))

    async def _read_many(self, keys: list[TermsKey]) -> list[Terms]:
        distinct = list(dict.fromkeys(keys))
        params = {
            "k": [k for k, _, _, _ in distinct],
            "c": [c for _, c, _, _ in distinct],
            "u": [user_subject(u) for _, _, _, u in distinct],
            "r": [role_subject(r) for _, _, r, _ in distinct],
        }
        async with autocommit(self._engine) as conn:
            rows = (await conn.execute(_TERMS, params)).all()
        found = {distinct[row.i - 1]: _terms(row) for row in rows}
        return [found[key] for key in keys]


def _terms(row: Row[Any]) -> Terms:
    fee = NO_FEE
    if row.basis_points is not None:
        fee = FeeRule(
            basis_points=row.basis_points,
            fixed=row.fixed,
            minimum=row.minimum,
            maximum=row.maximum,
        )
    limit = None if row.subject is None else Limit(row.per_transaction, row.daily, row.subject)
    return Terms(fee, limit)


def exceeded(which: str, limit: int, remaining: int) -> Problem:
    return Problem(
        422,
        "limit_exceeded",
        f"over the {which.replace('_', ' ')} limit of {limit}: {remaining} remaining",
        limit=limit,
        remaining=remaining,
        limit_type=which,
    )


def check_per_transaction(limit: Limit | None, amount: int) -> None:
    """Refuse an amount above the caller's per-transaction maximum."""
    if limit is not None and limit.per_transaction is not None and amount > limit.per_transaction:
        raise exceeded(PER_TRANSACTION, limit.per_transaction, limit.per_transaction)


_RESERVE = text("""
INSERT INTO transactions.limit_usage AS u (owner_id, kind, currency, day, used)
SELECT :o, :k, :c, CAST(:d AS date), CAST(:a AS bigint)
WHERE CAST(:a AS bigint) <= CAST(:limit AS bigint)
ON CONFLICT (owner_id, kind, currency, day) DO UPDATE SET used = u.used + EXCLUDED.used
WHERE u.used + EXCLUDED.used <= CAST(:limit AS bigint)
RETURNING used
""")
_USED = text(
    "SELECT used FROM transactions.limit_usage "
    "WHERE owner_id = :o AND kind = :k AND currency = :c AND day = :d"
)


async def reserve(conn: AsyncConnection, share: dict[str, Any], daily: int) -> None:
    """Add ``share`` (``transaction_id``, ``owner_id``, ``kind``, ``currency``, ``day``,
    ``amount``) to its owner's use of the day, in the claim's transaction; 422
    ``limit_exceeded`` (and nothing reserved) when that would pass ``daily``. A racing
    reservation of the same owner, type, currency and day waits on the row's lock, then
    adds to what the first left."""
    params = {
        "o": share["owner_id"],
        "k": share["kind"],
        "c": share["currency"],
        "d": share["day"],
        "a": share["amount"],
        "limit": daily,
    }
    if (await conn.execute(_RESERVE, params)).scalar() is None:
        used = (await conn.execute(_USED, params)).scalar() or 0
        raise exceeded(DAILY, daily, max(daily - used, 0))
    await conn.execute(
        text(
            "INSERT INTO transactions.limit_reservations (transaction_id, owner_id, kind, "
            "currency, day, amount) VALUES (:transaction_id, :owner_id, :kind, :currency, "
            ":day, :amount)"
        ),
        share,
    )


_RELEASE = text("""
WITH gone AS (
    DELETE FROM transactions.limit_reservations WHERE transaction_id = ANY(:ended)
    RETURNING transaction_id, owner_id, kind, currency, day, amount),
back AS (
    SELECT owner_id, kind, currency, day, sum(amount) AS amount FROM gone
    WHERE transaction_id = ANY(:failed) GROUP BY owner_id, kind, currency, day)
UPDATE transactions.limit_usage u SET used = u.used - back.amount FROM back
WHERE u.owner_id = back.owner_id AND u.kind = back.kind AND u.currency = back.currency
    AND u.day = back.day
""")


async def release(conn: AsyncConnection, ended: list[str], failed: list[str]) -> None:
    """Transactions that ended: their reservations are done with, and the shares of those
    that moved no money (``failed``: failed or reversed) go back to their day's use.
    Called in the saga worker's database transaction, so each one ends once."""
    await conn.execute(_RELEASE, {"ended": ended, "failed": failed})


async def fee_schedule(engine: AsyncEngine) -> list[Row[Any]]:
    async with engine.connect() as conn:
        return list(
            await conn.execute(
                text(
                    "SELECT kind, currency, basis_points, fixed, minimum, maximum, updated_by, "
                    "updated_at FROM transactions.fee_schedule ORDER BY kind, currency"
                )
            )
        )


async def set_fee(conn: AsyncConnection, rule: dict[str, Any]) -> Row[Any]:
    """Insert or replace the rule of ``rule["kind"]`` in ``rule["currency"]``."""
    result = await conn.execute(
        text(
            "INSERT INTO transactions.fee_schedule (kind, currency, basis_points, fixed, "
            "minimum, maximum, updated_by, updated_at) VALUES (:kind, :currency, "
            ":basis_points, :fixed, :minimum, :maximum, :updated_by, now()) "
            "ON CONFLICT (kind, currency) DO UPDATE SET basis_points = EXCLUDED.basis_points, "
            "fixed = EXCLUDED.fixed, minimum = EXCLUDED.minimum, maximum = EXCLUDED.maximum, "
            "updated_by = EXCLUDED.updated_by, updated_at = EXCLUDED.updated_at "
            "RETURNING kind, currency, basis_points, fixed, minimum, maximum, updated_by, "
            "updated_at"
        ),
        rule,
    )
    return result.one()


async def set_limit(conn: AsyncConnection, limit: dict[str, Any]) -> Row[Any]:
    """Insert or replace the limits of ``limit["subject"]`` on a type and currency."""
    result = await conn.execute(
        text(
            "INSERT INTO transactions.limits (subject, kind, currency, per_transaction, daily, "
            "updated_by, updated_at) VALUES (:subject, :kind, :currency, :per_transaction, "
            ":daily, :updated_by, now()) ON CONFLICT (subject, kind, currency) DO UPDATE SET "
            "per_transaction = EXCLUDED.per_transaction, daily = EXCLUDED.daily, "
            "updated_by = EXCLUDED.updated_by, updated_at = EXCLUDED.updated_at "
            "RETURNING updated_at"
        ),
        limit,
    )
    return result.one()


async def limits_of(engine: AsyncEngine, user: str, role: str, day: date) -> list[Row[Any]]:
    """The limits that apply to ``user`` (role ``role``), one per type and currency (the
    user's own over the role's), each with what the user used on ``day``."""
    async with engine.connect() as conn:
        return list(
            await conn.execute(
                text(
                    "SELECT DISTINCT ON (l.kind, l.currency) l.kind, l.currency, "
                    "l.per_transaction, l.daily, l.subject, COALESCE(u.used, 0) AS used "
                    "FROM transactions.limits l LEFT JOIN transactions.limit_usage u "
                    "ON u.owner_id = :o AND u.kind = l.kind AND u.currency = l.currency "
                    "AND u.day = :d WHERE l.subject IN (:user, :role) "
                    "ORDER BY l.kind, l.currency, l.subject = :user DESC"
                ),
                {"o": user, "d": day, "user": user_subject(user), "role": role_subject(role)},
            )
        )
