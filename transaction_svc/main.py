"""Composition root of transaction_svc (the money command API)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from common.app import build_app
from common.auth import JwksVerifier
from common.notify import TRANSACTION_CHANNEL, Waiters
from common.resources import Resources
from common.revocation import RevokedSessions
from common.service_token import ServiceTokens
from common.state import install
from transaction_svc import callbacks, payment_cancel, payments_api, terms_api
from transaction_svc.api import FAST_ROUTES, router
from transaction_svc.deps import TransactionApp
from transaction_svc.fx import api as fx_api
from transaction_svc.fx.cache import RedisRateCache
from transaction_svc.fx.source import Feed, Rates
from transaction_svc.fx.ticker import run_feed
from transaction_svc.provider import ProviderClient
from transaction_svc.schedules import api as schedules_api
from transaction_svc.schedules.scheduler import Scheduler
from transaction_svc.settings import TransactionSettings
from transaction_svc.store import Claims
from transaction_svc.wallets import WalletDirectory
from transaction_svc.webhooks import api as webhooks_api


def create_app(settings: TransactionSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        resources = await Resources(settings).open(postgres=True, kafka=True, redis=True)
        app.state.ready_checks.update(resources.checks)
        engine, producer, redis = resources.engine, resources.producer, resources.redis
        assert engine is not None and producer is not None and redis is not None
        directory = WalletDirectory(settings.wallet_svc_url)
        tokens = ServiceTokens.from_settings(settings)
        provider = ProviderClient(settings.pgw_svc_url, tokens, settings.provider_timeout_s)
        waiters = Waiters(redis, TRANSACTION_CHANNEL)
        await waiters.start()
        revoked = RevokedSessions()
        await revoked.start(redis)
        verifier = JwksVerifier(
            settings.jwks_url, settings.jwt_issuer, settings.jwt_audience, revoked=revoked
        )
        rates = Rates(engine, RedisRateCache(redis, settings.fx_rates_cache_ttl_s))
        feed = None
        if settings.fx_feed_enabled:
            table = Feed(settings.fx_feed_rates, settings.fx_feed_interval_s,
                         settings.fx_feed_bound, settings.fx_feed_step)  # fmt: skip
            feed = asyncio.create_task(run_feed(rates, table))
        state = TransactionApp(
            verifier=verifier, settings=settings, engine=engine, producer=producer,
            claims=Claims(engine), waiters=waiters, directory=directory,
            provider=provider, redis=redis, rates=rates,
        )  # fmt: skip
        install(app, state)
        scheduler = None  # schedules' runs (docs/schedules.md)
        if settings.scheduler_enabled:
            scheduler = asyncio.create_task(Scheduler(state).run_forever(settings.scheduler_poll_s))
        try:
            yield
        finally:
            for task in (feed, scheduler):
                if task is not None:
                    task.cancel()
            await waiters.stop()
            await revoked.stop()
            await verifier.aclose()
            await directory.aclose()
            await provider.aclose()
            await tokens.aclose()
            await resources.close()

    app = build_app(settings.service_name, lifespan=lifespan)
    app.include_router(router)
    app.include_router(payments_api.router)
    app.include_router(terms_api.router)
    app.include_router(callbacks.router)
    app.include_router(webhooks_api.router)
    app.include_router(payment_cancel.router)
    app.include_router(fx_api.router)
    app.include_router(schedules_api.router)
    # the money POSTs: see common/fastlane.py
    app.state.fast_routes.extend(FAST_ROUTES + payments_api.FAST_ROUTES)
    return app
