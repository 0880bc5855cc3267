"""The scheduler on real Postgres, Kafka and Redis: two schedulers passing over the same
due schedules at once run each (schedule, run) exactly once, through the transfer POST's
own path; a run submitted again after a crash (its record lost) is the same transaction,
not a second one."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.ids import deterministic_id
from infra.testing.kafka import wait_for
from infra.testing.stack import StackUnderTest
from transaction_svc.app_state import opened_state
from transaction_svc.deps import TransactionApp
from transaction_svc.schedules import store
from transaction_svc.schedules.plan import key_of
from transaction_svc.schedules.scheduler import Scheduler
from transaction_svc.settings import TransactionSettings
from transaction_svc.status import TERMINAL

pytestmark = pytest.mark.integration
SCHEDULES, MAX_RUNS = 6, 3


@pytest.fixture
async def schedulers(stack: StackUnderTest) -> AsyncIterator[list[TransactionApp]]:
    """Two command API states, opened as the API and the scheduler worker open theirs."""
    # (a wallet transfer asks no provider: its service client is never used)
    settings = TransactionSettings(
        service_client_id="schedule-tests", service_client_secret=SecretStr("unused")
    )
    async with AsyncExitStack() as states:
        yield [(await states.enter_async_context(opened_state(settings)))[0] for _ in "ab"]


async def _rows(engine: AsyncEngine, sql: str, **params: Any) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(text(sql), params)).all())


async def _given_schedules(engine: AsyncEngine, owner: str, start: datetime) -> list[str]:
    payer, payee = str(uuid.uuid4()), str(uuid.uuid4())
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO transactions.wallet_directory VALUES (:p, :o, 'USD'), (:q, :x, 'USD')"
            ),
            {"p": payer, "o": owner, "q": payee, "x": str(uuid.uuid4())},
        )
    body = {"from_wallet_id": payer, "to_wallet_id": payee, "amount": 100, "currency": "USD"}
    ids = []
    for _ in range(SCHEDULES):
        schedule = {
            "id": str(uuid.uuid4()), "owner_id": owner, "owner_role": "user",
            "owner_email_verified": True, "kind": "transfer", "body": body, "interval": "PT1S",
            "cron": None, "timezone": "UTC", "start_at": start, "end_at": None,
            "max_runs": MAX_RUNS, "status": "active", "next_run_at": start, "now": start,
        }  # fmt: skip
        ids.append((await store.create(engine, schedule)).id)
    return ids


async def test_two_schedulers_run_each_slot_once_and_a_resubmitted_run_is_the_same_transfer(
    schedulers: list[TransactionApp], stack: StackUnderTest
) -> None:
    # given six due PT1S schedules of three runs each, and two schedulers
    engine = schedulers[0].engine
    owner = str(uuid.uuid4())
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=30)
    ids = await _given_schedules(engine, owner, base)
    first, second = (Scheduler(s, batch=4) for s in schedulers)

    # when both pass over them at once, a second later each time, until nothing is due
    claimed = []
    for step in range(MAX_RUNS + 2):
        now = base + timedelta(seconds=step, milliseconds=500)
        claimed += await asyncio.gather(first.run_due(now), second.run_due(now))
        claimed += await asyncio.gather(first.run_due(now), second.run_due(now))

    # then every (schedule, run) ran once: three runs each, each its own transfer, made
    # as the owner under the run's key, and every schedule is completed
    assert sum(claimed) == SCHEDULES * MAX_RUNS
    runs = await _rows(
        engine,
        "SELECT schedule_id, run, transaction_id, error FROM transactions.schedule_runs "
        "WHERE schedule_id = ANY(:ids) ORDER BY schedule_id, run",
        ids=ids,
    )
    assert [(r.schedule_id, r.run) for r in runs] == [
        (i, n) for i in sorted(ids) for n in range(1, MAX_RUNS + 1)
    ]
    assert all(r.error is None for r in runs)
    expected = {deterministic_id("transfer", owner, key_of(r.schedule_id, r.run)) for r in runs}
    assert {r.transaction_id for r in runs} == expected
    made = await _rows(
        engine, "SELECT id, amount FROM transactions.transactions WHERE owner_id = :o", o=owner
    )
    assert {m.id for m in made} == expected and {m.amount for m in made} == {100}
    statuses = await _rows(
        engine, "SELECT status, runs FROM transactions.schedules WHERE id = ANY(:ids)", ids=ids
    )
    assert {(s.status, s.runs) for s in statuses} == {("completed", MAX_RUNS)}

    # when a scheduler crashed after submitting run 3 of one schedule and before recording
    # it (its record and the schedule's advance lost), and the run is taken again
    again = ids[0]
    async with engine.begin() as conn:
        await conn.execute(
            text("DELETE FROM transactions.schedule_runs WHERE schedule_id = :i AND run = 3"),
            {"i": again},
        )
        await conn.execute(
            text(
                "UPDATE transactions.schedules SET runs = 2, status = 'active', "
                "next_run_at = :at WHERE id = :i"
            ),
            {"i": again, "at": base + timedelta(seconds=3)},
        )
    assert await second.run_due(base + timedelta(seconds=10)) == 1

    # then it is recorded with the same transfer, and no transfer more was made
    redone = await _rows(
        engine,
        "SELECT transaction_id FROM transactions.schedule_runs WHERE schedule_id = :i AND run = 3",
        i=again,
    )
    assert redone[0].transaction_id == deterministic_id("transfer", owner, key_of(again, 3))
    count = await _rows(
        engine, "SELECT count(*) AS n FROM transactions.transactions WHERE owner_id = :o", o=owner
    )
    assert count[0].n == SCHEDULES * MAX_RUNS

    # and, once the decider and the saga worker run, every run's transfer ends (its
    # wallets exist only in the directory: refused), so the tier's log still verifies
    stack.start_apps(["wallet_decider", "transaction_saga"])
    try:
        await wait_for(
            lambda: _all_ended(engine, owner, SCHEDULES * MAX_RUNS), timeout=120, interval=1.0
        )
    finally:
        stack.stop_apps(["wallet_decider", "transaction_saga"])


async def _all_ended(engine: AsyncEngine, owner: str, count: int) -> bool:
    rows = await _rows(
        engine, "SELECT status FROM transactions.transactions WHERE owner_id = :o", o=owner
    )
    return len(rows) == count and all(r.status in TERMINAL for r in rows)
