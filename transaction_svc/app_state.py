"""The command API's state (``TransactionApp``) opened and closed in one place: by the
API's lifespan (``main.py``) and by the scheduler worker, which submits schedules' runs
through the same path as the API (``transaction_svc/schedules/worker.py``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from common.health import ReadyCheck
from common.notify import TRANSACTION_CHANNEL, Waiters
from common.resources import Resources
from common.service_token import ServiceTokens
from transaction_svc.deps import TransactionApp
from transaction_svc.fx.cache import RedisRateCache
from transaction_svc.fx.source import Rates
from transaction_svc.provider import ProviderClient
from transaction_svc.settings import TransactionSettings
from transaction_svc.store import Claims
from transaction_svc.terms import TermsReader
from transaction_svc.wallets import WalletDirectory


@asynccontextmanager
async def opened_state(
    settings: TransactionSettings,
) -> AsyncIterator[tuple[TransactionApp, dict[str, ReadyCheck]]]:
    """The state with every client open, and the readiness checks of its resources."""
    resources = await Resources(settings).open(postgres=True, kafka=True, redis=True)
    engine, producer, redis = resources.engine, resources.producer, resources.redis
    assert engine is not None and producer is not None and redis is not None
    directory = WalletDirectory(settings.wallet_svc_url)
    tokens = ServiceTokens.from_settings(settings)
    provider = ProviderClient(settings.pgw_svc_url, tokens, settings.provider_timeout_s)
    waiters = Waiters(redis, TRANSACTION_CHANNEL)
    await waiters.start()
    verifier = await resources.token_verifier()
    rates = Rates(engine, RedisRateCache(redis, settings.fx_rates_cache_ttl_s))
    state = TransactionApp(
        verifier=verifier, settings=settings, engine=engine, producer=producer,
        claims=Claims(engine), terms=TermsReader(engine), waiters=waiters, directory=directory,
        provider=provider, redis=redis, rates=rates,
    )  # fmt: skip
    try:
        yield state, resources.checks
    finally:
        await waiters.stop()
        await directory.aclose()
        await provider.aclose()
        await tokens.aclose()
        await resources.close()
