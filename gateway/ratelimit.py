"""Rate limits in Redis: a fixed window per client IP and per authenticated subject.

One Lua script (common/ratewindow.py) counts every limited identity atomically, so
concurrent gateways share the counters. Requests arriving while a count
is on its way to Redis are counted together by the next call (each keeps its own
counts: the script increments key by key, in order), so a gateway under load makes one
round trip per batch and holds one Redis connection, not one per waiting request.

When Redis does not answer, requests are let through (fail open, logged): the limiter
protects the services, it must not take the whole API down with it.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from redis.asyncio import Redis

from common.batching import GroupCall
from common.ratewindow import COUNT_SCRIPT, Quota

log = logging.getLogger("paystream.gateway.ratelimit")

KEY_PREFIX = "paystream:gw:rl:"


@dataclass(frozen=True, slots=True)
class RateDecision:
    """The verdict for a request and the quota its headers describe."""

    allowed: bool
    quota: Quota
    window_s: float

    def headers(self) -> dict[str, str]:
        q = self.quota
        h = {
            "RateLimit-Limit": str(q.limit),
            "RateLimit-Remaining": str(q.remaining),
            "RateLimit-Reset": str(q.reset_s),
            "RateLimit-Policy": f"{q.limit};w={math.ceil(self.window_s)}",
        }
        if not self.allowed:
            h["Retry-After"] = str(q.reset_s)
        return h


def decide(quotas: list[Quota], window_s: float) -> RateDecision:
    """Refused when any quota is exceeded (the one that frees up last is reported);
    otherwise allowed, describing the quota with the fewest requests left."""
    if not quotas:
        raise ValueError("no quota to decide on")
    exceeded = [q for q in quotas if q.exceeded]
    if exceeded:
        return RateDecision(False, max(exceeded, key=lambda q: q.reset_ms), window_s)
    return RateDecision(True, min(quotas, key=lambda q: (q.remaining, -q.reset_ms)), window_s)


class RedisRateLimiter:
    """Counts requests per IP and per subject in Redis."""

    def __init__(self, redis: Redis, ip_limit: int, user_limit: int, window_s: float) -> None:
        self.ip_limit = ip_limit
        self.user_limit = user_limit
        self.window_s = window_s
        self._script = redis.register_script(COUNT_SCRIPT)
        self._counts = GroupCall(self._count_many)  # one script call per batch
        self._warned_at = 0.0

    async def hit(self, ip: str, subject: str | None) -> RateDecision | None:
        """Count one request; None when Redis could not be asked (the request passes)."""
        keys = [f"{KEY_PREFIX}ip:{ip}"]
        limits = [self.ip_limit]
        if subject is not None:
            keys.append(f"{KEY_PREFIX}user:{subject}")
            limits.append(self.user_limit)
        raw = await self._counts(keys)
        if raw is None:
            return None
        quotas = [Quota(limit, raw[2 * i], raw[2 * i + 1]) for i, limit in enumerate(limits)]
        return decide(quotas, self.window_s)

    async def _count_many(self, batch: list[list[str]]) -> list[list[int] | None]:
        """Count every request of ``batch`` in one script call; each gets its own counts
        (the script increments key by key, in order), or None when Redis failed."""
        keys = [key for ks in batch for key in ks]
        try:
            raw = await self._script(keys=keys, args=[max(1, int(self.window_s * 1000))])
        except Exception as exc:  # Redis down or answering nonsense: fail open
            self._warn(exc, len(batch))
            return [None] * len(batch)
        counts: list[list[int] | None] = []
        at = 0
        for ks in batch:
            counts.append([int(v) for v in raw[at : at + 2 * len(ks)]])
            at += 2 * len(ks)
        return counts

    def _warn(self, exc: Exception, requests: int) -> None:
        """Fail open, and say so at most every 10 s (not once per request)."""
        now = time.monotonic()
        if now - self._warned_at >= 10:
            self._warned_at = now
            log.warning(
                "rate limiter unavailable, letting requests through: %s",
                exc,
                extra={"requests": requests},
            )
