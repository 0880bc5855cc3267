"""Async SQLAlchemy on asyncpg: one engine per process, the only way to Postgres."""

from __future__ import annotations

from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


# For a connection whose every transaction also stores the Kafka offsets it consumed up
# to (the projector, the saga worker, the decider's snapshots): the log is the record,
# what such a transaction writes can be made again from it. If the server crashes
# before the last few commits reach the disk, they are lost TOGETHER with their offsets
# and the consumer simply reads those messages again (the exactly-once path of every
# restart). So these commits need not wait for the WAL flush. Requests whose commit IS
# the record (the idempotency claim before a 202) keep the synchronous default.
LOG_DERIVED = {"synchronous_commit": "off"}


def make_engine(
    dsn: str,
    pool_size: int = 20,
    max_overflow: int = 0,
    pre_ping: bool = False,
    server_settings: dict[str, str] | None = None,
) -> AsyncEngine:
    """An engine on asyncpg with a connection pool.

    A fixed pool (no overflow): connections above ``pool_size`` would be opened and
    closed again for every burst, and a connection costs far more than a short wait for
    a free one; Postgres on two cores gains nothing from more concurrent statements.
    A loopback server is reached without TLS (asyncpg would otherwise try TLS first on
    every connect); elsewhere the DSN's own ``ssl``/``sslmode`` applies.

    No pre-ping by default: it costs a round trip on every checkout, on the hot path of
    every request. After a Postgres restart the first statement on a dead connection fails
    (that request gets a 5xx or its batch is retried) and SQLAlchemy then invalidates the
    whole pool, so the next ones reconnect."""
    url = make_url(dsn)
    plain = url.host in LOOPBACK and not {"ssl", "sslmode"} & set(url.query)
    connect_args: dict[str, object] = {"ssl": False} if plain else {}
    if server_settings:
        connect_args["server_settings"] = server_settings
    return create_async_engine(
        url,
        connect_args=connect_args,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=pre_ping,
        pool_recycle=1800,
    )


async def answers(engine: AsyncEngine) -> None:
    """A readiness check: the database answers a trivial query on ``engine``."""
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
