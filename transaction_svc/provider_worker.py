"""The provider worker: carries the sagas' ``provider-commands`` to pgw_svc and publishes
each answer on ``payment-events``, where the saga worker (and any subscriber) hears it.

It runs on the tracked consumer (``common.kafka.tracked``): for one batch it makes each
command at the provider (``ProviderClient.carry``: one charge, refund or payout per
idempotency key, asked about before it is sent again), publishes the answers and waits
for their acknowledgement, then the consumed offsets commit (``transactions.offsets``,
consumer ``provider``). A crash anywhere in between replays the batch: the provider
answers the replayed creates with what it made the first time, and the answers are
published again with the same derived event ids (a duplicate, never a second payment).
A charge or payout is due by ``provider_deadline_s`` after its command was written (its
envelope's ``occurred_at``, the same on every replay): the provider fails one it would
decide later (``ProviderClient``).
Commands of one transaction are carried in order; different transactions at once.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from datetime import timedelta
from functools import partial
from typing import Any

from aiokafka import ConsumerRecord
from sqlalchemy.ext.asyncio import AsyncConnection

from common.db import answers, make_engine
from common.health import ReadyCheck
from common.kafka.headers import traceparent_of
from common.kafka.pg_offsets import PgOffsets
from common.kafka.producer import make_producer, queue_envelope
from common.kafka.tracked import AfterCommit, Tracked, TrackedConsumer
from common.service_token import ServiceTokens
from common.topics import PAYMENT_EVENTS, PROVIDER_COMMANDS
from common.worker import serve_worker
from contracts.envelope import Envelope
from contracts.provider import ProviderCommand, RefundCharge, decode_provider_command
from transaction_svc.outbound import payment_envelope
from transaction_svc.provider import ProviderClient, declare_provider_metrics
from transaction_svc.settings import TransactionSettings

GROUP = "transaction-provider"
CONSUMER = "provider"
BATCH_MAX = 200
CONCURRENCY = 32  # provider calls in flight at once
Command = tuple[Envelope, ProviderCommand, str | None]


def read_command(record: ConsumerRecord[bytes, bytes]) -> Command:
    """The command with its envelope and traceparent; raises (dead-lettered) if unreadable."""
    envelope = Envelope.from_bytes(record.value)
    return envelope, decode_provider_command(envelope.payload), traceparent_of(record.headers)


class ProviderWorker:
    def __init__(self, settings: TransactionSettings) -> None:
        self.settings = settings
        self.engine = make_engine(settings.postgres_dsn, pool_size=2)
        self.tokens = ServiceTokens.from_settings(settings)
        self.provider = ProviderClient(
            settings.pgw_svc_url, self.tokens, settings.provider_timeout_s
        )
        declare_provider_metrics()
        self.producer = make_producer(settings.kafka_bootstrap, settings.service_name, linger_ms=2)
        self.tracked = TrackedConsumer.of_group(
            settings,
            GROUP,
            [PROVIDER_COMMANDS],
            self,
            PgOffsets(self.engine, "transactions.offsets", CONSUMER),
            self.producer,
            batch_max=BATCH_MAX,
            prompt=True,  # a request's answer waits on this worker
        )
        self.checks: dict[str, ReadyCheck] = {"postgres": partial(answers, self.engine)}
        self._slots = asyncio.Semaphore(CONCURRENCY)
        self._deadline = timedelta(seconds=settings.provider_deadline_s)

    async def start(self) -> None:
        await self.producer.start()
        await self.tracked.start()

    async def run(self) -> None:
        await self.tracked.run()

    async def stop(self) -> None:
        await self.tracked.stop()
        await self.producer.stop()
        await self.provider.aclose()
        await self.tokens.aclose()
        await self.engine.dispose()

    def decode(self, record: ConsumerRecord[bytes, bytes]) -> Command:
        return read_command(record)

    async def apply(
        self, batch: Sequence[Tracked[Command]], unit: AsyncConnection
    ) -> AfterCommit | None:
        by_transaction: dict[str, list[Command]] = defaultdict(list)
        for t in batch:
            by_transaction[t.value[1].transaction_id].append(t.value)
        sent = await asyncio.gather(*(self._carry_in_order(cs) for cs in by_transaction.values()))
        await asyncio.gather(*(f for futures in sent for f in futures))
        return None

    async def _carry_in_order(self, commands: list[Command]) -> list[asyncio.Future[Any]]:
        futures = []
        for envelope, command, cause in commands:
            refund = isinstance(command, RefundCharge)  # a compensation: made however late
            deadline = None if refund else envelope.occurred_at + self._deadline
            async with self._slots:
                outcome = await self.provider.carry(command, deadline)
            correlation_id = envelope.correlation_id or envelope.event_id
            event = payment_envelope(outcome, correlation_id, envelope.event_id)
            futures.append(await queue_envelope(self.producer, PAYMENT_EVENTS, event, cause))
        return futures


if __name__ == "__main__":
    serve_worker(ProviderWorker, TransactionSettings(service_name="transaction_provider"))
