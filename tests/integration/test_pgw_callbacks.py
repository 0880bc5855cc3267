"""The asynchronous test card end to end: pgw_svc (a real process) decides the pending
charge after ``pgw_async_delay_ms`` and POSTs a signed ``ChargeCallback`` to a local
receiver standing in for transaction_svc, again after a 5xx, a 429 (after its Retry-After)
and a crash, never again after another 4xx or past the attempt limit (given up, on the
row and in the metrics), and from one sender only per attempt."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import msgspec
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from common.settings import Settings
from common.signatures import HEADER, SignatureProblem, SignatureRejected, verify
from contracts.provider import ChargeCallback
from infra.local.procs import kill9
from infra.testing.http_server import RawRequest, read_request
from infra.testing.pgw import (
    Payer,
    assert_kept_nowhere,
    payer,
    pgw_rows,
    provider_callers,
    start_provider,
)
from infra.testing.prometheus import scrape
from infra.testing.stack import StackUnderTest
from pgw_svc.callbacks_store import PgChargeCallbacks
from pgw_svc.domain import RETRY_BASE_MS
from pgw_svc.settings import PgwSettings

pytestmark = pytest.mark.integration

SECRET = "callback-secret-of-the-test"
DELAY_MS = 1000  # long enough to kill pgw_svc before it decides, on a busy machine
CARDS = {"async": "4000000000003220", "ok": "4242424242424242"}
ADMIN_EMAIL = "first.admin@pgw-callbacks.example.com"
ADMIN_PASSWORD = "Adm1n-Callbacks-Passphrase-7"  # fixed: the database outlives a session
PATH = "/internal/provider/callbacks"
MAX_ATTEMPTS = 5  # 0.5 + 1 + 2 + 4 s of back-off between them; a crash test needs 2 or 3
retry_delay_ms = PgwSettings(pgw_callback_max_attempts=MAX_ATTEMPTS).callback_retry.backoff_ms


@dataclass(frozen=True)
class Arrival:
    at: float  # time.monotonic()
    request: RawRequest

    @property
    def callback(self) -> ChargeCallback:
        return msgspec.json.decode(self.request.body, type=ChargeCallback)


@dataclass
class Receiver:
    """Stands in for transaction_svc's callback route: keeps every request; answers the
    callbacks of a charge key with ``script[key]``'s status lines (and headers) in turn,
    then 500 to the next ``refuse[key]`` ones, 200 otherwise."""

    port: int = 0
    arrivals: list[Arrival] = field(default_factory=list)
    refuse: dict[str, int] = field(default_factory=dict)
    script: dict[str, list[bytes]] = field(default_factory=dict)

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while (request := await read_request(reader)) is not None:
            arrival = Arrival(time.monotonic(), request)
            self.arrivals.append(arrival)
            key = arrival.callback.idempotency_key
            if self.script.get(key):
                status = self.script[key].pop(0)
            else:
                refused = self.refuse.get(key, 0) > 0
                self.refuse[key] = self.refuse.get(key, 0) - 1
                status = b"500 Internal Server Error" if refused else b"200 OK"
            writer.write(b"HTTP/1.1 %s\r\nContent-Length: 0\r\n\r\n" % status)
            await writer.drain()
        writer.close()

    def of(self, key: str) -> list[Arrival]:
        return [a for a in self.arrivals if a.callback.idempotency_key == key]

    async def wait_for(self, key: str, count: int, timeout: float = 20.0) -> list[Arrival]:
        deadline = time.monotonic() + timeout
        while len(self.of(key)) < count and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        assert len(self.of(key)) >= count, f"{len(self.of(key))} callbacks of {key}, not {count}"
        return self.of(key)


@pytest.fixture(scope="module")
async def receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    server = await asyncio.start_server(receiver.serve, "127.0.0.1", 0)
    receiver.port = server.sockets[0].getsockname()[1]
    yield receiver
    server.close()


@pytest.fixture(scope="module")
def started(stack: StackUnderTest, receiver: Receiver) -> StackUnderTest:
    # given pgw_svc deciding pending charges after DELAY_MS, calling back the receiver
    os.environ["PAYSTREAM_PGW_ASYNC_DELAY_MS"] = str(DELAY_MS)
    os.environ["PAYSTREAM_PGW_CALLBACK_URL"] = f"http://127.0.0.1:{receiver.port}{PATH}"
    os.environ["PAYSTREAM_PROVIDER_CALLBACK_SECRET"] = SECRET
    os.environ["PAYSTREAM_PGW_CALLBACK_MAX_ATTEMPTS"] = str(MAX_ATTEMPTS)
    start_provider(stack, ADMIN_EMAIL, ADMIN_PASSWORD)
    return stack


@pytest.fixture
async def world(started: StackUnderTest) -> AsyncIterator[Payer]:
    async with provider_callers(ADMIN_EMAIL, ADMIN_PASSWORD) as callers:
        yield await payer(callers, CARDS, {})


async def _pending_charge(world: Payer, amount: int = 1234) -> dict[str, Any]:
    r = await world.post("/internal/charges", world.charge("async", amount, currency="EUR"))
    assert (r.status_code, r.json()["status"]) == (201, "pending"), r.text
    return dict(r.json())


async def _row(charge_id: str, delivered: bool = True, timeout: float = 10.0) -> dict[str, Any]:
    """The charge's row, once its callback is recorded delivered (when ``delivered``)."""
    deadline = time.monotonic() + timeout
    while True:
        rows = (await pgw_rows(Settings().postgres_dsn))["charges"]
        row = next(r for r in rows if str(r["id"]) == charge_id)
        if not delivered or row["callback_delivered_at"] is not None:
            return row
        assert time.monotonic() < deadline, "the callback was not recorded delivered"
        await asyncio.sleep(0.05)


def _verified(arrival: Arrival) -> ChargeCallback:
    """The callback, after checking it came signed with the shared secret right now."""
    request = arrival.request
    assert (request.method, request.target) == ("POST", PATH)
    assert request.header("content-type") == "application/json"
    verify(request.header(HEADER.lower()), request.body, SECRET.encode(), now=int(time.time()))
    return arrival.callback


async def test_a_pending_charge_is_captured_after_the_delay_and_reported_signed(
    world: Payer, receiver: Receiver
) -> None:
    # when a service charges the asynchronous card
    made = time.monotonic()
    charge = await _pending_charge(world)
    # then one callback arrives, no sooner than the delay, signed with the shared secret
    (arrival,) = await receiver.wait_for(charge["idempotency_key"], 1)
    assert arrival.at - made >= DELAY_MS / 1000
    assert _verified(arrival) == ChargeCallback(
        charge_id=charge["id"], idempotency_key=charge["idempotency_key"], status="captured",
        amount=1234, currency="EUR", failure_reason=None,
    )  # fmt: skip
    # and under another secret it would not verify
    with pytest.raises(SignatureRejected) as refused:
        verify(arrival.request.header("paystream-signature"), arrival.request.body,
               b"another-secret", now=int(time.time()))  # fmt: skip
    assert refused.value.reason is SignatureProblem.BAD_SIGNATURE
    # and the charge is captured in full, its callback recorded delivered at the first try
    found = await world.pgw.get("/internal/charges", headers=world.service,
                                params={"idempotency_key": charge["idempotency_key"]})  # fmt: skip
    assert (found.json()["status"], found.json()["captured_amount"]) == ("captured", 1234)
    row = await _row(charge["id"])
    assert (row["callback_attempts"], row["callback_due_at"]) == (1, None)


async def test_a_receiver_answering_500_gets_the_same_callback_again(
    world: Payer, receiver: Receiver
) -> None:
    # given a receiver that fails the first callback of the next charge
    key = uuid.uuid4().hex
    receiver.refuse[key] = 1
    # when the asynchronous card is charged with that key
    r = await world.post("/internal/charges", world.charge("async", 500, currency="EUR"), key)
    assert r.status_code == 201, r.text
    # then the callback comes again after the back-off, the same body, freshly signed
    first, second = await receiver.wait_for(key, 2)
    assert second.at - first.at >= RETRY_BASE_MS / 1000 * 0.9
    assert _verified(first) == _verified(second)
    assert second.callback.status == "captured"
    # and the row counts both attempts and the delivery; nothing more is sent
    row = await _row(r.json()["id"])
    assert (row["callback_attempts"], row["callback_due_at"]) == (2, None)
    await asyncio.sleep(RETRY_BASE_MS * 3 / 1000)
    assert len(receiver.of(key)) == 2


async def _given_up(charge_id: str, timeout: float = 30.0) -> dict[str, Any]:
    """The charge's row once its callback is recorded given up."""
    deadline = time.monotonic() + timeout
    while (row := await _row(charge_id, delivered=False))["callback_given_up_at"] is None:
        assert time.monotonic() < deadline, "the callback was not recorded given up"
        await asyncio.sleep(0.05)
    return row


async def _given_up_count(pgw: httpx.AsyncClient) -> float:
    """pgw_svc's count of callbacks given up, from its /metrics."""
    given_up = await scrape(str(pgw.base_url), "paystream_provider_callback_attempts_total",
                            outcome="given_up")  # fmt: skip
    return sum(s.value for s in given_up)


async def _charged(
    world: Payer, receiver: Receiver, amount: int, *answers: bytes
) -> tuple[str, str]:
    """An asynchronous card charged ``amount`` (a pending charge) under a new key whose
    first callbacks the receiver answers with the status lines ``answers``: key and id."""
    key = uuid.uuid4().hex
    receiver.script[key] = list(answers)
    r = await world.post("/internal/charges", world.charge("async", amount, currency="EUR"), key)
    assert r.status_code == 201, r.text
    return key, str(r.json()["id"])


async def test_a_receiver_answering_400_gets_one_attempt_and_the_callback_is_given_up(
    world: Payer, receiver: Receiver
) -> None:
    given_up_before = await _given_up_count(world.pgw)
    # when a pending charge is made whose callback the receiver answers with a 400
    key, charge_id = await _charged(world, receiver, 600, b"400 Bad Request")
    # then the callback is recorded given up, refused, after its one attempt
    row = await _given_up(charge_id)
    assert (row["callback_attempts"], row["callback_give_up_reason"]) == (1, "refused")
    assert (row["callback_last_answer"], row["callback_due_at"]) == ("400", None)
    assert row["callback_delivered_at"] is None and row["status"] == "captured"
    # and counted; after the back-off's first waits nothing more was sent
    assert await _given_up_count(world.pgw) == given_up_before + 1
    await asyncio.sleep((retry_delay_ms(1) + retry_delay_ms(2)) / 1000 + 1)
    assert len(receiver.of(key)) == 1


async def test_a_receiver_answering_503_then_200_takes_the_second_attempt(
    world: Payer, receiver: Receiver
) -> None:
    # when a pending charge is made whose first callback the receiver answers 503
    key, charge_id = await _charged(world, receiver, 601, b"503 Service Unavailable")
    # then the second attempt, the same callback, is taken and recorded delivered
    first, second = await receiver.wait_for(key, 2)
    assert _verified(first) == _verified(second)
    row = await _row(charge_id)
    assert (row["callback_attempts"], row["callback_last_answer"]) == (2, "503")
    assert row["callback_given_up_at"] is None


async def test_a_429_is_sent_again_no_sooner_than_its_retry_after(
    world: Payer, receiver: Receiver
) -> None:
    # when a pending charge is made whose first callback the receiver answers 429 with
    # Retry-After: 3
    too_many = b"429 Too Many Requests\r\nRetry-After: 3"
    key, charge_id = await _charged(world, receiver, 602, too_many)
    # then the second attempt waits the 3 s asked (not the 0.5 s back-off) and is taken
    first, second = await receiver.wait_for(key, 2, timeout=30)
    assert second.at - first.at >= 3 * 0.95
    assert (await _row(charge_id))["callback_attempts"] == 2


async def test_a_callback_refused_by_5xx_is_given_up_after_the_last_attempt(
    world: Payer, receiver: Receiver
) -> None:
    # when a pending charge is made whose callbacks the receiver answers 500, all of them
    key, charge_id = await _charged(world, receiver, 603, *[b"500 Internal Server Error"] * 99)
    # then it is sent MAX_ATTEMPTS times, then recorded given up with the last answer
    row = await _given_up(charge_id, timeout=60)
    assert (row["callback_attempts"], row["callback_give_up_reason"]) == (
        MAX_ATTEMPTS, "attempts_exhausted")  # fmt: skip
    assert (row["callback_last_answer"], row["callback_due_at"]) == ("500", None)
    await asyncio.sleep(retry_delay_ms(MAX_ATTEMPTS) / 1000 + 1)
    assert len(receiver.of(key)) == MAX_ATTEMPTS


async def test_a_charge_pending_at_a_crash_is_decided_and_reported_after_the_restart(
    world: Payer, receiver: Receiver, started: StackUnderTest
) -> None:
    # given a pending charge, and pgw_svc killed before its delay is over
    charge = await _pending_charge(world, 700)
    kill9("pgw_svc", started.cfg.run_dir)
    assert (await _row(charge["id"], delivered=False))["status"] == "pending"
    # when pgw_svc starts again (in a thread: the receiver keeps answering meanwhile)
    await asyncio.to_thread(started.restart_app, "pgw_svc")
    # then the charge is decided and reported
    (arrival, *_) = await receiver.wait_for(charge["idempotency_key"], 1)
    assert (_verified(arrival).status, arrival.callback.amount) == ("captured", 700)
    assert (await _row(charge["id"]))["status"] == "captured"


async def test_a_callback_decided_but_undelivered_at_a_crash_is_sent_after_the_restart(
    world: Payer, receiver: Receiver, started: StackUnderTest
) -> None:
    # given a charge decided, its callbacks refused, and pgw_svc killed
    key = uuid.uuid4().hex
    receiver.refuse[key] = 1_000
    r = await world.post("/internal/charges", world.charge("async", 900, currency="EUR"), key)
    assert r.status_code == 201, r.text
    await receiver.wait_for(key, 1)
    kill9("pgw_svc", started.cfg.run_dir)
    row = await _row(r.json()["id"], delivered=False)
    assert (row["status"], row["callback_delivered_at"]) == ("captured", None)
    refused = len(receiver.of(key))
    # when the receiver takes callbacks again and pgw_svc starts again
    receiver.refuse[key] = 0
    await asyncio.to_thread(started.restart_app, "pgw_svc")
    # then the decided callback is delivered from the row by the new process
    arrivals = await receiver.wait_for(key, refused + 1, timeout=30)
    assert (_verified(arrivals[-1]).status, arrivals[-1].callback.amount) == ("captured", 900)
    assert (await _row(r.json()["id"]))["callback_attempts"] >= refused + 1


async def test_two_senders_never_claim_the_same_callback(
    world: Payer, started: StackUnderTest
) -> None:
    # given 40 charges whose callbacks are due before any other, and pgw_svc stopped
    ids = []
    for _ in range(40):
        r = await world.post("/internal/charges", world.charge("ok", 100))
        ids.append(r.json()["id"])
    await asyncio.to_thread(started.stop_apps, ["pgw_svc"])
    engines = [create_async_engine(Settings().postgres_dsn) for _ in range(2)]
    try:
        async with engines[0].begin() as conn:
            await conn.execute(text(
                "UPDATE pgw.charges SET callback_due_at = '-infinity'"
                " WHERE id = ANY(CAST(:ids AS uuid[]))"), {"ids": ids})  # fmt: skip
        # when two senders claim batches of 20 at the same moment
        now = datetime.now(UTC)
        claims = await asyncio.gather(*(
            PgChargeCallbacks(e).claim(now, now + timedelta(minutes=5), 20) for e in engines
        ))  # fmt: skip
    finally:
        for engine in engines:
            await engine.dispose()
        await asyncio.to_thread(started.start_apps, ["pgw_svc"])
    # then each took 20, no callback went to both, and together they took those 40
    claimed = [{str(row["id"]) for row in claim} for claim in claims]
    assert [len(c) for c in claimed] == [20, 20]
    assert not claimed[0] & claimed[1]
    assert claimed[0] | claimed[1] == set(ids)


async def test_no_card_number_or_callback_secret_in_the_tables_or_the_log(
    started: StackUnderTest,
) -> None:
    rows = await pgw_rows(Settings().postgres_dsn)
    assert [r for r in rows["charges"] if r["callback_delivered_at"] is not None]
    assert_kept_nowhere((*CARDS.values(), SECRET), rows, started.cfg.run_dir)


async def test_a_pending_charge_voided_first_is_reported_voided_and_never_decided(
    world: Payer, receiver: Receiver
) -> None:
    # given a pending charge (decided after DELAY_MS)
    charge = await _pending_charge(world, 900)
    # when its maker voids it before the provider decides it, twice
    first = await world.pgw.post(f"/internal/charges/{charge['id']}/void", headers=world.service)
    again = await world.pgw.post(f"/internal/charges/{charge['id']}/void", headers=world.service)
    # then it is voided, the same answer both times, nothing captured
    assert (first.status_code, first.json()["status"]) == (200, "voided"), first.text
    assert (again.status_code, again.json()) == (200, first.json())
    assert first.json()["captured_amount"] == 0
    # and one signed callback says so; after the delay nothing else comes
    (arrival,) = await receiver.wait_for(charge["idempotency_key"], 1)
    assert _verified(arrival).status == "voided"
    await asyncio.sleep(DELAY_MS * 2 / 1000)
    assert len(receiver.of(charge["idempotency_key"])) == 1
    assert (await _row(charge["id"]))["status"] == "voided"


async def test_a_void_after_the_provider_decided_is_refused_with_the_decision(
    world: Payer, receiver: Receiver
) -> None:
    # given a pending charge the provider has decided (its callback arrived)
    charge = await _pending_charge(world, 901)
    await receiver.wait_for(charge["idempotency_key"], 1)
    # when its maker tries to void it: 409 naming what the provider decided; nothing changes
    r = await world.pgw.post(f"/internal/charges/{charge['id']}/void", headers=world.service)
    assert (r.status_code, r.json()["code"]) == (409, "charge_not_authorized"), r.text
    assert r.json()["charge_status"] == "captured"
    assert (await _row(charge["id"]))["status"] == "captured"
