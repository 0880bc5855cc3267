"""The latest rate table in Redis, so a quote or a rates page costs no database read.

One hash (``fx:rates``): the table as JSON (rates as decimal strings) and its version.
A writer replaces it only with a newer version (a script compares them in Redis), so a
reader that filled it from an older snapshot cannot overwrite a newer change. Every
change refreshes it after its commit; the expiry bounds how long a change whose writer
died between its commit and the refresh can go unseen.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import orjson
from redis.asyncio import Redis

from transaction_svc.fx.rates import RateTable, wire

KEY = "fx:rates"
NEWER_ONLY = """
local current = redis.call('HGET', KEYS[1], 'version')
if current and tonumber(current) >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'version', ARGV[1], 'table', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""


class RedisRateCache:
    """The cached table (see the module doc)."""

    def __init__(self, redis: Redis, ttl_s: int) -> None:
        self._redis = redis
        self._ttl_s = ttl_s
        self._put = redis.register_script(NEWER_ONLY)

    async def get(self) -> RateTable | None:
        raw = await self._redis.hget(KEY, "table")
        if raw is None:
            return None
        data = orjson.loads(raw)
        as_of = datetime.fromisoformat(data["as_of"]) if data["as_of"] else None
        rates = {c: Decimal(r) for c, r in data["rates"].items()}
        return RateTable(data["version"], as_of, rates)

    async def put(self, table: RateTable) -> None:
        body = {
            "version": table.version,
            "as_of": table.as_of.isoformat() if table.as_of else None,
            "rates": {c: wire(r) for c, r in table.pivot_rates.items()},
        }
        await self._put(keys=[KEY], args=[table.version, orjson.dumps(body), self._ttl_s])
