"""kill -9 the decider, the saga worker and the projector with transfers in flight."""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import httpx
import pytest

from common.settings import Settings
from infra.local.procs import kill9
from infra.local.stack import start_app
from infra.testing.api import User, funded_wallets, ledger_total, money_post, until_terminal
from infra.testing.stack import StackUnderTest
from wallet_svc.verify import verify

pytestmark = pytest.mark.chaos
WORKERS = ("wallet_decider", "transaction_saga", "wallet_projector")


async def test_crash_everything_mid_flight(
    apps: StackUnderTest, api: httpx.AsyncClient, settings: Settings
) -> None:
    # given 8 funded wallets of two users
    wallets = await funded_wallets(api, ("chaos-a", "chaos-b"), 8, 1_000)

    async def transfer(i: int) -> tuple[User, str]:
        (user, src), (_, dst) = random.Random(i).sample(wallets, 2)
        amount = random.Random(i).randint(1, 90)
        body = {"from_wallet_id": src, "to_wallet_id": dst, "amount": amount, "currency": "USD"}
        r = await money_post(api, user, "/transfers", body)
        assert r.status_code == 202, r.text
        return user, str(r.json()["id"])

    # when 300 transfers are in flight and every worker is killed -9, then restarted
    sending = asyncio.gather(*(transfer(i) for i in range(300)))
    await asyncio.sleep(1.0)
    for name in WORKERS:
        kill9(name, apps.cfg.run_dir)
    await asyncio.sleep(1.0)
    for name in WORKERS:
        start_app(apps.cfg, name)
    sent = await sending
    # then every transfer reaches a terminal state
    finals = await asyncio.gather(*(until_terminal(api, u, tx, timeout=180) for u, tx in sent))
    assert set(Counter(f["status"] for f in finals)) <= {"completed", "failed"}
    # and no money was made or lost: the wallets still hold 8 x 1000 between them
    report = await verify(settings, wait=60)
    assert await ledger_total(api, wallets) == 8_000
    # and the read model equals a replay of the log, with no posting applied twice
    assert report.ok, report.problems
