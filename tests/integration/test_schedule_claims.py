"""The scheduler on real Postgres, Kafka and Redis, its now read from a clock the test moves
(``infra.testing.clock.FakeClock``: no waiting for an occurrence). Each run is submitted
through the transfer POST's own path under the key made of the schedule and its
occurrence, and runs exactly once: over many occurrences of an interval, at a cron's local
times, across a restart of the scheduler between occurrences, with two schedulers passing
at once, and when a run is submitted again after a crash lost its record. Pause and
resume, ``end_at``, ``max_runs`` and the catch-up rule hold as the scheduler applies them.

The runs' transfers stay pending while those tests run (no decider or saga worker: a
failed run would count toward a pause). The last test starts both: every transfer ends
(its wallets are only in the directory: refused), so the tier's log still verifies, and
the scheduler settles the failed runs: each told once on ``transaction-events``
(``ScheduledRunFailed``), the third in a row pausing the schedule (``SchedulePaused``)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from common.db import make_engine
from common.topics import TRANSACTION_EVENTS
from contracts.ids import deterministic_id
from contracts.schedule import ScheduledRunFailed, SchedulePaused
from contracts.time import epoch_ms
from contracts.transaction import decode_transaction_event
from infra.testing.clock import FakeClock
from infra.testing.kafka import read_topic, wait_for
from infra.testing.stack import StackUnderTest
from transaction_svc.app_state import opened_state
from transaction_svc.schedules import store
from transaction_svc.schedules.plan import key_of, resume_at, timing_of
from transaction_svc.schedules.scheduler import Scheduler
from transaction_svc.settings import TransactionSettings
from transaction_svc.status import TERMINAL

pytestmark = pytest.mark.integration


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.fixture(scope="module")
def tx_settings(stack: StackUnderTest) -> TransactionSettings:
    # (a wallet transfer asks no provider: its service client is never used)
    return TransactionSettings(
        service_client_id="schedule-tests", service_client_secret=SecretStr("unused")
    )


@asynccontextmanager
async def scheduler(
    settings: TransactionSettings, clock: FakeClock, batch: int = 50
) -> AsyncIterator[Scheduler]:
    """A scheduler with the command API's state, opened as the scheduler worker opens it,
    and closed when the block ends (a restart: the next one opens everything anew)."""
    async with opened_state(settings) as (state, _):
        yield Scheduler(state, batch=batch, clock=clock)


@pytest.fixture(scope="module")
async def owners(
    stack: StackUnderTest, tx_settings: TransactionSettings
) -> AsyncIterator[list[str]]:
    """The owners of the module's schedules; at its end their transfers are let end.

    A scheduler passes over every due schedule: those an earlier session left active or
    paused (the run dir's Postgres is kept) are deleted first, lest they fall due at the
    times these tests set."""
    engine = make_engine(tx_settings.postgres_dsn, pool_size=2)
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE transactions.schedules SET status = 'deleted', next_run_at = NULL "
                "WHERE status IN ('active', 'paused')"
            )
        )
    made: list[str] = []
    yield made
    stack.start_apps(["wallet_decider", "transaction_saga"])
    try:
        await wait_for(lambda: _all_ended(engine, made), timeout=120, interval=1.0)
    finally:
        await engine.dispose()
        stack.stop_apps(["wallet_decider", "transaction_saga"])


async def _rows(engine: AsyncEngine, sql: str, **params: Any) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(text(sql), params)).all())


async def _all_ended(engine: AsyncEngine, owners: list[str]) -> bool:
    rows = await _rows(
        engine,
        "SELECT status FROM transactions.transactions WHERE owner_id = ANY(:o)",
        o=owners,
    )
    return all(r.status in TERMINAL for r in rows)


async def _owner_with_wallets(engine: AsyncEngine, owners: list[str]) -> tuple[str, str, str]:
    """A new owner with a USD wallet, and a payee's USD wallet (in the directory only)."""
    owner, payer, payee = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO transactions.wallet_directory VALUES (:p, :o, 'USD'), (:q, :x, 'USD')"
            ),
            {"p": payer, "o": owner, "q": payee, "x": str(uuid.uuid4())},
        )
    owners.append(owner)
    return owner, payer, payee


async def _schedule(
    engine: AsyncEngine,
    owner: tuple[str, str, str],
    now: datetime,
    start: datetime,
    *,
    interval: str | None = None,
    cron: str | None = None,
    timezone: str = "UTC",
    end_at: datetime | None = None,
    max_runs: int | None = None,
) -> str:
    """A transfer schedule as ``POST /schedules`` makes it at ``now``."""
    owner_id, payer, payee = owner
    timing = timing_of(interval, cron, timezone, start, 0)
    body = {"from_wallet_id": payer, "to_wallet_id": payee, "amount": 100, "currency": "USD"}
    schedule = {
        "id": str(uuid.uuid4()), "owner_id": owner_id, "owner_role": "user",
        "owner_email_verified": True, "kind": "transfer", "body": body, "interval": interval,
        "cron": cron, "timezone": timezone, "start_at": start, "end_at": end_at,
        "max_runs": max_runs, "status": "active",
        "next_run_at": timing.first_at_or_after(max(start, now)), "now": now,
    }  # fmt: skip
    return str((await store.create(engine, schedule)).id)


async def _runs(engine: AsyncEngine, schedule_id: str) -> list[Any]:
    return await _rows(
        engine,
        "SELECT run, at, transaction_id, error FROM transactions.schedule_runs "
        "WHERE schedule_id = :i ORDER BY run",
        i=schedule_id,
    )


async def _schedule_row(engine: AsyncEngine, schedule_id: str) -> Any:
    return (
        await _rows(
            engine,
            "SELECT status, runs, next_run_at FROM transactions.schedules WHERE id = :i",
            i=schedule_id,
        )
    )[0]


def _made_by(owner: str, schedule_id: str, slots: list[datetime]) -> list[str]:
    """The transfers the runs of ``slots`` make: one per occurrence, under its key."""
    return [deterministic_id("transfer", owner, key_of(schedule_id, s)) for s in slots]


async def _transfers_of(engine: AsyncEngine, owner: str) -> list[Any]:
    return await _rows(
        engine,
        "SELECT id, amount FROM transactions.transactions WHERE owner_id = :o",
        o=owner,
    )


async def _pass_until(
    schedulers: list[Scheduler], clock: FakeClock, every: timedelta, until: datetime
) -> int:
    """Every scheduler passes at once at each tick of the clock; how many runs they made."""
    ran = 0
    while clock() <= until:
        ran += sum(await asyncio.gather(*(s.run_due() for s in schedulers)))
        clock.advance(every)
    return ran


async def test_an_interval_schedule_runs_each_occurrence_once_across_a_restart(
    engine: AsyncEngine, owners: list[str], tx_settings: TransactionSettings
) -> None:
    # given a PT1H schedule of 8 runs from 2031-01-01 00:00, made the evening before
    start = at(2031, 1, 1)
    clock = FakeClock(start - timedelta(hours=3))
    owner = await _owner_with_wallets(engine, owners)
    sid = await _schedule(engine, owner, clock(), start, interval="PT1H", max_runs=8)
    # when a scheduler passes every 20 minutes until 03:10, stops (its state closed),
    # and a new one passes from then on until 09:00
    async with scheduler(tx_settings, clock) as first:
        assert await _pass_until([first], clock, timedelta(minutes=20), at(2031, 1, 1, 3, 10)) == 4
    async with scheduler(tx_settings, clock) as second:
        assert await _pass_until([second], clock, timedelta(minutes=20), at(2031, 1, 1, 9)) == 4
    # then each of the 8 occurrences ran once, at its time, with its own transfer made as
    # the owner under the key of the schedule and the occurrence; the schedule completed
    slots = [start + timedelta(hours=n) for n in range(8)]
    runs = await _runs(engine, sid)
    assert [(r.run, r.at) for r in runs] == list(enumerate(slots, start=1))
    assert [r.transaction_id for r in runs] == _made_by(owner[0], sid, slots)
    made = await _transfers_of(engine, owner[0])
    assert sorted(m.id for m in made) == sorted(_made_by(owner[0], sid, slots))
    assert {m.amount for m in made} == {100}
    done = await _schedule_row(engine, sid)
    assert (done.status, done.runs, done.next_run_at) == ("completed", 8, None)


async def test_a_cron_schedule_runs_at_its_local_times(
    engine: AsyncEngine, owners: list[str], tx_settings: TransactionSettings
) -> None:
    # given "30 9 * * *" in Europe/Berlin (09:30 CET = 08:30 UTC) from 5 March 2031
    start = at(2031, 3, 5)
    clock = FakeClock(start)
    owner = await _owner_with_wallets(engine, owners)
    sid = await _schedule(
        engine, owner, clock(), start, cron="30 9 * * *", timezone="Europe/Berlin"
    )
    # when a scheduler passes every 30 minutes for three days
    async with scheduler(tx_settings, clock) as s:
        await _pass_until([s], clock, timedelta(minutes=30), at(2031, 3, 7, 23))
    # then it ran on each day at 09:30 in Berlin, once, and waits for the fourth
    slots = [at(2031, 3, d, 8, 30) for d in (5, 6, 7)]
    runs = await _runs(engine, sid)
    assert [r.at for r in runs] == slots
    assert [r.transaction_id for r in runs] == _made_by(owner[0], sid, slots)
    assert (await _schedule_row(engine, sid)).next_run_at == at(2031, 3, 8, 8, 30)
    # (deleted, as DELETE does: the module's later tests move their clocks past it)
    gone = {"status": "deleted", "next_run_at": None}
    assert await store.change(engine, sid, owner[0], gone, clock(), ("deleted",))


async def test_two_schedulers_run_each_occurrence_once_and_a_resubmitted_run_is_the_same(
    engine: AsyncEngine, owners: list[str], tx_settings: TransactionSettings
) -> None:
    # given six PT1M schedules of three runs each, and two schedulers (two processes:
    # each its own state) passing over them at once, four claimed at a time
    start = at(2031, 5, 1, 12)
    clock = FakeClock(start)
    owner = await _owner_with_wallets(engine, owners)
    ids = [
        await _schedule(engine, owner, clock(), start, interval="PT1M", max_runs=3)
        for _ in range(6)
    ]
    async with AsyncExitStack() as both:
        first = await both.enter_async_context(scheduler(tx_settings, clock, batch=4))
        second = await both.enter_async_context(scheduler(tx_settings, clock, batch=4))
        # when both pass twice at each 30 seconds for five minutes
        ran = 0
        while clock() <= start + timedelta(minutes=5):
            for _ in range(2):
                ran += sum(await asyncio.gather(first.run_due(), second.run_due()))
            clock.advance(timedelta(seconds=30))
        # then every (schedule, occurrence) ran once, each its own transfer
        assert ran == 6 * 3
        slots = [start + timedelta(minutes=n) for n in range(3)]
        for sid in ids:
            runs = await _runs(engine, sid)
            assert [r.at for r in runs] == slots
            assert [r.transaction_id for r in runs] == _made_by(owner[0], sid, slots)
        made = await _transfers_of(engine, owner[0])
        assert len(made) == 18 == len({m.id for m in made})

        # when a scheduler crashed after submitting the third run of one schedule and
        # before recording it (its record and the schedule's advance lost), and the run
        # is taken again by the other
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
                {"i": again, "at": slots[2]},
            )
        assert await second.run_due() == 1
    # then it is recorded with the same transfer, and no transfer more was made
    assert (await _runs(engine, again))[2].transaction_id == _made_by(owner[0], again, slots)[2]
    assert len(await _transfers_of(engine, owner[0])) == 18


async def test_pause_resume_end_at_and_the_catch_up_rule(
    engine: AsyncEngine, owners: list[str], tx_settings: TransactionSettings
) -> None:
    # given a PT1H schedule from 00:00 ending at 12:00
    start = at(2031, 7, 1)
    clock = FakeClock(start)
    owner = await _owner_with_wallets(engine, owners)
    end = at(2031, 7, 1, 12)
    sid = await _schedule(engine, owner, clock(), start, interval="PT1H", end_at=end)
    async with scheduler(tx_settings, clock) as s:
        every = timedelta(minutes=15)
        # when it runs until 01:30 and is paused, as POST /pause does
        await _pass_until([s], clock, every, at(2031, 7, 1, 1, 30))
        changes = {"status": "paused", "next_run_at": None}
        assert await store.change(engine, sid, owner[0], changes, clock(), ("completed",))
        # and the clock moves on to 04:20 while it is paused
        assert await _pass_until([s], clock, every, at(2031, 7, 1, 4, 20)) == 0
        # and it is resumed, as POST /resume does
        timing = timing_of("PT1H", None, "UTC", start, 0)
        upcoming = resume_at(timing, clock(), 2, None, end)
        resumed = {"status": "active", "next_run_at": upcoming}
        assert await store.change(engine, sid, owner[0], resumed, clock(), ("completed",))
        await _pass_until([s], clock, every, at(2031, 7, 1, 6, 5))
        # and then nothing runs from 06:05 until 09:40 (everything was down)
        clock.set(at(2031, 7, 1, 9, 40))
        await _pass_until([s], clock, every, at(2031, 7, 1, 14))
    # then it ran at 00:00 and 01:00, not while paused (02:00 to 04:00), from 05:00 on,
    # once for the stretch missed while down (07:00, run at 09:40), then on time until
    # 12:00 (its end, an occurrence), and is completed
    hours = [0, 1, 5, 6, 7, 10, 11, 12]
    runs = await _runs(engine, sid)
    assert [r.at for r in runs] == [at(2031, 7, 1, h) for h in hours]
    done = await _schedule_row(engine, sid)
    assert (done.status, done.runs, done.next_run_at) == ("completed", 8, None)


async def _settle_all(s: Scheduler) -> None:
    while await s.settle():
        pass


async def _told(settings: TransactionSettings, schedule_id: str) -> list[Any]:
    """The scheduler's messages about ``schedule_id`` on transaction-events, decoded."""
    key = f"schedule:{schedule_id}"
    envelopes = await read_topic(
        settings.kafka_bootstrap, TRANSACTION_EVENTS, lambda e: e.key == key
    )
    return [(e.event_id, decode_transaction_event(e.payload)) for e in envelopes]


async def test_failed_runs_are_told_once_and_the_third_in_a_row_pauses_the_schedule(
    engine: AsyncEngine, owners: list[str], tx_settings: TransactionSettings,
    stack: StackUnderTest,
) -> None:  # fmt: skip
    # given the decider and the saga worker running (every transfer of these wallets,
    # known only to the directory, is refused: failed), a PT1M schedule, and one whose
    # payer's wallet is someone else's (refused when submitted)
    stack.start_apps(["wallet_decider", "transaction_saga"])
    start = at(2031, 9, 1, 8)
    clock = FakeClock(start)
    owner = await _owner_with_wallets(engine, owners)
    sid = await _schedule(engine, owner, clock(), start, interval="PT1M")
    other = await _owner_with_wallets(engine, owners)
    foreign = await _schedule(engine, (other[0], owner[1], other[2]), clock(), start,
                              interval="PT1M", max_runs=1)  # fmt: skip
    async with scheduler(tx_settings, clock) as s:
        # when each minute a run is made, its transfer ends, and the scheduler settles
        for _ in range(4):
            await s.run_due()
            await wait_for(lambda: _all_ended(engine, [owner[0]]), timeout=120, interval=0.2)
            await _settle_all(s)
            clock.advance(timedelta(minutes=1))
        # and settles again (nothing more to tell)
        await _settle_all(s)
    # then three runs were made, each failed and told once, and the third paused it
    runs = await _runs(engine, sid)
    assert [r.run for r in runs] == [1, 2, 3]
    told = await _told(tx_settings, sid)
    assert len({event_id for event_id, _ in told}) == len(told) == 4
    failed = [m for _, m in told if isinstance(m, ScheduledRunFailed)]
    assert [(m.run, m.reason, m.owner_id, m.amount, m.currency) for m in failed] == [
        (n, "wallet_not_found", owner[0], 100, "USD") for n in (1, 2, 3)
    ]
    assert [m.transaction_id for m in failed] == [r.transaction_id for r in runs]
    assert [m.occurrence for m in failed] == [epoch_ms(r.at) for r in runs]
    [paused] = [m for _, m in told if isinstance(m, SchedulePaused)]
    assert (paused.run, paused.failures, paused.reason) == (3, 3, "wallet_not_found")
    row = await _schedule_row(engine, sid)
    assert (row.status, row.runs, row.next_run_at) == ("paused", 3, None)
    # and the run refused when submitted is told with its problem code and no transfer
    [(_, refused)] = await _told(tx_settings, foreign)
    assert isinstance(refused, ScheduledRunFailed)
    assert (refused.run, refused.reason, refused.transaction_id) == (1, "wallet_not_found", "")
    assert refused.owner_id == other[0]
