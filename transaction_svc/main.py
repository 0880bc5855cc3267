"""Composition root of transaction_svc (the money command API)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from common.app import build_app
from common.auth import JwksVerifier
from common.notify import TRANSACTION_CHANNEL, Waiters
from common.resources import Resources
from common.revocation import RevokedSessions
from transaction_svc.api import FAST_ROUTES, router
from transaction_svc.settings import TransactionSettings
from transaction_svc.store import Claims
from transaction_svc.wallets import WalletDirectory


def create_app(settings: TransactionSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        resources = await Resources(settings).open(postgres=True, kafka=True, redis=True)
        app.state.resources = resources
        app.state.ready_checks.update(resources.checks)
        assert resources.redis is not None and resources.engine is not None
        app.state.directory = WalletDirectory(settings.wallet_svc_url)
        app.state.claims = Claims(resources.engine)
        app.state.waiters = Waiters(resources.redis, TRANSACTION_CHANNEL)
        await app.state.waiters.start()
        revoked = RevokedSessions()
        await revoked.start(resources.redis)
        app.state.verifier = JwksVerifier(
            settings.jwks_url, settings.jwt_issuer, settings.jwt_audience, revoked=revoked
        )
        try:
            yield
        finally:
            await app.state.waiters.stop()
            await revoked.stop()
            await app.state.verifier.aclose()
            await app.state.directory.aclose()
            await resources.close()

    app = build_app(settings.service_name, lifespan=lifespan)
    app.state.settings = settings
    app.include_router(router)
    app.state.fast_routes.extend(FAST_ROUTES)  # the money POSTs: see common/fastlane.py
    return app
