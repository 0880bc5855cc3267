"""Revoked sessions: ended by user_svc, refused by every token verifier within a second.

An access token names its session in the ``sid`` claim (the refresh-token family it was
minted for). When a session ends before its access tokens expire (logout, a reused
refresh token), user_svc appends ``{sid, until}`` to one Redis stream; ``until`` is when
the last access token of that session expires. Every process that verifies tokens
follows the stream with a blocking ``XREAD`` (one connection, no polling) and keeps the
revoked ids in memory, so checking a token costs a set lookup and no round trip: a
revocation reaches every follower as soon as Redis delivers it.

Entries older than the longest access-token lifetime are trimmed from the stream when
new ones are added; a follower started later reads what is left, which is every session
whose tokens can still be valid. When Redis cannot be read, followers keep the ids they
have and retry (logged): tokens of sessions ended meanwhile pass until it answers again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import RedisError

log = logging.getLogger("paystream.revocation")

REVOKED_SESSIONS_STREAM = "paystream:auth:revoked-sessions"


def revoke_session(pipe: Pipeline, sid: str, ttl_s: int, now_s: float) -> None:
    """Queue on ``pipe`` the entry that revokes ``sid`` for ``ttl_s`` seconds (the longest
    time one of its access tokens may still be valid), trimming the entries whose
    sessions can hold no valid token any more."""
    pipe.xadd(
        REVOKED_SESSIONS_STREAM,
        {"sid": sid, "until": str(int(now_s) + ttl_s)},
        minid=str(max(0, int((now_s - ttl_s) * 1000))),
        approximate=True,
    )


class RevokedSessions:
    """The revoked session ids, followed from the stream; ``sid in revoked`` is the check."""

    def __init__(self, block_ms: int = 1000, retry_s: float = 0.5) -> None:
        self._until: dict[str, float] = {}
        self._last_id = "0-0"
        self._block_ms = block_ms
        self._retry_s = retry_s
        self._task: asyncio.Task[None] | None = None
        self._pruned_at = 0.0
        self._warned_at = 0.0

    def __contains__(self, sid: object) -> bool:
        return sid in self._until

    async def start(self, redis: Redis) -> None:
        """Read every revocation still in the stream, then follow it in the background."""
        while await self._read(redis, block_ms=None):
            pass
        self._task = asyncio.create_task(self._follow(redis), name="revoked-sessions")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _follow(self, redis: Redis) -> None:
        while True:
            try:
                await self._read(redis, self._block_ms)
            except (RedisError, OSError) as exc:
                self._warn(exc)
                await asyncio.sleep(self._retry_s)
            self._prune()

    async def _read(self, redis: Redis, block_ms: int | None) -> int:
        """Apply the entries after the last one seen; how many there were."""
        answer: Any = await redis.xread(
            {REVOKED_SESSIONS_STREAM: self._last_id}, count=1000, block=block_ms
        )
        entries = answer[0][1] if answer else []
        for entry_id, fields in entries:
            self._last_id = entry_id
            with contextlib.suppress(KeyError, ValueError):  # a malformed entry is passed over
                self._until[fields["sid"]] = float(fields["until"])
        return len(entries)

    def _prune(self) -> None:
        """Forget sessions whose tokens have all expired (once a minute)."""
        now = time.time()
        if now - self._pruned_at >= 60:
            self._pruned_at = now
            self._until = {sid: t for sid, t in self._until.items() if t > now}

    def _warn(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._warned_at >= 10:
            self._warned_at = now
            log.warning("cannot follow revoked sessions, retrying: %s", exc)
