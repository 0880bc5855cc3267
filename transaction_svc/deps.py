"""transaction_svc's typed application state and the dependency that hands it to handlers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from aiokafka import AIOKafkaProducer
from fastapi import Depends
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from common.notify import Waiters
from common.state import ServiceState, state_dependency
from transaction_svc.fx.source import Rates
from transaction_svc.provider import ProviderClient
from transaction_svc.settings import TransactionSettings
from transaction_svc.store import Claims
from transaction_svc.terms import TermsReader
from transaction_svc.wallets import WalletDirectory


@dataclass(frozen=True, slots=True, kw_only=True)
class TransactionApp(ServiceState):
    """What the command API's handlers (FastAPI and the fast lane) use, made by
    ``main.create_app``'s lifespan."""

    settings: TransactionSettings
    engine: AsyncEngine  # transactions and idempotency records
    producer: AIOKafkaProducer  # the saga's first step on transaction-events
    claims: Claims  # group-committed idempotency claims
    terms: TermsReader  # fees and limits, read together
    waiters: Waiters  # terminal-state notices for Prefer: wait
    directory: WalletDirectory  # owners and currencies of wallets
    provider: ProviderClient  # pgw_svc: payment methods, asked before a deposit or withdrawal
    redis: Redis  # provider callbacks' signatures already received
    rates: Rates  # exchange rates (transaction_svc/fx)


App = Annotated[TransactionApp, Depends(state_dependency(TransactionApp))]
