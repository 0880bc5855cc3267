"""Two instances of every consumer worker share the partitions; one of each of the money
path's (the decider, the projector, the saga worker) is killed -9 while transfers are
sent, and the survivors take its partitions over: every accepted transfer ends, once,
and the ledger verifies."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterator

import httpx
import pytest

from common.settings import Settings
from infra.local.config import SCALED, instance_name
from infra.local.procs import kill9, read_pid
from infra.local.stack import start_app
from infra.testing.api import User, funded_wallets, ledger_total, money_post, until_terminal
from infra.testing.prometheus import scrape
from infra.testing.stack import StackUnderTest
from wallet_svc.verify import verify

pytestmark = pytest.mark.chaos

SECOND = [instance_name(name, 2) for name in SCALED]
KILLED = ("wallet_decider", "wallet_projector", "transaction_saga")
FUNDS = 1_000  # each wallet's deposit
RATE, SECONDS = 20, 15  # transfers a second, for how long
KILL_AFTER_S = 5


@pytest.fixture(scope="module")
def two_of_each(apps: StackUnderTest) -> Iterator[StackUnderTest]:
    """A second instance of every scaled worker beside the first; afterwards the first
    instances run again and the second ones are stopped."""
    apps.start_apps(SECOND)
    yield apps
    for name in KILLED:
        if read_pid(apps.cfg.run_dir / "pids" / f"{name}.pid") is None:
            start_app(apps.cfg, name)
    apps.stop_apps(SECOND)


async def _partitions(port: int) -> set[tuple[str, str]]:
    """The (topic, partition) pairs whose lag the process at ``port`` reports."""
    lags = await scrape(f"http://127.0.0.1:{port}", "paystream_consumer_lag")
    return {(s.labels["topic"], s.labels["partition"]) for s in lags}


async def _until_shared(stack: StackUnderTest, name: str) -> None:
    """Returns once both instances of ``name`` consume partitions, none of them both."""
    deadline = time.monotonic() + 60
    while True:
        first, second = [await _partitions(stack.cfg.port_of(instance_name(name, i)))
                         for i in (1, 2)]  # fmt: skip
        if first and second and not first & second:
            return
        assert time.monotonic() < deadline, f"{name}: {first} and {second} after 60 s"
        await asyncio.sleep(0.5)


async def test_kill_9_one_of_two_instances_mid_load_loses_and_doubles_nothing(
    two_of_each: StackUnderTest, api: httpx.AsyncClient, settings: Settings
) -> None:
    # given two instances of each worker sharing the partitions, and 8 funded wallets
    await asyncio.gather(*(_until_shared(two_of_each, name) for name in KILLED))
    wallets = await funded_wallets(api, ("scale-a", "scale-b"), 8, FUNDS)

    async def transfer(i: int) -> tuple[User, str]:
        await asyncio.sleep(i / RATE)  # open loop: each at its scheduled time
        (user, src), (_, dst) = random.Random(i).sample(wallets, 2)
        body = {"from_wallet_id": src, "to_wallet_id": dst, "amount": 1 + i % 50,
                "currency": "USD"}  # fmt: skip
        r = await money_post(api, user, "/transfers", body)
        assert r.status_code == 202, r.text
        return user, str(r.json()["id"])

    # when transfers are sent for SECONDS and the first instance of the decider, the
    # projector and the saga worker is killed -9 in the middle of it
    sending = asyncio.gather(*(transfer(i) for i in range(RATE * SECONDS)))
    await asyncio.sleep(KILL_AFTER_S)
    for name in KILLED:
        await asyncio.to_thread(kill9, name, two_of_each.cfg.run_dir)
    sent = await sending
    # then every accepted transfer ends (the survivors took the partitions over)
    finals = await asyncio.gather(*(until_terminal(api, u, tx, timeout=180) for u, tx in sent))
    assert {f["status"] for f in finals} <= {"completed", "failed", "reversed"}
    assert sum(f["status"] == "completed" for f in finals) > len(finals) // 2
    # and the log holds one effect per command and one terminal event per request, the
    # money adds up, and the read model equals a replay of the log
    report = await verify(settings, wait=90)
    assert report.ok, report.problems
    assert await ledger_total(api, wallets) == FUNDS * len(wallets)
