"""Composition root of wallet_svc: the wallet HTTP API (reads the balance read model,
sends commands to the decider and waits for the projector's completion notices)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from common.app import build_app
from common.notify import WALLET_CHANNEL, Waiters
from common.resources import Resources
from common.settings import Settings
from common.state import install
from wallet_svc import api
from wallet_svc.deps import WalletApp
from wallet_svc.store import PgWalletReader


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        resources = Resources(settings)
        waiters: Waiters | None = None
        try:
            await resources.open(postgres=True, kafka=True, redis=True)
            engine, producer, redis = resources.engine, resources.producer, resources.redis
            assert engine is not None and producer is not None and redis is not None
            verifier = await resources.token_verifier()
            app.state.ready_checks.update(resources.checks)
            waiters = Waiters(redis, WALLET_CHANNEL)
            await waiters.start()
            install(
                app,
                WalletApp(
                    verifier=verifier,
                    reader=PgWalletReader(engine),
                    waiters=waiters,
                    producer=producer,
                    redis=redis,
                ),
            )
            yield
        finally:
            if waiters is not None:
                await waiters.stop()
            await resources.close()

    app = build_app(settings.service_name, lifespan)
    app.include_router(api.router)
    return app
