"""Decider snapshots: a rebuild from a snapshot plus the tail equals a replay from zero."""

from __future__ import annotations

import os
import uuid
from collections import Counter

import pytest
from sqlalchemy import text

from common.db import make_engine
from common.settings import Settings
from common.topics import WALLET_EVENTS
from contracts.wallet import (
    CreditWallet,
    DebitWallet,
    OpenWallet,
    WalletCommand,
)
from infra.local.procs import kill9
from infra.local.stack import start_app
from infra.testing.kafka import read_topic, send_commands, wait_for, wallet_in
from infra.testing.stack import StackUnderTest
from wallet_svc import snapshots
from wallet_svc.decider_worker import rebuild_partition

pytestmark = pytest.mark.integration


async def _send(settings: Settings, commands: list[WalletCommand]) -> None:
    await send_commands(settings.kafka_bootstrap, commands, "it")


def _debit(wallet: str, n: int) -> DebitWallet:
    return DebitWallet(command_id=f"snap-d{n}:{wallet}", wallet_id=wallet, transaction_id=f"t{n}",
                       amount=1, currency="USD", counter_account="system:in_transit")  # fmt: skip


async def test_rebuild_from_snapshot_equals_full_replay(
    stack: StackUnderTest, settings: Settings
) -> None:
    # given a decider that snapshots every 0.2 s, and a wallet with some history
    os.environ["PAYSTREAM_DECIDER_SNAPSHOT_INTERVAL_S"] = "0.2"
    try:
        stack.start_apps(["wallet_decider"])
        stack.restart_app("wallet_decider")
    finally:
        del os.environ["PAYSTREAM_DECIDER_SNAPSHOT_INTERVAL_S"]
    wallet = str(uuid.uuid4())
    await _send(settings, [
        OpenWallet(command_id=f"open:{wallet}", wallet_id=wallet, owner_id="u", currency="USD"),
        CreditWallet(command_id=f"fund:{wallet}", wallet_id=wallet, transaction_id="f",
                     amount=50, currency="USD", counter_account="system:settlement:it"),
        *[_debit(wallet, n) for n in range(20)],
    ])  # fmt: skip

    async def events_of() -> list:  # type: ignore[type-arg]
        return await read_topic(settings.kafka_bootstrap, WALLET_EVENTS, lambda e: e.key == wallet)

    async def decided(n: int) -> bool:
        return Counter(e.type for e in await events_of())["WalletDebited"] == n

    await wait_for(lambda: decided(20), timeout=60)
    first = (await events_of())[0]
    engine = make_engine(settings.postgres_dsn)
    partition = -1

    async def snapshotted() -> bool:
        nonlocal partition
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    text("SELECT partition, next_offset FROM wallets.decider_snapshots")
                )
            ).all()
        for p, _ in rows:
            _, states = await snapshots.load(engine, p)
            if wallet in states and states[wallet].ledger == 30:
                partition = p
                return True
        return False

    await wait_for(snapshotted, timeout=30)
    # when the partition is rebuilt from the snapshot + tail, the log goes on (another
    # wallet of the partition is opened), and the same prefix is replayed from offset zero
    offset, snap = await snapshots.load(engine, partition)
    from_snapshot, end = await rebuild_partition(settings.kafka_bootstrap, partition, offset, snap)
    other = wallet_in(partition, settings.kafka_partitions)
    await _send(settings, [
        OpenWallet(command_id=f"open:{other}", wallet_id=other, owner_id="u", currency="USD"),
    ])  # fmt: skip

    async def other_opened() -> bool:
        return bool(await read_topic(settings.kafka_bootstrap, WALLET_EVENTS,
                                     lambda e: e.key == other))  # fmt: skip

    await wait_for(other_opened, timeout=30)
    from_zero, _ = await rebuild_partition(settings.kafka_bootstrap, partition, end=end)
    # then both give the same states, exactly those below the cut, and the snapshot
    # really skipped history
    assert 0 < offset <= end
    assert from_snapshot == from_zero and other not in from_zero
    assert from_zero[wallet].ledger == 30 and first.payload["type"] == "WalletOpened"
    # and after a crash the new owner (starting from the snapshot) keeps every rule:
    kill9("wallet_decider", stack.cfg.run_dir)
    start_app(stack.cfg, "wallet_decider")
    await _send(settings, [_debit(wallet, n) for n in range(15, 60)])  # 5 resent, 40 new

    async def all_decided() -> bool:  # open, fund and 60 debits: each has its outcome
        return len({e.payload["command_id"] for e in await events_of()}) == 62

    await wait_for(all_decided, timeout=60)  # not just 50 debits: rejections come after
    events = await events_of()
    assert Counter(e.payload["command_id"] for e in events).most_common(1)[0][1] == 1
    assert Counter(e.type for e in events)["WalletDebited"] == 50
    rejected = [e for e in events if e.type == "DebitRejected"]
    assert len(rejected) == 10 and {e.payload["reason"] for e in rejected} == {"insufficient_funds"}
    await engine.dispose()
