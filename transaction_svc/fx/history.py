"""The history of one pair's rate, made from the history of its two currencies' rates
against the pivot: a point at every change of either, the pair's rate then in force."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from transaction_svc.fx import store
from transaction_svc.fx.rates import PIVOT, cross, wire

_TICK = timedelta(microseconds=1)  # Postgres' resolution: "at or after since" as "after"


async def points(
    engine: AsyncEngine,
    base: str,
    quote: str,
    since: datetime,
    after: datetime | None,
    until: datetime,
    n: int,
) -> list[dict[str, Any]]:
    """Up to ``n`` points of the rate of ``quote`` per ``base`` in ``since..until``, after
    ``after`` (a page's cursor) when given, oldest first: ``{rate, as_of, source}``.
    The first page starts with the rate in force at ``since`` if it was set before."""
    start = max(since - _TICK, after) if after else since - _TICK
    known = await store.rates_at(engine, [base, quote], start)
    known[PIVOT] = Decimal(1)
    out: list[dict[str, Any]] = []
    if after is None and base in known and quote in known:
        rate = cross(known[base], known[quote])
        assert rate is not None
        out.append({"rate": wire(rate), "as_of": since, "source": "in_force"})
    for change in await store.changes(engine, base, quote, start, until, n):
        if change.base_rate is not None:
            known[base] = change.base_rate
        if change.quote_rate is not None:
            known[quote] = change.quote_rate
        rate = cross(known.get(base), known.get(quote))
        if rate is not None:
            out.append({"rate": wire(rate), "as_of": change.created_at, "source": change.source})
    return out[:n]
