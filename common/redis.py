"""``redis.asyncio`` client factory."""

from __future__ import annotations

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

# A command on a pooled connection that Redis dropped (a restart) is sent again on a new
# connection: without it, each such connection failed one request after Redis came back.
RECONNECTS = 2


def make_redis(url: str) -> Redis:
    """A pooled client that returns ``str`` values and sends a command again, on a new
    connection, when its connection was lost (``RECONNECTS`` times, 50 ms apart at first)."""
    return Redis.from_url(
        url,
        decode_responses=True,
        socket_connect_timeout=3,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), RECONNECTS),
    )
