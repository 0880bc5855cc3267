"""``paystream dlq replay`` of dead-lettered events on the running e2e stack: an event the
balance projector could not apply (Postgres refused its entry) goes, once the cause is
fixed, through that projector again, and only through it; its effect shows once, however
often the replay is run and even when the replayed record comes twice."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from aiokafka import ConsumerRecord
from sqlalchemy import text

from common.db import make_engine
from common.kafka.producer import make_producer
from common.settings import Settings
from common.topics import WALLET_EVENTS, dlq, replay
from infra.testing.api import deposit, open_wallet, register, settled_balance
from infra.testing.kafka import read_records, wait_for
from infra.testing.operator import paystream
from infra.testing.sql import scalar
from infra.testing.stack import StackUnderTest
from wallet_svc.projector import GROUP

pytestmark = pytest.mark.e2e


@asynccontextmanager
async def entries_refused(settings: Settings, wallet: str) -> AsyncIterator[None]:
    """A poison condition: Postgres refuses every entry of ``wallet`` (a trigger) until
    the block ends (the cause fixed)."""
    name = f"refuse_{uuid.uuid4().hex[:12]}"
    engine = make_engine(settings.postgres_dsn, pool_size=1)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(
                f"CREATE FUNCTION public.{name}() RETURNS trigger LANGUAGE plpgsql AS "
                f"$$ BEGIN RAISE EXCEPTION 'entries of {wallet} refused'; END $$"
            ))  # fmt: skip
            await conn.execute(text(
                f"CREATE TRIGGER {name} BEFORE INSERT ON wallets.entries FOR EACH ROW "
                f"WHEN (NEW.wallet_id = '{wallet}') EXECUTE FUNCTION public.{name}()"
            ))  # fmt: skip
        yield
    finally:
        async with engine.begin() as conn:
            await conn.execute(text(f"DROP TRIGGER IF EXISTS {name} ON wallets.entries"))
            await conn.execute(text(f"DROP FUNCTION IF EXISTS public.{name}()"))
        await engine.dispose()


async def entries(settings: Settings, wallet: str) -> int:
    sql = "SELECT count(*) FROM wallets.entries WHERE wallet_id = :w"
    return int(await scalar(settings, (sql, {"w": wallet})))


async def dead_letters_of(settings: Settings, wallet: str) -> list[ConsumerRecord[bytes, bytes]]:
    records = await read_records(settings.kafka_bootstrap, dlq(WALLET_EVENTS))
    return [r for r in records if r.key == wallet.encode()]


async def test_a_dead_lettered_event_is_replayed_once_to_the_projector_it_failed_in(
    apps: StackUnderTest, api: httpx.AsyncClient, settings: Settings
) -> None:
    # given a deposit into a wallet whose entries Postgres refuses
    user = await register(api, "replayed")
    wallet = await open_wallet(api, user)
    async with entries_refused(settings, wallet):
        paid = await deposit(api, user, wallet, 5_000)

        # then the balance projector dead-letters the credit, naming itself
        async def dead_lettered() -> list[ConsumerRecord[bytes, bytes]]:
            return await dead_letters_of(settings, wallet)

        await wait_for(dead_lettered, timeout=60)
        dead = await dead_letters_of(settings, wallet)
        assert {dict(r.headers)["dlq_group"] for r in dead} == {GROUP.encode()}
        assert b"refused" in dict(dead[0].headers)["dlq_error"]
        assert (await settled_balance(api, user, wallet, 0))["ledger"] == 0
        shown = paystream("dlq", "show", WALLET_EVENTS, "--limit", "100000")
        assert shown.returncode == 0 and GROUP in shown.stdout, shown.stdout + shown.stderr
    # when the cause is fixed and the operator replays wallet-events' dead letters
    run = paystream("dlq", "replay", WALLET_EVENTS)
    assert run.returncode == 0, run.stdout + run.stderr
    # then the projector applies the credit: the balance shows the deposit once
    expected = paid["amount"] - (paid.get("fee") or 0)
    assert (await settled_balance(api, user, wallet, expected))["ledger"] == expected
    assert await entries(settings, wallet) == len(dead)
    assert await dead_letters_of(settings, wallet) == []

    # when the replay is run again, and the replayed record arrives a second time
    again = paystream("dlq", "replay", WALLET_EVENTS)
    assert again.returncode == 0 and "replayed 0 records" in again.stdout, again.stdout
    replayed = [
        r
        for r in await read_records(settings.kafka_bootstrap, replay(WALLET_EVENTS))
        if r.key == wallet.encode()
    ]
    assert len(replayed) == len(dead)
    producer = make_producer(settings.kafka_bootstrap, "event-replay-test")
    await producer.start()
    try:
        copy = replayed[-1]
        sent = await producer.send_and_wait(
            copy.topic,
            copy.value,
            key=copy.key,
            partition=copy.partition,
            headers=list(copy.headers),
        )
    finally:
        await producer.stop()

    async def passed_over() -> bool:
        stored = await scalar(settings, (
            "SELECT next_offset FROM wallets.offsets WHERE consumer = 'balance' "
            "AND topic = :t AND partition = :p", {"t": sent.topic, "p": sent.partition},
        ))  # fmt: skip
        return (stored or 0) > sent.offset

    await wait_for(passed_over, timeout=60)
    # then nothing changed: the entry is keyed by its event id, the balance is the same
    assert await entries(settings, wallet) == len(dead)
    assert (await settled_balance(api, user, wallet, expected))["ledger"] == expected
    # and the read model is what a rebuild from the log makes
    rebuilt = paystream("rebuild")
    assert rebuilt.returncode == 0 and "differ" not in rebuilt.stdout, rebuilt.stdout
