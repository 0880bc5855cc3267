"""Completion notices over Redis pub/sub, fanned out to waiting requests.

A writer (projector, saga worker) publishes ``{"key": ..., ...}`` on a channel after its
database commit. Each API process holds ONE subscription per channel and resolves the
futures of the requests waiting for that key,
so ``Prefer: wait`` costs no polling (``expect`` before acting, then ``wait``).
Notices are hints: a waiter always re-reads the store after being woken (or timing out),
so a lost notice only costs the wait, never correctness. When the connection to Redis is
lost, the listener subscribes again (with backoff until Redis answers); notices published
while it was away are lost, which costs those waiters their wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential

log = logging.getLogger("paystream.notify")

WALLET_CHANNEL = "paystream:wallet-decisions"  # key = command_id
TRANSACTION_CHANNEL = "paystream:transactions"  # key = transaction id, on terminal states
# redis-py's connection errors are not the built-in ConnectionError
LOST = (RedisConnectionError, RedisTimeoutError, OSError)


async def publish_many(redis: Redis, channel: str, notices: list[dict[str, Any]]) -> None:
    """Publish a batch's notices as ONE message (a JSON list): every subscriber of the
    channel receives every message, so one per batch rather than one per notice keeps
    the API processes' cost per notice at a JSON decode."""
    if notices:
        await redis.publish(channel, orjson.dumps(notices))


class Waiters:
    """One subscription to ``channel``; ``wait(key, timeout)`` parks until a notice."""

    def __init__(self, redis: Redis, channel: str) -> None:
        self.redis = redis
        self.channel = channel
        self._waiting: dict[str, list[asyncio.Future[dict[str, Any]]]] = defaultdict(list)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._subscribe()
        self._task = asyncio.create_task(self._listen(), name=f"waiters:{self.channel}")

    async def _subscribe(self) -> None:
        self._pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        await self._pubsub.subscribe(self.channel)

    async def _resubscribe(self) -> None:
        """A fresh subscription, tried again with backoff until Redis answers."""
        async for attempt in AsyncRetrying(
            retry=retry_if_exception_type(LOST), wait=wait_exponential(multiplier=0.1, max=5)
        ):
            with attempt:
                with contextlib.suppress(Exception):
                    await self._pubsub.aclose()
                await self._subscribe()
        log.info("notice subscription restored", extra={"channel": self.channel})

    async def _listen(self) -> None:
        while True:
            try:
                message = await self._pubsub.get_message(timeout=1.0)
            except LOST:
                log.warning("notice subscription lost; resubscribing", exc_info=True)
                await self._resubscribe()
                continue
            if message is None:
                continue
            try:
                data = orjson.loads(message["data"])
            except orjson.JSONDecodeError:
                log.warning("unreadable notice ignored", extra={"channel": self.channel})
                continue
            for notice in data if isinstance(data, list) else [data]:
                if not self._waiting:
                    break
                for fut in self._waiting.pop(str(notice.get("key")), []):
                    if not fut.done():
                        fut.set_result(notice)

    def expect(self, key: str) -> asyncio.Future[dict[str, Any]]:
        """Register interest in ``key`` BEFORE sending what will cause its notice."""
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[key].append(fut)
        return fut

    async def wait(
        self, key: str, fut: asyncio.Future[dict[str, Any]], timeout: float
    ) -> dict[str, Any] | None:
        """The notice for ``key`` (from ``expect``), or None after ``timeout`` seconds."""
        try:
            return await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            return None
        finally:
            waiters = self._waiting.get(key)
            if waiters and fut in waiters:
                waiters.remove(fut)
                if not waiters:
                    del self._waiting[key]

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self._pubsub.aclose()
