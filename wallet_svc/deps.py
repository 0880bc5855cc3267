"""wallet_svc's typed application state and the dependency that hands it to handlers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from aiokafka import AIOKafkaProducer
from fastapi import Depends
from redis.asyncio import Redis

from common.notify import Waiters
from common.state import ServiceState, state_dependency
from wallet_svc.store import PgWalletReader


@dataclass(frozen=True, slots=True, kw_only=True)
class WalletApp(ServiceState):
    """What the wallet API's handlers use, opened by ``main.create_app``'s lifespan."""

    reader: PgWalletReader  # the balance read model
    waiters: Waiters  # the projector's completion notices
    producer: AIOKafkaProducer  # commands to the decider
    redis: Redis  # the balance cache


App = Annotated[WalletApp, Depends(state_dependency(WalletApp))]
