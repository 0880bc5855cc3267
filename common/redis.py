"""``redis.asyncio`` client factory."""

from __future__ import annotations

from redis.asyncio import Redis


def make_redis(url: str) -> Redis:
    """A pooled client that returns ``str`` values."""
    return Redis.from_url(url, decode_responses=True, socket_connect_timeout=3)
