"""Composition root of pgw_svc: the public payment-methods API and the provider API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from common.app import build_app
from common.auth import JwksVerifier
from common.resources import Resources
from common.revocation import RevokedSessions
from common.settings import Settings
from common.state import install
from pgw_svc import api, provider_api
from pgw_svc.charges_store import PgCharges
from pgw_svc.deps import PgwApp
from pgw_svc.domain import Scenarios
from pgw_svc.payouts_store import PgPayouts
from pgw_svc.settings import PgwSettings
from pgw_svc.store import PgPaymentMethods


def pgw_settings(settings: Settings) -> PgwSettings:
    """``settings`` as :class:`PgwSettings` (the env fills the provider-only fields)."""
    if isinstance(settings, PgwSettings):
        return settings
    return PgwSettings(**settings.model_dump())


def create_app(settings: Settings) -> FastAPI:
    s = pgw_settings(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        resources = Resources(s)
        revoked = RevokedSessions()
        verifier = JwksVerifier(s.jwks_url, s.jwt_issuer, s.jwt_audience, revoked=revoked)
        try:
            await resources.open(postgres=True, redis=True)
            engine, redis = resources.engine, resources.redis
            assert engine is not None and redis is not None
            await revoked.start(redis)
            app.state.ready_checks.update(resources.checks)
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
                ),
            )
            yield
        finally:
            await revoked.stop()
            await verifier.aclose()
            await resources.close()

    app = build_app(s.service_name, lifespan)
    app.include_router(api.router)
    app.include_router(provider_api.router)
    return app
