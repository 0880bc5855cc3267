"""Composition root of transaction_svc (the money command API)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from common.app import build_app
from common.state import install
from transaction_svc import batch_api, callbacks, payment_cancel, payments_api, terms_api
from transaction_svc.api import FAST_ROUTES, router
from transaction_svc.app_state import opened_state
from transaction_svc.batch_schemas import BATCH_BODY_LIMIT
from transaction_svc.fx import api as fx_api
from transaction_svc.fx.source import Feed
from transaction_svc.fx.ticker import run_feed
from transaction_svc.schedules import api as schedules_api
from transaction_svc.settings import TransactionSettings
from transaction_svc.webhooks import api as webhooks_api


def create_app(settings: TransactionSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with opened_state(settings) as (state, checks):
            app.state.ready_checks.update(checks)
            install(app, state)
            feed = None
            if settings.fx_feed_enabled:
                table = Feed(settings.fx_feed_rates, settings.fx_feed_interval_s,
                             settings.fx_feed_bound, settings.fx_feed_step)  # fmt: skip
                feed = asyncio.create_task(run_feed(state.rates, table))
            try:
                yield
            finally:
                if feed is not None:
                    feed.cancel()

    limits = {"/transfers/batch": BATCH_BODY_LIMIT}  # a batch's body may be larger
    app = build_app(settings.service_name, lifespan=lifespan, body_limits=limits)
    app.include_router(router)
    app.include_router(batch_api.router)
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
