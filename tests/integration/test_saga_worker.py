"""The transfer saga on real Kafka and Postgres, with the real decider answering and the
stack's Prometheus scraping the saga worker."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import text

from common.db import make_engine
from common.kafka.producer import make_producer
from common.settings import Settings
from common.topics import TRANSACTION_EVENTS, WALLET_COMMANDS, WALLET_EVENTS, dlq
from contracts.transaction import TransferRequested
from contracts.wallet import (
    CreditWallet,
    FreezeWallet,
    OpenWallet,
    WalletCommand,
)
from infra.testing.kafka import read_topic, send_commands, wait_for
from infra.testing.prometheus import firing, query
from infra.testing.stack import StackUnderTest
from transaction_svc import store
from transaction_svc.saga_worker import SagaWorker
from transaction_svc.settings import TransactionSettings
from transaction_svc.start import Start, append, start
from transaction_svc.status import TERMINAL
from wallet_svc.domain.decider import MAX_BALANCE

pytestmark = pytest.mark.integration


async def _commands(settings: Settings, commands: list[WalletCommand]) -> None:
    await send_commands(settings.kafka_bootstrap, commands, "it")


def _open(wallet: str, funds: int = 0) -> list[WalletCommand]:
    cmds: list[WalletCommand] = [
        OpenWallet(command_id=f"open:{wallet}", wallet_id=wallet, owner_id="u", currency="USD")
    ]
    if funds:
        cmds.append(
            CreditWallet(command_id=f"fund:{wallet}", wallet_id=wallet, transaction_id="fund",
                         amount=funds, currency="USD", counter_account="system:settlement:it")
        )  # fmt: skip
    return cmds


async def _record(
    settings: Settings, src: str, dst: str, amount: int, ttl_ms: int = 30000
) -> tuple[str, Start]:
    """What the command API does first: record the transaction with its saga's first
    state (the append follows)."""
    tx = str(uuid.uuid4())
    now = datetime.now(UTC)
    event = TransferRequested(transaction_id=tx, from_wallet_id=src, to_wallet_id=dst,
                              amount=amount, currency="USD",
                              deadline=int(now.timestamp() * 1000) + ttl_ms)  # fmt: skip
    begun = start(event, now, None)
    engine = make_engine(settings.postgres_dsn)
    row = {"id": tx, "kind": "transfer", "owner_id": "u", "from_wallet_id": src,
           "to_wallet_id": dst, "amount": amount, "currency": "USD", "fee": 0,
           "description": None, "created_at": now, **begun.columns()}  # fmt: skip
    await store.claim(engine, store.ClaimRequest(tx, "hash", 202, {"id": tx}, row))
    await engine.dispose()
    return tx, begun


async def _request(settings: Settings, src: str, dst: str, amount: int, ttl_ms: int = 30000) -> str:
    """What the command API does: record the transaction, append the request and the
    first command."""
    tx, begun = await _record(settings, src, dst, amount, ttl_ms)
    await _append(settings, begun, begun)  # a duplicate append, on purpose
    return tx


async def _append(settings: Settings, *starts: Start) -> None:
    """Append the first messages of each of ``starts``, in order."""
    producer = make_producer(settings.kafka_bootstrap, "it")
    await producer.start()
    try:
        for begun in starts:
            await append(producer, begun, None)
    finally:
        await producer.stop()


async def _execute(settings: Settings, sql: str, **params: Any) -> Any:
    """Run one statement in its own transaction; its first value when it returns rows."""
    engine = make_engine(settings.postgres_dsn)
    try:
        async with engine.begin() as conn:
            result = await conn.execute(text(sql), params)
            return result.scalar() if result.returns_rows else None
    finally:
        await engine.dispose()


# A saga state that cannot be read back (missing fields, a status that does not exist)
UNREADABLE_SAGA = '{"kind": "transfer", "status": "NOT_A_STATUS"}'


async def _status(settings: Settings, tx: str) -> tuple[str, str | None]:
    engine = make_engine(settings.postgres_dsn)
    try:
        row = await store.get(engine, tx)
        assert row is not None
        return row.status, row.failure_reason
    finally:
        await engine.dispose()


async def _terminal(settings: Settings, tx: str) -> tuple[str, str | None]:
    async def done() -> bool:
        return (await _status(settings, tx))[0] in TERMINAL

    await wait_for(done, timeout=60)
    return await _status(settings, tx)


async def _ledger(settings: Settings, wallet: str) -> int:
    events = await read_topic(settings.kafka_bootstrap, WALLET_EVENTS, lambda e: e.key == wallet)
    money = [e for e in events if "ledger" in e.payload]
    return int(money[-1].payload["ledger"]) if money else 0


async def _funded_and_frozen(settings: Settings) -> tuple[str, str]:
    """A wallet holding 100 and a frozen one (a credit to it is refused)."""
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    await _commands(settings, [*_open(a, 100), *_open(b),
                               FreezeWallet(command_id=f"freeze:{b}", wallet_id=b)])  # fmt: skip
    return a, b


@pytest.fixture(scope="module")
def workers(stack: StackUnderTest) -> StackUnderTest:
    stack.start_apps(["wallet_decider", "transaction_saga"])
    return stack


async def test_transfer_completes(workers: StackUnderTest, settings: Settings) -> None:
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    await _commands(settings, [*_open(a, 100), *_open(b)])
    tx = await _request(settings, a, b, 30)
    assert await _terminal(settings, tx) == ("completed", None)
    assert (await _ledger(settings, a), await _ledger(settings, b)) == (70, 30)
    events = await read_topic(settings.kafka_bootstrap, TRANSACTION_EVENTS, lambda e: e.key == tx)
    assert [e.type for e in events].count("TransferCompleted") == 1


async def test_insufficient_funds_fails_with_reason(
    workers: StackUnderTest, settings: Settings
) -> None:
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    await _commands(settings, [*_open(a, 10), *_open(b)])
    tx = await _request(settings, a, b, 30)
    assert await _terminal(settings, tx) == ("failed", "insufficient_funds")
    assert (await _ledger(settings, a), await _ledger(settings, b)) == (10, 0)


async def test_credit_to_frozen_wallet_is_reversed(
    workers: StackUnderTest, settings: Settings
) -> None:
    # given a funded source and a frozen destination
    a, b = await _funded_and_frozen(settings)
    # when money is sent to it
    tx = await _request(settings, a, b, 40)
    # then the transfer is reversed, the source is whole again, and the world is told
    assert await _terminal(settings, tx) == ("reversed", "wallet_frozen")
    assert (await _ledger(settings, a), await _ledger(settings, b)) == (100, 0)
    events = await read_topic(settings.kafka_bootstrap, TRANSACTION_EVENTS, lambda e: e.key == tx)
    reversed_ = [e for e in events if e.type == "TransferReversed"]
    assert len(reversed_) == 1 and reversed_[0].payload["reason"] == "wallet_frozen"
    engine = make_engine(settings.postgres_dsn)
    async with engine.connect() as conn:
        steps = (await conn.execute(text(
            "SELECT saga->'steps' FROM transactions.transactions WHERE id = :id"), {"id": tx}
        )).scalar_one()  # fmt: skip
    await engine.dispose()
    assert [s[:2] for s in steps][-1] == ["reverse", "done"]


async def test_expired_saga_is_driven_to_a_terminal_state(
    workers: StackUnderTest, settings: Settings
) -> None:
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    await _commands(settings, [*_open(a, 100), *_open(b)])
    tx = await _request(settings, a, b, 5, ttl_ms=-1)  # already past its deadline
    assert await _terminal(settings, tx) == ("failed", "expired")
    assert await _ledger(settings, a) == 100


@pytest.fixture
def quick_sweep(workers: StackUnderTest) -> Iterator[StackUnderTest]:
    """The saga worker with a sweep that looks every 0.5 s at requests pending > 1 s."""
    quick = {"PAYSTREAM_SAGA_SWEEP_GRACE_S": "1", "PAYSTREAM_SAGA_SWEEP_INTERVAL_S": "0.5"}
    os.environ.update(quick)
    workers.restart_app("transaction_saga")
    yield workers
    for name in quick:
        del os.environ[name]
    workers.restart_app("transaction_saga")


async def test_a_request_whose_append_was_lost_is_swept_to_a_terminal_state(
    quick_sweep: StackUnderTest, settings: Settings
) -> None:
    # given transfers recorded by the command API whose append never happened (it
    # crashed in between and the client did not retry): one still within its deadline,
    # one past it
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    await _commands(settings, [*_open(a, 100), *_open(b)])
    live, _ = await _record(settings, a, b, 30)
    late, _ = await _record(settings, a, b, 5, ttl_ms=-1)
    # when the sweep finds them pending, it appends them: the first completes, the
    # second is rejected as expired and fails; no money moved for it
    assert await _terminal(settings, live) == ("completed", None)
    assert await _terminal(settings, late) == ("failed", "expired")
    assert (await _ledger(settings, a), await _ledger(settings, b)) == (70, 30)
    events = await read_topic(
        settings.kafka_bootstrap, TRANSACTION_EVENTS, lambda e: e.key in (live, late)
    )
    kinds = [(e.key == live, e.type) for e in events]
    assert (True, "TransferRequested") in kinds and (False, "TransferRequested") in kinds
    assert kinds.count((True, "TransferCompleted")) == 1
    assert kinds.count((False, "TransferFailed")) == 1


async def test_the_sweep_passes_over_an_unreadable_saga_and_sweeps_the_others(
    stack: StackUnderTest, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    # given two pending transfers whose appends were lost, the first one stored with a
    # saga state that cannot be read
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    bad, _ = await _record(settings, a, b, 10)
    good, _ = await _record(settings, a, b, 20)
    await _execute(settings, "UPDATE transactions.transactions SET saga = CAST(:s AS jsonb) "
                   "WHERE id = :b", s=UNREADABLE_SAGA, b=bad)  # fmt: skip
    unreadable = "paystream_saga_sweep_unreadable_total"
    counted = REGISTRY.get_sample_value(unreadable) or 0.0
    # when the sweep runs (with no grace: both are already older than it; back-dating
    # them instead could put them behind the watermark of an earlier sweep)
    worker = SagaWorker(TransactionSettings(service_name="it_sweep", saga_sweep_grace_s=0))
    await worker.producer.start()
    try:
        await worker.sweep_unstarted()
    finally:
        await worker.stop()
    # then the good transfer's request and debit are appended again, the bad one's not
    mine = (bad, good)
    events = await read_topic(settings.kafka_bootstrap, TRANSACTION_EVENTS, lambda e: e.key in mine)
    assert [(e.key, e.type) for e in events if e.type == "TransferRequested"] == [
        (good, "TransferRequested")
    ]
    commands = await read_topic(settings.kafka_bootstrap, WALLET_COMMANDS,
                                lambda e: e.payload.get("transaction_id") in mine)  # fmt: skip
    debits = [(e.payload["transaction_id"], e.type) for e in commands if e.type == "DebitWallet"]
    assert debits == [(good, "DebitWallet")]
    # and the bad row is logged and counted (with any unreadable row an earlier test or
    # run left in the window), and the watermark has passed it: it is not read again
    passed_over = [getattr(r, "transaction_id", None) for r in caplog.records
                   if r.getMessage().startswith("pending transaction passed over")]  # fmt: skip
    assert bad in passed_over and good not in passed_over
    assert REGISTRY.get_sample_value(unreadable) == counted + len(passed_over)
    assert await _execute(settings, "SELECT o.next_offset >= extract(epoch FROM t.created_at) "
                          "* 1000 FROM transactions.offsets o, transactions.transactions t "
                          "WHERE o.consumer = 'pending-sweep' AND t.id = :b", b=bad)  # fmt: skip


async def test_an_answer_for_an_unreadable_saga_is_dead_lettered_and_the_partition_moves_on(
    workers: StackUnderTest, settings: Settings
) -> None:
    # given a transfer whose stored saga state cannot be read, then a good one between the
    # same wallets (their answers share a partition, the bad one's first)
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    await _commands(settings, [*_open(a, 100), *_open(b)])
    bad, bad_start = await _record(settings, a, b, 10)
    await _execute(settings, "UPDATE transactions.transactions SET saga = CAST(:s AS jsonb) "
                   "WHERE id = :b", s=UNREADABLE_SAGA, b=bad)  # fmt: skip
    good, good_start = await _record(settings, a, b, 20)
    # when both are appended and the decider answers them (the bad one's debit only: its
    # request on transaction-events would be a saga that never ends, which the verifier
    # run by later tests of this session would rightly report)
    debit_only = replace(bad_start, messages=[
        (topic, envelope) for topic, envelope in bad_start.messages if topic != TRANSACTION_EVENTS
    ])  # fmt: skip
    await _append(settings, debit_only, good_start)
    # then the good transfer completes behind the bad one's answer, which is dead-lettered
    assert await _terminal(settings, good) == ("completed", None)
    dead = await read_topic(settings.kafka_bootstrap, dlq(WALLET_EVENTS),
                            lambda e: e.payload.get("transaction_id") == bad)  # fmt: skip
    assert [e.type for e in dead] == ["WalletCredited"]
    assert await _status(settings, bad) == ("pending", None)


# the saga worker's count of transfers ended reversal_failed, as Prometheus scraped it
# in the last 10 s (its data may hold an earlier session's samples: infra.testing.prometheus)
REVERSAL_FAILURES = (
    "last_over_time(paystream_transactions_total"
    '{job="transaction_saga",type="transfer",status="REVERSAL_FAILED"}[10s])'
)


async def _reversal_failures(settings: Settings) -> float | None:
    """``REVERSAL_FAILURES`` now (None when Prometheus scraped no such count lately)."""
    found = await query(settings.prometheus_url, REVERSAL_FAILURES)
    return float(found[0]["value"][1]) if found else None


async def test_a_transfer_whose_return_is_refused_ends_reversal_failed_and_pages(
    workers: StackUnderTest, settings: Settings
) -> None:
    # given a sender holding 100, a frozen recipient, and Prometheus scraping the saga
    # worker's count of transfers that ended reversal_failed
    a, b = await _funded_and_frozen(settings)

    async def scraped() -> bool:
        return await _reversal_failures(settings) is not None

    await wait_for(scraped, timeout=30)
    before = await _reversal_failures(settings)
    assert before is not None
    # when the sender sends 40 to it and, before the 40 can come back, is credited up to
    # the largest balance a wallet may hold (the decider stopped, so that it decides the
    # debit, then that credit, and only then the refused credit's return)
    workers.stop_apps(["wallet_decider"])
    try:
        tx, begun = await _record(settings, a, b, 40, ttl_ms=120_000)
        await _append(settings, begun)
        brim = CreditWallet(command_id=f"brim:{a}", wallet_id=a, transaction_id="fund",
                            amount=MAX_BALANCE - 60, currency="USD",
                            counter_account=f"system:settlement:it-{a}")  # fmt: skip
        await _commands(settings, [brim])
    finally:
        workers.start_apps(["wallet_decider"])
    # then the return is refused too and the transfer ends reversal_failed, told once:
    # the 40 is neither delivered nor returned
    assert await _terminal(settings, tx) == (
        "reversal_failed",
        "wallet_frozen; reversal balance_limit_exceeded",
    )
    events = await read_topic(settings.kafka_bootstrap, TRANSACTION_EVENTS, lambda e: e.key == tx)
    assert [e.type for e in events].count("TransferReversalFailed") == 1
    assert (await _ledger(settings, a), await _ledger(settings, b)) == (MAX_BALANCE, 0)

    # and the saga worker counted it, and Prometheus scraped the count and pages
    async def counted() -> bool:
        return await _reversal_failures(settings) == before + 1

    await wait_for(counted, timeout=30)

    async def paged() -> list[dict[str, Any]]:
        alerts = await firing(settings.prometheus_url, "MoneyLeftForOperator")
        return [a for a in alerts if a["labels"].get("type") == "transfer"]

    await wait_for(paged, timeout=60)
    (alert,) = await paged()
    assert alert["labels"]["severity"] == "page"
    assert alert["annotations"]["runbook_url"] == "docs/runbooks/MoneyLeftForOperator.md"
