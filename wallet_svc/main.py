"""Composition root of wallet_svc: the wallet HTTP API (reads the balance read model,
sends commands to the decider and waits for the projector's completion notices)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from fastapi import FastAPI

from common.app import build_app
from common.auth import JwksVerifier
from common.notify import WALLET_CHANNEL, Waiters
from common.resources import Resources
from common.revocation import RevokedSessions
from common.settings import Settings
from wallet_svc import api
from wallet_svc.store import PgWalletReader, asyncpg_dsn


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        resources = Resources(settings)
        app.state.resources = resources
        pool: asyncpg.Pool | None = None
        waiters: Waiters | None = None
        revoked = RevokedSessions()
        verifier = JwksVerifier(
            settings.jwks_url, settings.jwt_issuer, settings.jwt_audience, revoked=revoked
        )
        app.state.verifier = verifier
        try:
            await resources.open(kafka=True, redis=True)
            assert resources.redis is not None
            await revoked.start(resources.redis)
            pool = await asyncpg.create_pool(asyncpg_dsn(settings.postgres_dsn), max_size=10)
            db = pool

            async def check_postgres() -> None:
                await db.fetchval("SELECT 1")

            app.state.ready_checks.update(postgres=check_postgres, **resources.checks)
            app.state.reader = PgWalletReader(pool)
            waiters = Waiters(resources.redis, WALLET_CHANNEL)
            await waiters.start()
            app.state.waiters = waiters
            yield
        finally:
            if waiters is not None:
                await waiters.stop()
            if pool is not None:
                await pool.close()
            await revoked.stop()
            await verifier.aclose()
            await resources.close()

    app = build_app(settings.service_name, lifespan)
    app.include_router(api.router)
    return app
