"""Statements run by hand on the test stack's Postgres (what an operator would do in psql:
corrupt a row, look at a table), for the tests that check what a tool makes of it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from common.db import make_engine
from common.settings import Settings

Statement = tuple[str, dict[str, Any]]


async def scalar(settings: Settings, *statements: Statement) -> Any:
    """Run ``statements`` (SQL, parameters) in one transaction; the last one's first
    column of its first row (None without a row)."""
    engine = make_engine(settings.postgres_dsn, pool_size=1)
    try:
        async with engine.begin() as conn:
            result = None
            for sql, params in statements:
                result = await conn.execute(text(sql), params)
            return result.scalar() if result is not None and result.returns_rows else None
    finally:
        await engine.dispose()
