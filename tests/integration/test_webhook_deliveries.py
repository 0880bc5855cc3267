"""Webhook deliveries on real Kafka and Postgres: the delivery worker records each event
once per subscribed endpoint with its offsets (a replay records nothing twice, a rolled
back batch records nothing), and hands out a payment's deliveries one at a time, in
order; it sends a delivery again no sooner than the endpoint's Retry-After asks, and
gives one up at once when the endpoint answers a 4xx such as 410 (common.retry)."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka import ConsumerRecord
from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from common.kafka.headers import message_headers
from common.kafka.producer import make_producer, send_envelopes
from common.kafka.tracked import Tracked
from common.retry import GiveUp
from common.settings import Settings
from common.topics import PAYMENT_EVENTS
from contracts.envelope import Envelope
from contracts.message import Message
from contracts.payment import (
    ChargeSucceeded,
    DepositCompleted,
    PaymentCompleted,
    PaymentInitiated,
)
from infra.testing.http_server import read_request
from infra.testing.kafka import wait_for
from transaction_svc.settings import TransactionSettings
from transaction_svc.webhooks import store
from transaction_svc.webhooks.api import delivery_public
from transaction_svc.webhooks.schemas import DeliveryPublic
from transaction_svc.webhooks.worker import WebhookWorker

pytestmark = pytest.mark.integration


async def endpoint(
    engine: AsyncEngine, merchant: str, events: list[str], at: datetime,
    url: str = "http://127.0.0.1:9/h",
) -> str:  # fmt: skip
    row = await store.create_endpoint(
        engine,
        {"id": str(uuid.uuid4()), "merchant_id": merchant, "url": url,
         "events": events, "description": None, "secret": "whsec_it", "now": at},
        most=16,
    )  # fmt: skip
    return str(row.id)


def merchant_event(kind: type[Message], payment: str, merchant: str, **more: Any) -> Message:
    return kind(payment_id=payment, wallet_id="w-payer", amount=500, currency="USD",
                merchant_id=merchant, merchant_wallet_id="w-merchant", order_id="o-1",
                **more)  # fmt: skip


async def publish(settings: Settings, *envelopes: Envelope) -> None:
    producer = make_producer(settings.kafka_bootstrap, "it")
    await producer.start()
    try:
        await send_envelopes(producer, [(PAYMENT_EVENTS, e) for e in envelopes])
    finally:
        await producer.stop()


def env(message: Message, payment: str, occurred_at: datetime | None = None) -> Envelope:
    return Envelope.of(message, key=payment, producer="it", occurred_at=occurred_at)


async def deliveries(engine: AsyncEngine, endpoint_id: str) -> list[tuple[str, str]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT event_id, event_type FROM transactions.webhook_deliveries "
                 "WHERE endpoint_id = :e ORDER BY source_offset"),
            {"e": endpoint_id},
        )  # fmt: skip
        return [(r.event_id, r.event_type) for r in rows]


async def consume_until(worker: WebhookWorker, done: Any) -> None:
    async def step() -> bool:
        await worker.tracked.run_once(timeout_ms=200)
        return bool(await done())

    await wait_for(step, timeout=60)


async def test_each_event_is_recorded_once_per_subscribed_endpoint_even_when_replayed(
    engine: AsyncEngine, settings: Settings
) -> None:
    # given a merchant with an endpoint for everything and one for completions only, a
    # card payment of it (its provider events name no merchant), and another merchant
    merchant, other, payment = (str(uuid.uuid4()) for _ in range(3))
    now = datetime.now(UTC)
    everything = await endpoint(engine, merchant, ["*"], now)
    completions = await endpoint(engine, merchant, ["PaymentCompleted"], now)
    others = await endpoint(engine, other, ["*"], now)
    async with engine.begin() as conn:
        await conn.execute(
            text("INSERT INTO transactions.payments (id, merchant_id, order_id, payer_id, "
                 "provider, amount, currency, created_at, updated_at) VALUES (:id, :m, 'o-1', "
                 "'payer', 'card', 500, 'USD', :now, :now)"),
            {"id": payment, "m": merchant, "now": now},
        )  # fmt: skip
    before = env(merchant_event(PaymentInitiated, payment, merchant, provider="card"), payment,
                 occurred_at=now - timedelta(minutes=5))  # fmt: skip
    initiated = env(merchant_event(PaymentInitiated, payment, merchant, provider="card"), payment)
    charged = env(ChargeSucceeded(payment_id=payment, wallet_id="w-merchant", amount=500,
                                  currency="USD", charge_id="ch-1"), payment)  # fmt: skip
    completed = env(merchant_event(PaymentCompleted, payment, merchant), payment)
    deposit = env(DepositCompleted(payment_id=payment, wallet_id="w", amount=1, currency="USD"),
                  payment)  # fmt: skip
    # when its events are published, one of them twice (a producer's replay), with an event
    # from before the endpoints existed and a deposit's event no merchant receives
    await publish(settings, before, initiated, charged, completed, completed, deposit)
    worker = WebhookWorker(TransactionSettings(service_name="it-webhooks"))
    await worker.start()
    try:

        async def recorded() -> bool:
            return len(await deliveries(engine, everything)) >= 3

        await consume_until(worker, recorded)
        # then the endpoint for everything has the three events since it was made, in order
        first = await deliveries(engine, everything)
        assert first == [(initiated.event_id, "PaymentInitiated"),
                         (charged.event_id, "ChargeSucceeded"),
                         (completed.event_id, "PaymentCompleted")]  # fmt: skip
        assert await deliveries(engine, completions) == [(completed.event_id, "PaymentCompleted")]
        assert await deliveries(engine, others) == []
        # when the worker's stored offsets are lost and it reads the topic again
        async with engine.begin() as conn:
            await conn.execute(text("DELETE FROM transactions.offsets WHERE consumer = 'webhooks'"))
        await worker.stop()
        worker = WebhookWorker(TransactionSettings(service_name="it-webhooks"))
        await worker.start()
        # a later event of the other merchant tells when the replay has passed them
        marker = env(merchant_event(PaymentCompleted, str(uuid.uuid4()), other), "x")
        await publish(settings, marker)

        async def replayed() -> bool:
            async with engine.connect() as conn:
                return bool((await conn.execute(
                    text("SELECT count(*) FROM transactions.webhook_deliveries "
                         "WHERE event_id = :e"), {"e": marker.event_id})).scalar())  # fmt: skip

        await consume_until(worker, replayed)
        # then nothing was recorded twice
        assert await deliveries(engine, everything) == first
        assert len(await deliveries(engine, completions)) == 1
        assert await deliveries(engine, others) == [(marker.event_id, "PaymentCompleted")]
    finally:
        await worker.stop()


async def test_a_batch_that_rolls_back_records_nothing(
    engine: AsyncEngine, settings: Settings
) -> None:
    # given an endpoint and a batch of its merchant's events applied in a unit that fails
    merchant, payment = str(uuid.uuid4()), str(uuid.uuid4())
    hook = await endpoint(engine, merchant, ["*"], datetime.now(UTC))
    worker = WebhookWorker(TransactionSettings(service_name="it-webhooks"))
    message = env(merchant_event(PaymentCompleted, payment, merchant), payment)
    record: ConsumerRecord[bytes, bytes] = ConsumerRecord(
        PAYMENT_EVENTS, 0, 7, 0, 0, payment.encode(), message.to_bytes(), None, 0, 0,
        list(message_headers(message, None)),
    )  # fmt: skip
    batch = [Tracked(record, worker.decode(record))]
    with pytest.raises(RuntimeError):
        async with engine.begin() as conn:
            assert await worker.apply(batch, conn) is not None  # it recorded one
            raise RuntimeError("the offsets could not be stored")
    # then no delivery is left behind
    assert await deliveries(engine, hook) == []
    await worker.engine.dispose()
    await worker.client.aclose()


async def test_a_payments_deliveries_are_handed_out_one_at_a_time_in_order(
    engine: AsyncEngine,
) -> None:
    # given three pending deliveries of one payment to one endpoint, and one of another
    merchant, payment, other_payment = (str(uuid.uuid4()) for _ in range(3))
    now = datetime.now(UTC)
    hook = await endpoint(engine, merchant, ["*"], now)
    rows = [
        {"id": str(uuid.uuid4()), "endpoint_id": hook, "event_id": str(uuid.uuid4()),
         "event_type": "X", "payment_id": p, "source_offset": offset, "body": "{}",
         "now": now, "give_up_at": now + timedelta(hours=1)}
        for p, offset in ((payment, 10), (payment, 11), (payment, 12), (other_payment, 13))
    ]  # fmt: skip
    async with engine.begin() as conn:
        await store.record(conn, rows)
    ours = {r["id"] for r in rows}

    async def claim() -> list[str]:
        due = await store.claim_due(engine, datetime.now(UTC) + timedelta(seconds=1), 100, 60)
        return sorted(d.id for d in due if d.id in ours)

    # when due deliveries are claimed: the head of each payment's line only
    assert await claim() == sorted([rows[0]["id"], rows[3]["id"]])
    # and a claimed one is leased: not handed out again while it is being sent
    assert await claim() == []

    async def settle(row: dict[str, Any], code: int | None, step: datetime | GiveUp | None) -> None:
        attempt = store.Attempt(delivery_id=row["id"], endpoint_id=hook, number=1,
                                at=datetime.now(UTC), status_code=code, latency_ms=3,
                                error=None if code == 200 else "http_503")  # fmt: skip
        await store.settle(engine, attempt, step, disable_after=3)

    # when the head fails and is retried later, the next in line still waits for it
    await settle(rows[0], 503, datetime.now(UTC) - timedelta(seconds=1))
    assert await claim() == [rows[0]["id"]]
    # when it is delivered, the next one is handed out; when that is given up, the last
    await settle(rows[0], 200, None)
    assert await claim() == [rows[1]["id"]]
    await settle(rows[1], None, GiveUp.EXPIRED)
    assert await claim() == [rows[2]["id"]]
    async with engine.connect() as conn:
        states = dict((await conn.execute(text(
            "SELECT id, status FROM transactions.webhook_deliveries WHERE id = ANY(:ids)"),
            {"ids": [rows[0]["id"], rows[1]["id"]]})).all())  # fmt: skip
        attempts = (await conn.execute(text(
            "SELECT count(*) FROM transactions.webhook_attempts WHERE delivery_id = :d"),
            {"d": rows[0]["id"]})).scalar()  # fmt: skip
    assert states == {rows[0]["id"]: "delivered", rows[1]["id"]: "failed"}
    assert attempts == 1  # the same attempt number is recorded once


async def test_an_endpoint_is_disabled_after_a_run_of_failures_and_a_success_resets_it(
    engine: AsyncEngine,
) -> None:
    merchant = str(uuid.uuid4())
    now = datetime.now(UTC)
    hook = await endpoint(engine, merchant, ["*"], now)
    ids = [str(uuid.uuid4()) for _ in range(4)]
    async with engine.begin() as conn:
        await store.record(conn, [
            {"id": i, "endpoint_id": hook, "event_id": i, "event_type": "X",
             "payment_id": i, "source_offset": n, "body": "{}", "now": now,
             "give_up_at": now + timedelta(hours=1)} for n, i in enumerate(ids)
        ])  # fmt: skip

    async def attempt(delivery: str, code: int) -> Any:
        await store.settle(
            engine,
            store.Attempt(delivery_id=delivery, endpoint_id=hook, number=1, at=datetime.now(UTC),
                          status_code=code, latency_ms=1, error=None),
            datetime.now(UTC) + timedelta(minutes=1), disable_after=3,
        )  # fmt: skip
        return await store.get_endpoint(engine, hook, merchant)

    # given two failures then a success: the run starts again
    assert (await attempt(ids[0], 500)).consecutive_failures == 1
    assert (await attempt(ids[1], 500)).consecutive_failures == 2
    assert (await attempt(ids[2], 200)).consecutive_failures == 0
    # when three fail in a row, the endpoint is disabled and nothing of it is handed out
    for i in (ids[0], ids[1], ids[3]):
        row = await attempt(i, 500)
    assert (row.status, row.consecutive_failures) == ("disabled", 3)
    later = datetime.now(UTC) + timedelta(hours=2)
    assert not [d for d in await store.claim_due(engine, later, 100, 60) if d.endpoint_id == hook]


@dataclass
class MerchantEndpoint:
    """A merchant's receiver: answers each request with the next of ``answers`` (a status
    line with any headers), then 200; keeps when each request came (time.monotonic)."""

    answers: list[bytes]
    arrivals: list[float] = field(default_factory=list)
    port: int = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await read_request(reader) is not None:
            self.arrivals.append(time.monotonic())
            status = self.answers.pop(0) if self.answers else b"200 OK"
            writer.write(b"HTTP/1.1 %s\r\nContent-Length: 0\r\n\r\n" % status)
            await writer.drain()
        writer.close()


# retries within a fraction of a second (the default starts at 10 s), to a local receiver
QUICK = {"webhook_allow_http": True, "webhook_allow_loopback": True,
         "webhook_retry_base_s": 0.05, "webhook_retry_max_s": 0.2}  # fmt: skip


@contextlib.asynccontextmanager
async def delivering(
    engine: AsyncEngine, answers: list[bytes], **settings: Any
) -> AsyncIterator[tuple[MerchantEndpoint, str, str]]:
    """One delivery recorded for an endpoint answering ``answers``, and the delivery worker
    sending what is due meanwhile: the receiver, the endpoint's and the delivery's ids."""
    receiver = MerchantEndpoint(list(answers))
    server = await asyncio.start_server(receiver.serve, "127.0.0.1", 0)
    receiver.port = server.sockets[0].getsockname()[1]
    now = datetime.now(UTC)
    merchant, delivery = str(uuid.uuid4()), str(uuid.uuid4())
    hook = await endpoint(engine, merchant, ["*"], now, f"http://127.0.0.1:{receiver.port}/h")
    worker = WebhookWorker(TransactionSettings(service_name="it-webhooks", **QUICK | settings))
    async with engine.begin() as conn:
        await store.record(conn, [
            {"id": delivery, "endpoint_id": hook, "event_id": delivery, "event_type": "X",
             "payment_id": delivery, "source_offset": 0, "body": "{}", "now": now,
             "give_up_at": worker.retry.give_up_at(now)},
        ])  # fmt: skip
    dispatching = asyncio.create_task(worker.dispatch())
    try:
        yield receiver, hook, delivery
    finally:
        dispatching.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await dispatching
        await worker.stop()
        server.close()


async def settled(engine: AsyncEngine, hook: str, delivery: str) -> Any:
    """The delivery as the merchant's GET lists it, once it is no longer pending."""
    found: list[Any] = []

    async def done() -> bool:
        rows = await store.search_deliveries(engine, hook, None, 10)
        found[:] = [r for r in rows if r.id == delivery and r.status != "pending"]
        return bool(found)

    await wait_for(done, timeout=30, interval=0.05)
    return found[0]


def given_up_count() -> float:
    return REGISTRY.get_sample_value("paystream_webhook_attempts_total",
                                     {"outcome": "given_up"}) or 0.0  # fmt: skip


async def test_an_endpoint_answering_410_gets_one_attempt_and_the_delivery_is_given_up(
    engine: AsyncEngine,
) -> None:
    before = given_up_count()
    # given an endpoint that answers 410 Gone to everything
    async with delivering(engine, [b"410 Gone"] * 10) as (receiver, hook, delivery):
        # when its delivery is sent
        row = await settled(engine, hook, delivery)
        # then it is given up, refused, after its one attempt, with that answer
        assert (row.status, row.give_up_reason, row.attempts) == ("failed", "refused", 1)
        assert (row.last_status_code, row.last_error) == (410, "http_410")
        assert given_up_count() == before + 1
        # and the merchant's GET of its deliveries says why
        shown = DeliveryPublic.model_validate(delivery_public(row, []))
        assert (shown.status, shown.give_up_reason) == ("failed", "refused")
        # and nothing more is sent, though the backoff would have retried several times
        await asyncio.sleep(0.5)
        assert len(receiver.arrivals) == 1


async def test_a_503_with_retry_after_is_sent_again_no_sooner_than_asked(
    engine: AsyncEngine,
) -> None:
    # given an endpoint that answers its first request 503 with Retry-After: 1, then 200
    unavailable = b"503 Service Unavailable\r\nRetry-After: 1"
    async with delivering(engine, [unavailable]) as (receiver, hook, delivery):
        # when its delivery is sent
        row = await settled(engine, hook, delivery)
        # then the second attempt waited the 1 s asked (the backoff alone: 25 to 50 ms)
        first, second = receiver.arrivals
        assert second - first >= 1.0
        assert (row.status, row.give_up_reason, row.attempts) == ("delivered", None, 2)


async def test_a_retry_after_past_the_horizon_gives_the_delivery_up_as_expired(
    engine: AsyncEngine,
) -> None:
    # given a 2 s horizon and an endpoint asking to be tried again in an hour
    later = b"503 Service Unavailable\r\nRetry-After: 3600"
    async with delivering(engine, [later], webhook_retry_horizon_s=2) as (receiver, hook, d):
        # then the delivery is given up at once, expired, after its one attempt
        row = await settled(engine, hook, d)
        assert (row.status, row.give_up_reason, row.attempts) == ("failed", "expired", 1)
        assert row.last_status_code == 503 and len(receiver.arrivals) == 1
