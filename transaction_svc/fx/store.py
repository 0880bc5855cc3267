"""Postgres access for FX: the history of every rate change (``transactions.fx_rates``,
one row per currency and change, against the pivot) and the quotes given out.

Every change is made under one advisory lock (the feed's ticks of every API process and
the admins' changes), so the history's ids grow in the order the changes commit and the
latest id is the table's version (what the Redis cache compares).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from transaction_svc.fx.rates import RateTable

LOCK_KEY = 0x6678_7261_7465  # "fxrate": serialises rate changes
CONFIG, FEED, ADMIN = "config", "feed", "admin"  # where a rate came from

_LATEST = text(
    "SELECT DISTINCT ON (currency) currency, rate, id, created_at FROM transactions.fx_rates "
    "WHERE (CAST(:source AS text) IS NULL OR source = :source) ORDER BY currency, id DESC"
)


async def lock(conn: AsyncConnection, *, wait: bool) -> bool:
    """Take the rate-change lock for the rest of ``conn``'s transaction (or, without
    ``wait``, only if it is free); True when taken."""
    if wait:
        await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK_KEY})
        return True
    taken = await conn.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": LOCK_KEY})
    return bool(taken.scalar())


async def latest(conn: AsyncConnection, source: str | None = None) -> RateTable:
    """The latest rate of every currency (only those from ``source``, when given)."""
    rows = list(await conn.execute(_LATEST, {"source": source}))
    if not rows:
        return RateTable(0, None, {})
    version = max(r.id for r in rows)
    as_of = max(r.created_at for r in rows)
    return RateTable(version, as_of, {r.currency: r.rate for r in rows})


async def seconds_since_change(conn: AsyncConnection, sources: tuple[str, ...]) -> float | None:
    """How long ago (by the database's clock) a rate from one of ``sources`` last
    changed; None: never."""
    result = await conn.execute(
        text(
            "SELECT extract(epoch FROM now() - created_at) FROM transactions.fx_rates "
            "WHERE source = ANY(:s) ORDER BY created_at DESC LIMIT 1"
        ),
        {"s": list(sources)},
    )
    age = result.scalar()
    return None if age is None else float(age)


async def record(
    conn: AsyncConnection, rates: Mapping[str, Decimal], source: str, changed_by: str | None
) -> None:
    """Append one change: the new rate of each currency in ``rates``, all at one time."""
    await conn.execute(
        text(
            "INSERT INTO transactions.fx_rates (currency, rate, source, changed_by, created_at) "
            "SELECT c, r, :source, :by, now() "
            "FROM unnest(CAST(:currencies AS text[]), CAST(:rates AS numeric[])) AS u(c, r)"
        ),
        {"currencies": list(rates), "rates": list(rates.values()), "source": source,
         "by": changed_by},
    )  # fmt: skip


_AT = text(
    "SELECT DISTINCT ON (currency) currency, rate FROM transactions.fx_rates "
    "WHERE currency = ANY(:c) AND created_at <= :at ORDER BY currency, id DESC"
)
_CHANGES = text("""
SELECT created_at, min(source) AS source,
    (array_agg(rate ORDER BY id DESC) FILTER (WHERE currency = :b))[1] AS base_rate,
    (array_agg(rate ORDER BY id DESC) FILTER (WHERE currency = :q))[1] AS quote_rate
FROM transactions.fx_rates
WHERE currency IN (:b, :q) AND created_at > :after AND created_at <= :until
GROUP BY created_at ORDER BY created_at LIMIT :n
""")


async def rates_at(engine: AsyncEngine, currencies: list[str], at: datetime) -> dict[str, Decimal]:
    """The rate each of ``currencies`` had at ``at`` (those that had one)."""
    async with engine.connect() as conn:
        return {r.currency: r.rate for r in await conn.execute(_AT, {"c": currencies, "at": at})}


async def changes(
    engine: AsyncEngine, base: str, quote: str, after: datetime, until: datetime, n: int
) -> list[Row[Any]]:
    """Up to ``n`` changes of ``base``'s or ``quote``'s rate after ``after`` up to
    ``until``, oldest first: one row per change, with the new rate of each that changed."""
    params = {"b": base, "q": quote, "after": after, "until": until, "n": n}
    async with engine.connect() as conn:
        return list(await conn.execute(_CHANGES, params))


QUOTE_COLUMNS = (
    "id, owner_id, from_currency, to_currency, rate, from_amount, to_amount, fee, "
    "created_at, expires_at"
)


async def insert_quote(engine: AsyncEngine, quote: dict[str, Any]) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            text(
                f"INSERT INTO transactions.fx_quotes ({QUOTE_COLUMNS}) VALUES (:id, :owner_id, "
                ":from_currency, :to_currency, :rate, :from_amount, :to_amount, :fee, "
                ":created_at, :expires_at)"
            ),
            quote,
        )


async def get_quote(engine: AsyncEngine, quote_id: str) -> Row[Any] | None:
    async with engine.connect() as conn:
        result = await conn.execute(
            text(f"SELECT {QUOTE_COLUMNS} FROM transactions.fx_quotes WHERE id = :id"),
            {"id": quote_id},
        )
        return result.one_or_none()
