"""Revoked sessions on the real Redis: followers learn a revocation at once, and a
follower started later learns every revocation made before it started."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from common.redis import make_redis
from common.revocation import REVOKED_SESSIONS_STREAM, RevokedSessions, revoke_session
from common.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[Redis]:
    client = make_redis(settings.redis_url)
    try:
        yield client
    finally:
        await client.aclose()


async def _revoke(redis: Redis, sid: str, ttl_s: int) -> None:
    async with redis.pipeline(transaction=True) as pipe:
        revoke_session(pipe, sid, ttl_s, time.time())
        await pipe.execute()


async def test_followers_learn_revocations_at_once_and_late_followers_catch_up(
    redis: Redis,
) -> None:
    # given a follower started before anything is revoked
    early = RevokedSessions()
    await early.start(redis)
    sid = f"s-{uuid.uuid4().hex}"
    assert sid not in early
    try:
        # when a session is revoked
        started = time.monotonic()
        await _revoke(redis, sid, ttl_s=3600)
        # then the follower knows within a second (it is told, it does not poll)
        while sid not in early:
            assert time.monotonic() - started < 1.0, "revocation not seen within 1 s"
            await asyncio.sleep(0.01)
        # and a follower started afterwards knows it as soon as it has started
        late = RevokedSessions()
        await late.start(redis)
        try:
            assert sid in late
            assert f"s-{uuid.uuid4().hex}" not in late
        finally:
            await late.stop()
    finally:
        await early.stop()


async def test_a_malformed_entry_is_passed_over(redis: Redis) -> None:
    # given a follower, and an entry in the stream that no revoker wrote
    follower = RevokedSessions()
    await follower.start(redis)
    try:
        await redis.xadd(REVOKED_SESSIONS_STREAM, {"sid": "s-bad", "until": "soon"})
        # when a session is revoked after it
        sid = f"s-{uuid.uuid4().hex}"
        started = time.monotonic()
        await _revoke(redis, sid, ttl_s=3600)
        # then the follower still learns it within a second, and ignores the bad entry
        while sid not in follower:
            assert time.monotonic() - started < 1.0, "revocation not seen within 1 s"
            await asyncio.sleep(0.01)
        assert "s-bad" not in follower
        # and a follower started now reads past the bad entry too
        late = RevokedSessions()
        await late.start(redis)
        try:
            assert sid in late
        finally:
            await late.stop()
    finally:
        await follower.stop()
