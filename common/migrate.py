"""Alembic migrations, one history per service, each in the service's own schema.

A service keeps its revisions in ``<service>/migrations/versions`` and its version table
in its schema, so services never share or read each other's tables. Migrations take a
Postgres advisory lock, so several processes starting at once apply them exactly once.
"""

from __future__ import annotations

import asyncio
from importlib.util import find_spec
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

# service package -> Postgres schema
SCHEMAS = {
    "user_svc": "users",
    "wallet_svc": "wallets",
    "transaction_svc": "transactions",
    "pgw_svc": "pgw",
}


def migrations_dir(service: str) -> Path | None:
    spec = find_spec(service)
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "migrations"
    return path if (path / "versions").is_dir() else None


# the one env.py (common/migrations/env.py) every service's history runs in
ENVIRONMENT = Path(__file__).parent / "migrations"


def _config(service: str) -> Config:
    history = migrations_dir(service)
    if history is None:
        raise ValueError(f"{service} has no migrations")
    cfg = Config()
    cfg.set_main_option("script_location", str(ENVIRONMENT))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", str(history / "versions"))
    return cfg


def _upgrade(conn: Connection, service: str, schema: str, revision: str) -> None:
    conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    cfg = _config(service)
    cfg.attributes.update(connection=conn, schema=schema)
    command.upgrade(cfg, revision)


async def upgrade_service(dsn: str, service: str, revision: str = "head") -> None:
    """Bring ``service``'s schema to ``revision`` (idempotent, safe to run concurrently)."""
    schema = SCHEMAS[service]
    engine = create_async_engine(dsn)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:s))"), {"s": schema})
            await conn.run_sync(_upgrade, service, schema, revision)
    finally:
        await engine.dispose()


async def upgrade_all(dsn: str) -> list[str]:
    """Migrate every service that has migrations; returns their names."""
    done = []
    for service in SCHEMAS:
        if migrations_dir(service) is not None:
            await upgrade_service(dsn, service)
            done.append(service)
    return done


def current_head(service: str) -> str | None:
    return ScriptDirectory.from_config(_config(service)).get_current_head()


def run(dsn: str) -> list[str]:
    return asyncio.run(upgrade_all(dsn))


__all__ = ["SCHEMAS", "command", "current_head", "run", "upgrade_all", "upgrade_service"]
