"""Composition root of user_svc: the identity service (accounts, tokens, signing keys)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from common.app import build_app
from common.cpu import CpuBound
from common.resources import Resources
from common.state import install
from user_svc.accounts import Accounts
from user_svc.api import auth, service, users
from user_svc.api.deps import UserApp
from user_svc.clients import ServiceClients
from user_svc.identity import Identity
from user_svc.keystore import PgKeyStore
from user_svc.outbox import PgOutboxRelay
from user_svc.passwords import Argon2Passwords
from user_svc.refresh import RedisRefreshTokens
from user_svc.seeded_clients import ensure_seeded_clients, parse_seeds
from user_svc.settings import UserSettings
from user_svc.throttle import RedisLoginThrottle, reset_requests
from user_svc.verifier import KeyStoreVerifier


def create_app(s: UserSettings) -> FastAPI:
    seeds = parse_seeds(s.seed_service_clients.get_secret_value() if s.seed_service_clients else "")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        resources = Resources(s)
        try:
            await resources.open(postgres=True, kafka=True, redis=True)
            app.state.ready_checks.update(resources.checks)
            assert resources.engine and resources.producer and resources.redis
            engine = resources.engine
            passphrase = s.signing_key_passphrase
            keys = PgKeyStore(
                engine, passphrase.get_secret_value().encode() if passphrase else None,
                s.key_publish_window_s, s.key_cache_s,
            )  # fmt: skip
            await keys.ensure_current()
            revoked = await resources.revoked_sessions()
            verifier = KeyStoreVerifier(
                keys, s.jwks_url, s.jwt_issuer, s.jwt_audience, revoked=revoked
            )
            passwords = Argon2Passwords(bound=CpuBound.of(s))
            relay = PgOutboxRelay(engine, resources.producer, s.outbox_poll_s)
            refresh = RedisRefreshTokens(
                resources.redis, s.refresh_token_ttl_s, s.access_token_ttl_s
            )
            throttle = RedisLoginThrottle(
                resources.redis, s.login_max_failures, s.login_failure_window_s
            )
            resets = reset_requests(
                resources.redis, s.password_reset_max_requests, s.password_reset_window_s
            )
            identity = Identity(s, engine, keys, refresh, passwords, relay, throttle, resets)
            clients = ServiceClients(
                engine, keys, passwords, identity.minter, verifier, s.service_token_ttl_s
            )
            accounts = Accounts(engine, s.service_name, relay)
            install(
                app,
                UserApp(
                    verifier=verifier, settings=s, identity=identity, accounts=accounts,
                    clients=clients, keys=keys,
                ),
            )  # fmt: skip
            await identity.ensure_first_admin()
            await ensure_seeded_clients(engine, passwords, seeds)
            async with relay.running():
                yield
            await verifier.aclose()
        finally:
            await resources.close()

    # the client-credentials grant also comes as a form (RFC 6749)
    app = build_app(s.service_name, lifespan, form_paths=frozenset({"/service/token"}))
    for router in (auth.router, users.router, service.router):
        app.include_router(router)
    return app
