"""The gateway's rate limiter on real Redis: concurrent requests are counted together,
each with its own count, in one round trip per batch."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from common.redis import make_redis
from common.settings import Settings
from gateway.ratelimit import RedisRateLimiter

pytestmark = pytest.mark.integration


async def test_concurrent_hits_each_get_their_own_count_in_one_round_trip(
    settings: Settings,
) -> None:
    redis = make_redis(settings.redis_url)
    calls = 0
    limiter = RedisRateLimiter(redis, ip_limit=1000, user_limit=50, window_s=30)
    script = limiter._script

    async def counted(*args: object, **kwargs: object) -> object:
        nonlocal calls
        calls += 1
        return await script(*args, **kwargs)  # type: ignore[arg-type]

    limiter._script = counted  # type: ignore[assignment]
    user, ip = f"u-{uuid.uuid4().hex}", f"ip-{uuid.uuid4().hex}"
    try:
        # when 80 requests of one user arrive at once (limit 50)
        decisions = await asyncio.gather(*(limiter.hit(ip, user) for _ in range(80)))
        # then each was counted once: 50 pass, 30 are refused, remaining counts down
        assert all(d is not None for d in decisions)
        allowed = [d for d in decisions if d is not None and d.allowed]
        assert len(allowed) == 50
        assert sorted(d.quota.remaining for d in allowed) == list(range(50))
        assert await redis.get(f"paystream:gw:rl:user:{user}") == "80"
        assert await redis.get(f"paystream:gw:rl:ip:{ip}") == "80"
        # and they took far fewer round trips than requests (the first alone, then a batch)
        assert calls <= 3
        # a later request is counted on its own and sees the window's total
        late = await limiter.hit(ip, user)
        assert late is not None and not late.allowed and late.quota.count == 81
    finally:
        await redis.delete(f"paystream:gw:rl:user:{user}", f"paystream:gw:rl:ip:{ip}")
        await redis.aclose()


async def test_when_redis_does_not_answer_requests_pass(settings: Settings) -> None:
    redis = make_redis("redis://127.0.0.1:1/0")  # nothing listens there
    limiter = RedisRateLimiter(redis, ip_limit=1, user_limit=1, window_s=30)
    try:
        decisions = await asyncio.gather(*(limiter.hit("ip", "u") for _ in range(5)))
        assert decisions == [None] * 5
    finally:
        await redis.aclose()
