"""Runs the simulated rate feed in each API process: every ``interval_s`` it asks for a
tick, and the rate-change lock and the time of the last move let one process move the
rates per interval however many run (``Rates.tick``)."""

from __future__ import annotations

import asyncio
import logging
import random

from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from transaction_svc.fx.source import Feed, Rates

log = logging.getLogger("paystream.fx")
RETRY_S = 1.0  # before the next try after a failed tick


async def run_feed(rates: Rates, feed: Feed) -> None:
    """Tick until cancelled; with ``interval_s`` 0, record the configured table once (if
    nothing was recorded yet) and stop."""
    rng = random.Random()
    while True:
        try:
            await rates.tick(feed, rng)
        except (SQLAlchemyError, RedisError, OSError) as exc:
            log.warning("fx feed tick failed", extra={"error": repr(exc)})
            await asyncio.sleep(RETRY_S)
            continue
        if not feed.interval_s:
            return
        await asyncio.sleep(feed.interval_s)
