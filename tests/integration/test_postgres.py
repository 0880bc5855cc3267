"""SQLAlchemy on asyncpg against the real Postgres, with the wallet schema migrated."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from common.db import LOG_DERIVED, make_engine
from common.migrate import current_head, upgrade_service
from common.outage import is_outage
from common.settings import Settings

pytestmark = pytest.mark.integration


async def test_migration_applied_and_round_trip(settings: Settings) -> None:
    # given the wallet service's migrations applied (twice: it is idempotent)
    await upgrade_service(settings.postgres_dsn, "wallet_svc")
    await upgrade_service(settings.postgres_dsn, "wallet_svc")
    engine = make_engine(settings.postgres_dsn)
    try:
        async with engine.begin() as conn:
            version = await conn.execute(text("SELECT version_num FROM wallets.alembic_version"))
            assert version.scalar_one() == current_head("wallet_svc")
            # when a row is written and read back in the migrated schema
            await conn.execute(
                text(
                    "INSERT INTO wallets.offsets (consumer, topic, partition, next_offset) "
                    "VALUES ('it', 'round-trip', 0, :o) ON CONFLICT (consumer, topic, partition) "
                    "DO UPDATE SET next_offset = EXCLUDED.next_offset"
                ),
                {"o": 2**40},
            )
        async with engine.connect() as conn:
            row = await conn.execute(
                text("SELECT next_offset FROM wallets.offsets WHERE topic = 'round-trip'")
            )
            # then the 64-bit integer comes back exactly
            assert row.scalar_one() == 2**40
    finally:
        await engine.dispose()


async def test_rollback_leaves_nothing(settings: Settings) -> None:
    engine = make_engine(settings.postgres_dsn)
    try:
        with pytest.raises(RuntimeError):
            async with engine.begin() as conn:
                await conn.execute(
                    text(
                        "INSERT INTO wallets.offsets VALUES ('it', 'rolled-back', 0, 1) "
                        "ON CONFLICT DO NOTHING"
                    )
                )
                raise RuntimeError("crash before commit")
        async with engine.connect() as conn:
            count = await conn.execute(
                text("SELECT count(*) FROM wallets.offsets WHERE topic = 'rolled-back'")
            )
            assert count.scalar_one() == 0
    finally:
        await engine.dispose()


async def test_only_log_derived_writers_commit_without_waiting_for_the_wal(
    settings: Settings,
) -> None:
    # given the default engine (the claims) and one for writers whose rows the log remakes
    default = make_engine(settings.postgres_dsn)
    derived = make_engine(settings.postgres_dsn, server_settings=LOG_DERIVED)
    try:
        for engine, expected in ((default, "on"), (derived, "off")):
            async with engine.connect() as conn:
                # then only the second commits asynchronously
                shown = await conn.execute(text("SHOW synchronous_commit"))
                assert shown.scalar_one() == expected
    finally:
        await default.dispose()
        await derived.dispose()


async def test_a_terminated_connection_is_an_outage_and_a_bad_statement_is_not(
    settings: Settings,
) -> None:
    # given a pooled connection whose server process an administrator ends
    engine = make_engine(settings.postgres_dsn, pool_size=1)
    admin = make_engine(settings.postgres_dsn, pool_size=1)
    try:
        async with engine.connect() as conn:
            pid = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            await conn.rollback()
            async with admin.connect() as other:
                await other.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
            # when the next statement runs on it, then the error is an outage (retried
            # without end by the tracked consumer, never dead-lettered)
            with pytest.raises(DBAPIError) as lost:
                await conn.execute(text("SELECT 1"))
        assert is_outage(lost.value)
        # and the pool hands out a working connection again
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT 1"))).scalar_one() == 1
            # while a statement the server refuses is no outage (it may be poison)
            with pytest.raises(DBAPIError) as refused:
                await conn.execute(text("SELECT CAST('not a uuid' AS uuid)"))
        assert not is_outage(refused.value)
    finally:
        await engine.dispose()
        await admin.dispose()
