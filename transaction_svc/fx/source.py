"""The one way rates are read and changed, whatever their source.

Rates come from two sources, recorded the same way (one row per currency and change in
``transactions.fx_rates``, under the rate-change lock, then the Redis cache refreshed):
the simulated feed (``tick``: for the local stack and the tests, a configured table that
drifts within bounds on a schedule) and the admins (``set``). Readers (``current``) get
the latest table from Redis, or from Postgres when Redis does not hold it.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncEngine

from transaction_svc.fx import store
from transaction_svc.fx.cache import RedisRateCache
from transaction_svc.fx.feed import drift
from transaction_svc.fx.rates import RateTable


@dataclass(frozen=True, slots=True)
class Feed:
    """The simulated feed's configuration (``fx_feed_*`` settings)."""

    rates: Mapping[str, Decimal]  # the configured table: each currency's first rate
    interval_s: float  # how often it moves (0: never; the table is still recorded once)
    bound: Decimal  # how far from its anchor a rate may drift (a fraction of it)
    step: Decimal  # how far one tick may move a rate (a fraction of it)


class Rates:
    """Current rates (cached), and the two ways they change (see the module doc)."""

    def __init__(self, engine: AsyncEngine, cache: RedisRateCache) -> None:
        self._engine = engine
        self._cache = cache

    async def current(self) -> RateTable:
        cached = await self._cache.get()
        if cached is not None:
            return cached
        async with self._engine.connect() as conn:
            table = await store.latest(conn)
        await self._cache.put(table)
        return table

    async def set(
        self, rates: Mapping[str, Decimal], changed_by: str, publish: Callable[[], Awaitable[None]]
    ) -> RateTable:
        """Record an admin's rates; ``publish`` (the change's event) runs before the
        commit, so a change that could not be published is not made."""
        async with self._engine.begin() as conn:
            await store.lock(conn, wait=True)
            await store.record(conn, rates, store.ADMIN, changed_by)
            table = await store.latest(conn)
            await publish()
        await self._cache.put(table)
        return table

    async def tick(self, feed: Feed, rng: random.Random) -> bool:
        """One move of the simulated feed, unless another process made one less than an
        interval ago (or holds the lock): the configured table the first time, then each
        rate drifted around its anchor (the last an admin set, else the configured one).
        True when it recorded a change."""
        async with self._engine.begin() as conn:
            if not await store.lock(conn, wait=False):
                return False
            age = await store.seconds_since_change(conn, (store.CONFIG, store.FEED))
            if age is not None and (not feed.interval_s or age < feed.interval_s):
                return False
            if age is None:
                await store.record(conn, feed.rates, store.CONFIG, None)
            else:
                current = (await store.latest(conn)).pivot_rates
                anchors = {**feed.rates, **(await store.latest(conn, store.ADMIN)).pivot_rates}
                moved = {
                    c: drift(r, anchors.get(c, r), feed.bound, feed.step, rng)
                    for c, r in current.items()
                }
                await store.record(conn, moved, store.FEED, None)
            table = await store.latest(conn)
        await self._cache.put(table)
        return True
