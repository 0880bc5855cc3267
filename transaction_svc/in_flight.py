"""Sagas in flight: how many transactions are not terminal yet, and how old the oldest is.

The saga worker sets the gauges every ``WATCH_EVERY_S`` from the transactions made in the
last ``WINDOW`` (the ``created_at`` index bounds the scan; the status column is not indexed
so that saga steps stay HOT updates). A saga still open after the window drops out of the
gauges: by then its alert has fired for most of an hour and the sweep has appended its
request again (``paystream_saga_requests_appended_again_total``).
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from common.metrics import SAGA_OLDEST_AGE, SAGAS_IN_FLIGHT
from transaction_svc.status import TERMINAL

WINDOW = timedelta(hours=1)
WATCH_EVERY_S = 30.0
KINDS = ("transfer", "deposit", "withdrawal", "payment", "refund")
IN_FLIGHT = text(
    "SELECT kind, count(*) AS n, min(created_at) AS oldest FROM transactions.transactions "
    "WHERE created_at > :since AND status <> ALL(:terminal) GROUP BY kind"
)


class InFlightWatch:
    """Sets the in-flight gauges at most every ``WATCH_EVERY_S`` (called from a loop)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._last = float("-inf")
        self._kinds = set(KINDS)  # every kind seen: one no longer open reads 0

    async def maybe_watch(self, now: datetime) -> None:
        if time.monotonic() - self._last < WATCH_EVERY_S:
            return
        self._last = time.monotonic()
        await self.watch(now)

    async def watch(self, now: datetime) -> None:
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(IN_FLIGHT, {"since": now - WINDOW, "terminal": list(TERMINAL)})
            ).all()
        seen = {r.kind: r for r in rows}
        self._kinds.update(seen)
        for kind in sorted(self._kinds):
            row = seen.get(kind)
            SAGAS_IN_FLIGHT.labels(kind).set(row.n if row else 0)
            age = (now - row.oldest).total_seconds() if row else 0.0
            SAGA_OLDEST_AGE.labels(kind).set(max(age, 0.0))
