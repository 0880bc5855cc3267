"""Composition root of pgw_svc: the public payment-methods API, the provider API, the
method lookup, and the task that settles pending charges and sends their callbacks."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from common.app import build_app
from common.resources import Resources
from common.state import install
from pgw_svc import api, method_lookup, provider_api
from pgw_svc.callbacks_store import PgChargeCallbacks
from pgw_svc.charges_store import PgCharges
from pgw_svc.deps import PgwApp
from pgw_svc.domain import Scenarios
from pgw_svc.payouts_store import PgPayouts
from pgw_svc.settings import PgwSettings
from pgw_svc.settlement import PendingSettlement
from pgw_svc.store import PgPaymentMethods

CALLBACK_TIMEOUT_S = 5.0  # one callback POST; past it the attempt failed and is retried


def create_app(s: PgwSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        resources = Resources(s)
        callbacks = httpx.AsyncClient(timeout=CALLBACK_TIMEOUT_S)
        settling: asyncio.Task[None] | None = None
        try:
            await resources.open(postgres=True, redis=True)
            engine = resources.engine
            assert engine is not None
            verifier = await resources.token_verifier()
            app.state.ready_checks.update(resources.checks)
            settlement = PendingSettlement(
                PgChargeCallbacks(engine), callbacks, url=s.callback_url,
                secret=s.callback_secret, delay_ms=s.pgw_async_delay_ms,
                send_timeout_s=CALLBACK_TIMEOUT_S, retry=s.callback_retry,
            )  # fmt: skip
            install(
                app,
                PgwApp(
                    verifier=verifier,
                    methods=PgPaymentMethods(engine),
                    fingerprint_key=s.fingerprint_key,
                    charges=PgCharges(engine),
                    payouts=PgPayouts(engine),
                    scenarios=Scenarios(s.fingerprint_key, s.pgw_success_rate_bp),
                    latency_ms=s.pgw_latency_ms,
                    max_amount=s.pgw_max_amount,
                    card_currencies=s.card_currencies,
                    settlement=settlement,
                ),
            )
            settling = asyncio.create_task(settlement.run(), name="pending-settlement")
            yield
        finally:
            if settling is not None:
                settling.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await settling
            await callbacks.aclose()
            await resources.close()

    app = build_app(s.service_name, lifespan)
    app.include_router(api.router)
    app.include_router(provider_api.router)
    app.include_router(method_lookup.router)
    return app
