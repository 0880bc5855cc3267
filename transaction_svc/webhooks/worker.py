"""The webhook delivery worker: one process (``transaction_webhooks``) that records and
delivers merchants' webhooks.

Recording runs on the tracked consumer (``common.kafka.tracked``, consumer ``webhooks`` in
``transactions.offsets``): for a batch of ``payment-events`` it finds each event's
merchant and the endpoints subscribed to its type, and inserts one delivery per
(endpoint, event) in the transaction that stores the batch's offsets, so a replayed batch
records nothing twice. An endpoint receives the events that occurred from its creation on.

Delivering runs beside it: it claims due deliveries (``store.claim_due``: the head of each
(endpoint, payment) line, leased), sends each (``sender.send``), and records the attempt
with the delivery's next step (``common.retry``, ``settings.webhook_retry``): delivered,
tried again after the backoff or the receiver's ``Retry-After``, or given up (a 4xx but
408 and 429 at once; otherwise when the next attempt would fall past the delivery's
horizon, ``give_up_at``). It wakes when a batch recorded something, when an attempt ends, and
at the earliest retry, looking again at least every second (redeliveries asked through
the API, other instances' retries).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import httpx
from aiokafka import ConsumerRecord
from sqlalchemy.ext.asyncio import AsyncConnection

from common.db import answers, make_engine
from common.health import ReadyCheck
from common.kafka.headers import message_type
from common.kafka.pg_offsets import PgOffsets
from common.kafka.producer import make_producer
from common.kafka.tracked import AfterCommit, Tracked, TrackedConsumer
from common.metrics import WEBHOOK_ATTEMPT_SECONDS, WEBHOOK_ATTEMPTS, WEBHOOK_OUTCOMES
from common.retry import GiveUp, retry_after_ms
from common.topics import PAYMENT_EVENTS
from common.worker import serve_worker
from contracts.envelope import Envelope
from contracts.ids import deterministic_id
from contracts.payment import decode_payment_event
from transaction_svc.settings import TransactionSettings
from transaction_svc.webhooks import store
from transaction_svc.webhooks.catalog import DELIVERABLE, wants
from transaction_svc.webhooks.sender import send
from transaction_svc.webhooks.targets import TargetPolicy

log = logging.getLogger("paystream.webhooks")

GROUP = "transaction-webhooks"
CONSUMER = "webhooks"
BATCH_MAX = 500
CONCURRENCY = 32  # deliveries in flight at once
IDLE_LOOK_S = 1.0
# An event to deliver: its envelope, its payment and, when its payload names it, merchant.
Event = tuple[Envelope, str, str]


def read_event(record: ConsumerRecord[bytes, bytes]) -> Event | None:
    """A deliverable event (envelope, payment id, merchant id or ""), None for the types
    no merchant receives; raises for a record that cannot be read (dead-lettered)."""
    if message_type(record.headers) not in DELIVERABLE:
        return None
    envelope = Envelope.from_bytes(record.value)
    event = decode_payment_event(envelope.payload)
    return envelope, event.payment_id, str(getattr(event, "merchant_id", ""))


class WebhookWorker:
    """The worker (``common.worker.Worker``): the recording handler and the dispatcher."""

    def __init__(self, settings: TransactionSettings) -> None:
        self.settings = settings
        self.engine = make_engine(settings.postgres_dsn, pool_size=3)
        self.producer = make_producer(settings.kafka_bootstrap, settings.service_name)
        self.tracked = TrackedConsumer.of_group(
            settings,
            GROUP,
            [PAYMENT_EVENTS],
            self,
            PgOffsets(self.engine, "transactions.offsets", CONSUMER),
            self.producer,
            batch_max=BATCH_MAX,
        )
        self.client = httpx.AsyncClient(
            timeout=settings.webhook_timeout_s,
            follow_redirects=False,
            limits=httpx.Limits(max_connections=CONCURRENCY),
        )
        self.policy = TargetPolicy.of(settings)
        self.retry = settings.webhook_retry
        self.lease_s = 3 * settings.webhook_timeout_s + 30
        self.checks: dict[str, ReadyCheck] = {"postgres": partial(answers, self.engine)}
        self.wake = asyncio.Event()
        self.in_flight: set[asyncio.Task[None]] = set()
        for outcome in WEBHOOK_OUTCOMES:  # each series from 0: its first attempt is a rise
            WEBHOOK_ATTEMPTS.labels(outcome)

    async def start(self) -> None:
        await self.producer.start()
        await self.tracked.start()

    async def run(self) -> None:
        await asyncio.gather(self.tracked.run(), self.dispatch())

    async def stop(self) -> None:
        for task in list(self.in_flight):
            task.cancel()
        await asyncio.gather(*self.in_flight, return_exceptions=True)
        await self.tracked.stop()
        await self.producer.stop()
        await self.client.aclose()
        await self.engine.dispose()

    # --- recording (the tracked consumer's handler) ---------------------------------------
    def decode(self, record: ConsumerRecord[bytes, bytes]) -> Event | None:
        return read_event(record)

    async def apply(
        self, batch: Sequence[Tracked[Event | None]], unit: AsyncConnection
    ) -> AfterCommit | None:
        events = [(t.record, t.value) for t in batch if t.value is not None]
        if not events:
            return None
        unnamed = [payment for _, (_, payment, merchant) in events if not merchant]
        found = await store.merchants_of(unit, unnamed) if unnamed else {}
        merchant_of = {
            envelope.event_id: merchant or found.get(payment, "")
            for _, (envelope, payment, merchant) in events
        }
        merchants = sorted({m for m in merchant_of.values() if m})
        endpoints = await store.subscribers(unit, merchants) if merchants else []
        now = datetime.now(UTC)
        give_up_at = self.retry.give_up_at(now)
        rows: list[dict[str, Any]] = []
        for record, (envelope, payment, _) in events:
            merchant = merchant_of[envelope.event_id]
            for e in endpoints:
                if (
                    e.merchant_id == merchant
                    and wants(e.events, envelope.type)
                    and envelope.occurred_at >= e.created_at
                ):
                    rows.append(
                        {
                            "id": deterministic_id("webhook", e.id, envelope.event_id),
                            "endpoint_id": e.id,
                            "event_id": envelope.event_id,
                            "event_type": envelope.type,
                            "payment_id": payment,
                            "source_offset": record.offset,
                            "body": record.value.decode(),
                            "now": now,
                            "give_up_at": give_up_at,
                        }
                    )
        await store.record(unit, rows)
        if not rows:
            return None

        async def wake() -> None:
            self.wake.set()

        return wake

    # --- delivering ---------------------------------------------------------------------
    async def dispatch(self) -> None:
        """Claim what is due while there are free slots; otherwise wait to be woken."""
        while True:
            self.wake.clear()
            free = CONCURRENCY - len(self.in_flight)
            claimed: list[store.Due] = []
            if free > 0:
                try:
                    claimed = await store.claim_due(
                        self.engine, datetime.now(UTC), free, self.lease_s
                    )
                except Exception:  # an outage: the deliveries wait in the table
                    log.warning("claiming due webhook deliveries failed", exc_info=True)
            for due in claimed:
                task = asyncio.create_task(self.attempt(due))
                self.in_flight.add(task)
                task.add_done_callback(self._done)
            if claimed and len(claimed) == free:
                continue
            idle = await self._idle_wait()  # first: a cancel here leaves no wait() unawaited
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), idle)

    def _done(self, task: asyncio.Task[None]) -> None:
        self.in_flight.discard(task)
        self.wake.set()

    async def _idle_wait(self) -> float:
        try:
            due = await store.next_due(self.engine)
        except Exception:
            return IDLE_LOOK_S
        if due is None:
            return IDLE_LOOK_S
        return min(IDLE_LOOK_S, max((due - datetime.now(UTC)).total_seconds(), 0.01))

    async def attempt(self, due: store.Due) -> None:
        """Send ``due`` once and record what came of it."""
        sent = await send(
            self.client, self.policy, due.url, due.event_id, due.body.encode(), due.secrets
        )
        now = datetime.now(UTC)
        number = due.attempts + 1
        attempt = store.Attempt(
            delivery_id=due.id,
            endpoint_id=due.endpoint_id,
            number=number,
            at=now,
            status_code=sent.status_code,
            latency_ms=sent.latency_ms,
            error=sent.error,
        )
        next_step: datetime | GiveUp | None = None
        if not attempt.succeeded:
            left = due.give_up_at - now  # the horizon is stored: a redelivery moved it
            wait = self.retry.after_failure(
                attempts=number,
                status=sent.status_code,
                retry_after_ms=retry_after_ms(sent.retry_after, now),
                age_ms=self.retry.max_age_ms - round(left.total_seconds() * 1000),
                draw=random.random(),
            )
            next_step = wait if isinstance(wait, GiveUp) else now + timedelta(milliseconds=wait)
        outcome = (
            "delivered"
            if attempt.succeeded
            else ("given_up" if isinstance(next_step, GiveUp) else "retry")
        )
        WEBHOOK_ATTEMPTS.labels(outcome).inc()
        WEBHOOK_ATTEMPT_SECONDS.observe(sent.latency_ms / 1000)
        try:
            await store.settle(
                self.engine, attempt, next_step, self.settings.webhook_disable_after_failures
            )
        except Exception:  # the lease runs out and the delivery is sent again: at least once
            log.warning("recording a webhook attempt failed", exc_info=True)
        if not attempt.succeeded:
            log.info(
                "webhook attempt failed",
                extra={
                    "delivery_id": due.id,
                    "endpoint_id": due.endpoint_id,
                    "attempt": number,
                    "status_code": sent.status_code,
                    "error": sent.error,
                    "outcome": outcome,
                    "reason": next_step.value if isinstance(next_step, GiveUp) else None,
                },
            )


if __name__ == "__main__":
    serve_worker(WebhookWorker, TransactionSettings(service_name="transaction_webhooks"))
