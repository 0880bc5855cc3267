"""The saga worker: drives transfers, deposits and withdrawals to a terminal state.

The command API starts each saga (``transaction_svc/start.py``: the first state is stored
with the transaction, the first command appended with the request). This worker consumes
``wallet-events`` (the decider's answers) and ``payment-events`` (the provider's answers,
published by the provider worker), reacts with the pure ``react`` and keeps each saga's
state in Postgres; its commands go to ``wallet-commands`` or ``provider-commands`` and its
events to ``transaction-events`` and ``payment-events`` (``transaction_svc/outbound.py``).
It runs on the tracked consumer (``common.kafka.tracked``): one batch = one database
transaction, in which the sagas it touches are locked, advanced, their commands and events
are produced and acknowledged, and then the new states and the consumed offsets
(``transactions.offsets``, consumer ``saga``) commit together. A crash before that commit
replays the batch from the stored offsets; the replay makes the same commands and events
with the same ids (``command_id`` and event ids are derived from the transaction), so the
decider and every consumer see a duplicate, never a second effect. A record that cannot be
read is dead-lettered (``wallet-events.dlq``) and the partition moves on. The sweep of
pending requests runs beside the consumer, every ``saga_sweep_interval_s``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import orjson
from aiokafka import ConsumerRecord
from prometheus_client import Counter
from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncConnection

from common.db import LOG_DERIVED, answers, make_engine
from common.health import ReadyCheck
from common.kafka.headers import is_chained, message_type, traceparent_of
from common.kafka.pg_offsets import PgOffsets
from common.kafka.producer import make_producer, queue_envelope
from common.kafka.tracked import AfterCommit, Tracked, TrackedConsumer
from common.metrics import declare_terminal, observe_terminal
from common.notify import TRANSACTION_CHANNEL, publish_many
from common.redis import make_redis
from common.topics import PAYMENT_EVENTS, USER_EVENTS, WALLET_EVENTS
from common.worker import serve_worker
from contracts.envelope import Envelope
from contracts.payment import ProviderOutcome, decode_payment_event
from contracts.user import UserRegistered, UserRoleChanged, decode_user_event
from contracts.wallet import WalletOpened, decode_event
from transaction_svc.directory_store import Opened, PgDirectoryStore, Role
from transaction_svc.domain.saga import react, transaction_of
from transaction_svc.domain.state import (
    TERMINAL,
    SagaState,
    SagaStatus,
    WalletAnswer,
    saga_from_dict,
    saga_to_dict,
)
from transaction_svc.in_flight import KINDS, InFlightWatch
from transaction_svc.outbound import outbound
from transaction_svc.payments import settle_refunds
from transaction_svc.settings import TransactionSettings
from transaction_svc.start import Start, append, request_of, start
from transaction_svc.status import public_status
from transaction_svc.terms import release

log = logging.getLogger("paystream.saga")

GROUP = "transaction-saga"
CONSUMER = "saga"
ANSWERS = {t.__name__ for t in WalletAnswer.__args__}
ROLES = {"UserRegistered", "UserRoleChanged"}  # who is a merchant (payments_api)
OUTCOMES = {t.__name__ for t in ProviderOutcome.__args__}
BATCH_MAX = 2000
# terminal states in which nothing stays moved: their share of a daily limit goes back
MOVED_NOTHING = frozenset({SagaStatus.FAILED, SagaStatus.REVERSED})
SAVE_WATERMARK = text(
    "INSERT INTO transactions.offsets (consumer, topic, partition, next_offset) "
    "VALUES (:c, :t, :p, :o) ON CONFLICT (consumer, topic, partition) "
    "DO UPDATE SET next_offset = EXCLUDED.next_offset"
)
SWEEP = "pending-sweep"  # its transactions.offsets row: the created_at (epoch ms) swept up to
FIRST_SWEEP_LOOKBACK_MS = 24 * 3600 * 1000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
RESENT = Counter(
    "paystream_saga_requests_appended_again_total",
    "Pending requests whose first messages the sweep appended again",
)
SWEEP_UNREADABLE = Counter(
    "paystream_saga_sweep_unreadable_total",
    "Pending transactions the sweep passed over: their stored saga state cannot be read",
)
# A decider's answer to a saga's command, decoded, with its traceparent (what the saga
# sends in reaction is in its trace).
Answer = tuple[Envelope, Any, str | None]


def read_answer(record: ConsumerRecord[bytes, bytes]) -> Answer | Opened | Role | None:
    """An answer that moves a saga (a wallet's or the provider's), a wallet opened (for
    the directory), a user's role (for the merchants), or None for what the saga ignores
    (other events, a chained debit: its credit's answer moves the saga); raises for a
    record that cannot be read (dead-lettered)."""
    kind = message_type(record.headers)
    if record.topic == USER_EVENTS:
        if kind not in ROLES:
            return None
        user_event = decode_user_event(Envelope.from_bytes(record.value).payload)
        if isinstance(user_event, UserRegistered):
            return Role(user_event.user_id, user_event.role)
        if isinstance(user_event, UserRoleChanged):
            return Role(user_event.user_id, user_event.new_role)
        return None
    if record.topic == PAYMENT_EVENTS:
        if kind not in OUTCOMES:
            return None
        envelope = Envelope.from_bytes(record.value)
        outcome = decode_payment_event(envelope.payload)
        return envelope, outcome, traceparent_of(record.headers)
    if (kind not in ANSWERS and kind != "WalletOpened") or is_chained(record.headers):
        return None
    envelope = Envelope.from_bytes(record.value)
    event = decode_event(envelope.payload)
    if isinstance(event, WalletOpened):
        return {"w": event.wallet_id, "o": event.owner_id, "c": event.currency}
    if isinstance(event, WalletAnswer) and event.transaction_id:
        return envelope, event, traceparent_of(record.headers)
    return None


class SagaWorker:
    """The worker (``common.worker.Worker``) and its batch handler, plus the sweep."""

    def __init__(self, settings: TransactionSettings) -> None:
        self.settings = settings
        # saga states commit with their offsets: a lost commit is replayed (common.db)
        self.engine = make_engine(settings.postgres_dsn, pool_size=3, server_settings=LOG_DERIVED)
        self.redis = make_redis(settings.redis_url)
        self.producer = make_producer(settings.kafka_bootstrap, settings.service_name, linger_ms=2)
        self.tracked = TrackedConsumer.of_group(
            settings,
            GROUP,
            [WALLET_EVENTS, PAYMENT_EVENTS, USER_EVENTS],
            self,
            PgOffsets(self.engine, "transactions.offsets", CONSUMER),
            self.producer,
            batch_max=BATCH_MAX,
            prompt=True,  # a request's answer waits on this worker
        )
        self.checks: dict[str, ReadyCheck] = {"postgres": partial(answers, self.engine)}
        self.in_flight = InFlightWatch(self.engine)
        self.directory = PgDirectoryStore()
        declare_terminal(KINDS, sorted(TERMINAL))

    async def start(self) -> None:
        await self.producer.start()
        await self.tracked.start()

    async def stop(self) -> None:
        await self.tracked.stop()
        await self.producer.stop()
        await self.redis.aclose()
        await self.engine.dispose()

    async def sweep_unstarted(self) -> None:
        """Every ``saga_sweep_interval_s``, append again the request and first command of
        each transaction still ``pending`` ``saga_sweep_grace_s`` after it was made.

        Pending means the saga has not reacted to any answer yet: either the answers are
        on their way (a transfer's accepted debit committed with its credit, which the
        saga waits for; the appended duplicates are ignored, their ids are derived from
        the transaction) or the command API crashed between its database commit and its
        append and the client never retried. Then this is the append: the decider decides
        the command (or rejects it as expired past its deadline) and the saga ends. Each
        transaction is looked at once: a watermark on ``created_at`` (stored with the
        saga's offsets) moves forward with every sweep, and the grace is far longer than
        any commit takes, so no row becomes visible behind it. A row whose saga state
        cannot be read is passed over (logged and counted); the others are swept."""
        s = self.settings
        upto = int(time.time() * 1000) - int(s.saga_sweep_grace_s * 1000)
        key = {"c": SWEEP, "t": SWEEP}
        async with self.engine.begin() as conn:
            since = (
                await conn.execute(
                    text(
                        "SELECT next_offset FROM transactions.offsets WHERE consumer = :c "
                        "AND topic = :t AND partition = 0 FOR UPDATE"
                    ),
                    key,
                )
            ).scalar()
            since = upto - FIRST_SWEEP_LOOKBACK_MS if since is None else since
            if since >= upto:
                return
            rows = (
                await conn.execute(
                    text(
                        "SELECT id, saga, created_at FROM transactions.transactions "
                        "WHERE created_at > :a AND created_at <= :b "
                        "AND status = 'pending' AND saga IS NOT NULL"
                    ),
                    {"a": _at(since), "b": _at(upto)},
                )
            ).all()
            restarts = [begun for begun in map(_restart, rows) if begun is not None]
            for begun in restarts:
                await append(self.producer, begun, None)
            if restarts:
                RESENT.inc(len(restarts))
                log.warning("pending requests appended again", extra={"count": len(restarts)})
            await conn.execute(SAVE_WATERMARK, key | {"p": 0, "o": upto})

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self.tracked.run())
            tasks.create_task(self._sweep_forever())

    async def _sweep_forever(self) -> None:
        while True:
            try:
                await self.sweep_unstarted()
            except Exception:  # the next sweep covers the same window again
                log.exception("sweep of pending requests failed")
            try:
                await self.in_flight.maybe_watch(datetime.now(UTC))
            except Exception:  # the gauges keep their last values until the next try
                log.exception("counting the sagas in flight failed")
            await asyncio.sleep(self.settings.saga_sweep_interval_s)

    def decode(self, record: ConsumerRecord[bytes, bytes]) -> Answer | Opened | Role | None:
        return read_answer(record)

    async def apply(
        self, batch: Sequence[Tracked[Answer | Opened | Role | None]], unit: AsyncConnection
    ) -> AfterCommit | None:
        """React to one batch inside the tracked consumer's transaction; the completion
        notices are published once it has committed."""
        messages = [t.value for t in batch if isinstance(t.value, tuple)]
        await self.directory.write(unit, [t.value for t in batch])
        notices = await self._advance(unit, messages)
        if not notices:
            return None
        return partial(publish_many, self.redis, TRANSACTION_CHANNEL, notices)

    async def _advance(self, conn: AsyncConnection, messages: list[Answer]) -> list[dict[str, Any]]:
        if not messages:
            return []
        ids = sorted({str(transaction_of(m)) for _, m, _ in messages})
        rows = await conn.execute(
            text(
                "SELECT id, saga FROM transactions.transactions WHERE id = ANY(:ids) "
                "ORDER BY id FOR UPDATE"
            ),
            {"ids": ids},
        )
        states: dict[str, SagaState | None] = {
            r.id: saga_from_dict(r.saga) if r.saga else None for r in rows
        }
        changed: dict[str, SagaState] = {}
        sends = []
        now = datetime.now(UTC)
        for envelope, message, cause in messages:
            tx = str(transaction_of(message))
            if tx not in states:
                log.warning("message for an unknown transaction", extra={"transaction_id": tx})
                continue
            state, commands, events = react(states.get(tx), message, now)
            if state is None or state == states.get(tx):
                continue
            states[tx] = changed[tx] = state
            correlation_id = envelope.correlation_id or envelope.event_id
            for sent in [*commands, *events]:
                topic, out = outbound(sent, correlation_id, envelope.event_id)
                sends.append(queue_envelope(self.producer, topic, out, cause))
        # Wait for every acknowledgement before the states commit: after a crash in
        # between, the replay sends the same ids again (harmless duplicates).
        futures = await asyncio.gather(*sends)
        await asyncio.gather(*futures)
        if changed:  # one statement for the whole batch
            await conn.execute(
                text(
                    "UPDATE transactions.transactions AS t SET saga = CAST(u.saga AS jsonb), "
                    "status = u.status, failure_reason = u.reason, updated_at = now() "
                    "FROM unnest(CAST(:ids AS text[]), CAST(:sagas AS text[]), "
                    "CAST(:statuses AS text[]), CAST(:reasons AS text[])) "
                    "AS u(id, saga, status, reason) WHERE t.id = u.id"
                ),
                {
                    "ids": list(changed),
                    "sagas": [orjson.dumps(saga_to_dict(s)).decode() for s in changed.values()],
                    "statuses": [public_status(s) for s in changed.values()],
                    "reasons": [s.failure_reason for s in changed.values()],
                },
            )
        refunds = [
            (s.payment_id, s.amount, s.status is SagaStatus.COMPLETED)
            for s in changed.values()
            if s.kind == "refund" and s.is_terminal()
        ]
        if refunds:  # in this transaction: each refund settles once, with its saga
            await settle_refunds(conn, refunds)
        ended = [tx for tx, s in changed.items() if s.is_terminal()]
        if ended:  # so is each one's share of a daily limit: kept, or given back
            moved_nothing = [tx for tx in ended if changed[tx].status in MOVED_NOTHING]
            await release(conn, ended, moved_nothing)
        notices = []
        for tx, s in changed.items():
            if s.is_terminal():
                observe_terminal(
                    s.kind, s.status.value, s.failure_reason, s.currency, s.amount, s.fee
                )
                notices.append({"key": tx, "status": public_status(s)})
        return notices


def _restart(row: Row[Any]) -> Start | None:
    """The first messages of a pending transaction, to append again; None (logged and
    counted) when its stored saga state cannot be read: one such row must not keep the
    sweep from the others, and the watermark passes it, so it is not read again."""
    try:
        return start(request_of(saga_from_dict(row.saga)), row.created_at, None)
    except ValueError as exc:  # msgspec.ValidationError: a missing or malformed field
        SWEEP_UNREADABLE.inc()
        log.error(
            "pending transaction passed over: its saga state cannot be read",
            extra={"transaction_id": row.id, "error": f"{type(exc).__name__}: {exc}"[:200]},
        )
        return None


def _at(epoch_ms: int) -> datetime:
    return EPOCH + timedelta(milliseconds=epoch_ms)


if __name__ == "__main__":
    serve_worker(SagaWorker, TransactionSettings(service_name="transaction_saga"))
