"""Kafka, Postgres and Redis each restarted while transfers are sent: the processes heal
without a restart of their own, every request a client keeps retrying under its key is
accepted and ends, once, the ledger verifies, after Kafka came back a money request is
accepted at once (the producers send again), and after Redis came back ``Prefer: wait``
is woken by the saga's notice again (not by its timeout)."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from dataclasses import dataclass

import httpx
import pytest

from common.settings import Settings
from infra.local.backing import restart_backing
from infra.testing.api import User, funded_wallets, until_terminal
from infra.testing.stack import StackUnderTest
from wallet_svc.verify import verify

pytestmark = pytest.mark.chaos

FUNDS = 1_000  # each wallet's deposit
RATE, SECONDS = 20, 12  # transfers a second, for how long
RESTART_AFTER_S = 3
ACCEPT_WITHIN_S = 90  # a client retries a refused request under its key this long
WAIT_S = 8  # Prefer: wait of the requests after a Redis restart


@dataclass(frozen=True)
class Funded:
    users: list[User]
    wallets: list[tuple[User, str]]


@pytest.fixture(scope="module")
async def funded(apps: StackUnderTest, api: httpx.AsyncClient) -> Funded:
    if apps.mode != "local":
        pytest.skip(f"restarts the launcher's backing services; this session's are {apps.mode}")
    wallets = await funded_wallets(api, ("restart-a", "restart-b"), 6, FUNDS)
    return Funded([user for user, _ in wallets[:2]], wallets)


async def _accepted(api: httpx.AsyncClient, user: User, body: dict[str, object]) -> str:
    """The id of a transfer, once accepted (202): a refused or dropped request is sent
    again under the same Idempotency-Key, as a client does."""
    headers = {**user.auth, "Idempotency-Key": str(uuid.uuid4())}
    deadline = time.monotonic() + ACCEPT_WITHIN_S
    while True:
        try:
            r = await api.post("/transfers", json=body, headers=headers)
            if r.status_code in (200, 202):
                return str(r.json()["id"])
            assert r.status_code in (429, 500, 502, 503, 504), r.text
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"not accepted in {ACCEPT_WITHIN_S} s"
        await asyncio.sleep(0.5)


async def _load_with_restart(
    stack: StackUnderTest, api: httpx.AsyncClient, funded: Funded, service: str
) -> list[tuple[User, str]]:
    """Transfers at RATE for SECONDS, ``service`` restarted RESTART_AFTER_S into them."""

    async def transfer(i: int) -> tuple[User, str]:
        await asyncio.sleep(i / RATE)  # open loop: each at its scheduled time
        (user, src), (_, dst) = random.Random(i).sample(funded.wallets, 2)
        body = {"from_wallet_id": src, "to_wallet_id": dst, "amount": 1 + i % 40,
                "currency": "USD"}  # fmt: skip
        return user, await _accepted(api, user, body)

    sending = asyncio.gather(*(transfer(i) for i in range(RATE * SECONDS)))
    await asyncio.sleep(RESTART_AFTER_S)
    await asyncio.to_thread(restart_backing, stack.cfg, service)
    return list(await sending)


async def _assert_all_ended_once(
    api: httpx.AsyncClient, settings: Settings, funded: Funded, sent: list[tuple[User, str]]
) -> None:
    finals = await asyncio.gather(*(until_terminal(api, u, tx, timeout=120) for u, tx in sent))
    assert {f["status"] for f in finals} <= {"completed", "failed", "reversed"}
    report = await verify(settings, wait=90)
    assert report.ok, report.problems
    ledgers = [await _ledger(api, user, wallet) for user, wallet in funded.wallets]
    assert sum(ledgers) == FUNDS * len(funded.wallets)


async def _ledger(api: httpx.AsyncClient, user: User, wallet: str) -> int:
    """The wallet's ledger balance, asked again after a 5xx: without a ping before each
    checkout, the first statement on each pooled connection of a restarted Postgres fails
    (docs/architecture.md), and a client reads again."""
    for _ in range(10):
        r = await api.get(f"/wallets/{wallet}", headers=user.auth)
        if r.status_code < 500:
            break
        await asyncio.sleep(0.5)
    assert r.status_code == 200, r.text
    return int(r.json()["balance"]["ledger"])


async def test_kafka_restart_mid_load_every_transfer_ends_once_and_money_is_sent_again(
    apps: StackUnderTest, api: httpx.AsyncClient, settings: Settings, funded: Funded
) -> None:
    # given funded wallets; when transfers are sent and the broker restarts among them
    sent = await _load_with_restart(apps, api, funded, "kafka")
    # then every transfer was accepted and ended, once, and the ledger verifies
    await _assert_all_ended_once(api, settings, funded, sent)
    # and the command API's producer sends again: transfers are accepted at the first try
    # and end (an idempotent aiokafka producer could fail every send after the restart)
    (user, src), (_, dst) = funded.wallets[0], funded.wallets[1]
    body = {"from_wallet_id": src, "to_wallet_id": dst, "amount": 1, "currency": "USD"}
    for _ in range(3):
        r = await api.post(
            "/transfers", json=body, headers={**user.auth, "Idempotency-Key": str(uuid.uuid4())}
        )
        assert r.status_code == 202, r.text
        final = await until_terminal(api, user, str(r.json()["id"]), timeout=60)
        assert final["status"] == "completed", final


async def test_postgres_restart_mid_load_every_transfer_ends_once_and_every_api_reads_again(
    apps: StackUnderTest, api: httpx.AsyncClient, settings: Settings, funded: Funded
) -> None:
    # given funded wallets; when transfers are sent and Postgres restarts among them
    sent = await _load_with_restart(apps, api, funded, "postgres")
    # then every transfer was accepted and ended, once, and the ledger verifies
    await _assert_all_ended_once(api, settings, funded, sent)
    # and every API on Postgres answers again, each after at most its one failed statement
    # (no ping before a checkout: docs/architecture.md), so the tests after these find
    # the stack as it was
    user = funded.users[0]
    login = {"email": user.email, "password": user.password}
    for method, path, body in [
        ("POST", "/auth/login", login),  # user_svc
        ("GET", "/wallets", None),  # wallet_svc (a single wallet may come from its cache)
        ("GET", "/transactions", None),  # transaction_svc
        ("GET", "/payment-methods", None),  # pgw_svc
    ]:
        statuses: list[int] = []
        while len(statuses) < 3 and (not statuses or statuses[-1] >= 500):
            r = await api.request(method, path, json=body, headers=user.auth)
            statuses.append(r.status_code)
        assert statuses in ([200], [503, 200]), (path, statuses, r.text)  # never a 500


async def test_redis_restart_mid_load_and_prefer_wait_is_woken_again(
    apps: StackUnderTest, api: httpx.AsyncClient, settings: Settings, funded: Funded
) -> None:
    # given funded wallets; when transfers are sent and Redis restarts among them
    sent = await _load_with_restart(apps, api, funded, "redis")
    # then every transfer was accepted and ended, once, and the ledger verifies
    await _assert_all_ended_once(api, settings, funded, sent)
    # and a login (user_svc keeps its throttle in Redis) passes at the first try: a
    # connection Redis dropped is replaced, not failed (common/redis.py)
    (user, src), (_, dst) = funded.wallets[0], funded.wallets[1]
    r = await api.post("/auth/login", json={"email": user.email, "password": user.password})
    assert r.status_code == 200, r.text
    # and a transfer with Prefer: wait is answered completed on the saga's notice, well
    # before its wait ran out (a lost subscription would answer only at the timeout)
    body = {"from_wallet_id": src, "to_wallet_id": dst, "amount": 1, "currency": "USD"}
    for _ in range(3):
        headers = {**user.auth, "Idempotency-Key": str(uuid.uuid4()), "Prefer": f"wait={WAIT_S}"}
        started = time.monotonic()
        r = await api.post("/transfers", json=body, headers=headers)
        took = time.monotonic() - started
        assert r.status_code == 200 and r.json()["status"] == "completed", r.text
        assert took < WAIT_S / 2, f"answered after {took:.1f} s: woken by the timeout"
