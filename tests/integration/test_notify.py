"""Completion notices (common/notify.py) survive a restart of the real Redis: the listener
subscribes again and a waiter parked after the restart is woken by the next notice."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from redis.asyncio import Redis

from common.notify import Waiters, publish_many
from common.redis import make_redis
from common.settings import Settings
from infra.local.backing import start_redis
from infra.local.procs import stop
from infra.testing.stack import StackUnderTest

pytestmark = pytest.mark.integration


def _restart_redis(stack: StackUnderTest) -> None:
    assert stop("redis", stack.cfg.run_dir), "this test restarts the launcher's Redis"
    start_redis(stack.cfg)


async def _subscribers(redis: Redis, channel: str) -> int:
    return int(dict(await redis.pubsub_numsub(channel)).get(channel, 0))


async def test_a_waiter_is_woken_after_redis_restarts(
    stack: StackUnderTest, settings: Settings
) -> None:
    # given a process listening for notices on a channel
    channel = f"it:notices:{uuid.uuid4().hex[:8]}"
    waiters = Waiters(make_redis(settings.redis_url), channel)
    await waiters.start()
    publisher = make_redis(settings.redis_url)
    try:
        # when Redis is restarted under it
        await asyncio.to_thread(_restart_redis, stack)
        # then it subscribes again by itself
        deadline = time.monotonic() + 30
        while await _subscribers(publisher, channel) < 1:
            assert time.monotonic() < deadline, "the listener never subscribed again"
            await asyncio.sleep(0.2)
        # and a waiter parked after the restart is woken by the next notice
        key = str(uuid.uuid4())
        parked = waiters.expect(key)
        await publish_many(publisher, channel, [{"key": key, "status": "completed"}])
        assert await waiters.wait(key, parked, timeout=10) == {"key": key, "status": "completed"}
    finally:
        await waiters.stop()
        await waiters.redis.aclose()
        await publisher.aclose()
