"""Card deposits and withdrawals through a slow provider while the provider worker, pgw_svc
or the saga worker is killed -9, and with the provider worker behind a proxy that holds
answers past its timeout, drops connections after forwarding and answers 503 without
forwarding. Whatever happens, every payment ends as its card or bank account says, with
exactly one charge (deposit) or payout (withdrawal) at the provider, one credit per paid
deposit, every hold captured (paid out) or released (refused), nothing held, and the
ledger verified."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import text

from common.db import make_engine
from common.settings import Settings
from infra.local.procs import kill9, read_pid
from infra.local.stack import start_app
from infra.testing.api import (
    CLOSED_IBAN,
    DECLINED_CARD,
    User,
    add_bank_account,
    add_card,
    balance,
    deposit,
    money_post,
    open_wallet,
    register,
    settled_balance,
    until_terminal,
)
from infra.testing.fault_proxy import Fault, FaultProxy
from infra.testing.pgw import pgw_rows
from infra.testing.prometheus import scrape
from infra.testing.stack import StackUnderTest
from wallet_svc.verify import verify

pytestmark = pytest.mark.chaos

SLOW = {"PAYSTREAM_PGW_LATENCY_MS": "700"}  # each provider call; charges stay in flight
FUNDS = 10_000  # each wallet's first deposit
KILLED = ("transaction_provider", "pgw_svc", "transaction_saga")


@pytest.fixture(scope="module")
def slow_provider(apps: StackUnderTest) -> Iterator[StackUnderTest]:
    """pgw_svc taking SLOW per provider call for this module; every process it kills is
    running again afterwards, pgw_svc as before."""
    apps.restart_app("pgw_svc", env=SLOW)
    yield apps
    for name in KILLED:
        if read_pid(apps.cfg.run_dir / "pids" / f"{name}.pid") is None:
            start_app(apps.cfg, name)
    apps.restart_app("pgw_svc")


@dataclass(frozen=True)
class Account:
    """A user's funded wallet with the test cards and bank accounts that always pay and
    that never do."""

    user: User
    wallet: str
    card: str
    bank: str
    declined_card: str
    closed_bank: str


@dataclass(frozen=True)
class Payment:
    account: Account
    kind: str  # "deposit" or "withdrawal"
    id: str
    amount: int
    pays: bool  # by the method that always pays, else by the one that never does

    @property
    def provider_key(self) -> str:
        return f"{self.id}:charge" if self.kind == "deposit" else f"{self.id}:payout"

    @property
    def outcome(self) -> tuple[str, str | None]:
        """The status and failure reason it must end with."""
        if self.pays:
            return "completed", None
        return "failed", "card_declined" if self.kind == "deposit" else "account_closed"

    @property
    def entries(self) -> dict[str, int]:
        """The wallet entries it must leave, by kind, once each."""
        if self.kind == "deposit":
            return {"WalletCredited": 1} if self.pays else {}
        return {"HoldPlaced": 1, "HoldCaptured" if self.pays else "HoldReleased": 1}

    @property
    def moved(self) -> int:
        """What it adds to its wallet's ledger."""
        return 0 if not self.pays else self.amount if self.kind == "deposit" else -self.amount


@pytest.fixture(scope="module")
async def accounts(slow_provider: StackUnderTest, api: httpx.AsyncClient) -> list[Account]:
    users = [await register(api, "faults-a"), await register(api, "faults-b")]

    async def funded(user: User) -> Account:
        wallet = await open_wallet(api, user)
        await deposit(api, user, wallet, FUNDS)
        await settled_balance(api, user, wallet, FUNDS)  # the balances before read it
        card, bank = await add_card(api, user), await add_bank_account(api, user)
        declined = await add_card(api, user, DECLINED_CARD)
        closed = await add_bank_account(api, user, CLOSED_IBAN)
        return Account(user, wallet, card, bank, declined, closed)

    return list(await asyncio.gather(*(funded(users[i % 2]) for i in range(4))))


async def _send(
    api: httpx.AsyncClient, accounts: list[Account], deposits: int, withdrawals: int
) -> list[Payment]:
    """Deposits and withdrawals spread over the accounts, sent at once (each 202); every
    sixth deposit by the declined card, every fourth withdrawal to the closed account."""

    async def one(i: int, kind: str) -> Payment:
        a = accounts[i % len(accounts)]
        amount = (100 if kind == "deposit" else 10) + i
        if kind == "deposit":
            pays = i % 6 != 5
            method = {"payment_method_id": a.card if pays else a.declined_card}
        else:
            pays = i % 4 != 3
            method = {"payout_method_id": a.bank if pays else a.closed_bank}
        body = {"wallet_id": a.wallet, "amount": amount, "currency": "USD", **method}
        r = await money_post(api, a.user, f"/{kind}s", body)
        assert r.status_code == 202, r.text
        return Payment(a, kind, str(r.json()["id"]), amount, pays)

    return list(
        await asyncio.gather(
            *(one(i, "deposit") for i in range(deposits)),
            *(one(i, "withdrawal") for i in range(withdrawals)),
        )
    )


async def _made(settings: Settings, payments: list[Payment]) -> Counter[str]:
    """How many charges, payouts and refunds the provider holds under each payment's keys."""
    ids = {p.id for p in payments}
    rows = await pgw_rows(settings.postgres_dsn)
    return Counter(
        str(r["idempotency_key"])
        for table in ("charges", "payouts", "refunds")
        for r in rows[table]
        if str(r["idempotency_key"]).partition(":")[0] in ids
    )


async def _when_first_made(settings: Settings, payments: list[Payment]) -> None:
    """Returns once the provider has made the first of the payments' charges or payouts."""
    deadline = time.monotonic() + 30
    while not await _made(settings, payments):
        assert time.monotonic() < deadline, "no charge or payout made in 30 s"
        await asyncio.sleep(0.05)


_ENTRIES = text(
    "SELECT transaction_id, kind, count(*) AS n FROM wallets.entries "
    "WHERE transaction_id = ANY(:ids) GROUP BY transaction_id, kind"
)


async def _entries(settings: Settings, payments: list[Payment]) -> dict[str, Counter[str]]:
    """Each payment's wallet entries (the read model) by kind."""
    engine = make_engine(settings.postgres_dsn, pool_size=1)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(_ENTRIES, {"ids": [p.id for p in payments]})
            kinds: dict[str, Counter[str]] = {p.id: Counter() for p in payments}
            for tx, kind, n in rows:
                kinds[tx][kind] = n
            return kinds
    finally:
        await engine.dispose()


async def _balances(api: httpx.AsyncClient, accounts: list[Account]) -> dict[str, int]:
    return {a.wallet: (await balance(api, a.user, a.wallet))["ledger"] for a in accounts}


async def _assert_each_paid_once(
    api: httpx.AsyncClient,
    settings: Settings,
    payments: list[Payment],
    before: dict[str, int],
) -> None:
    """Every payment ended as its method says; one charge or payout each at the provider,
    no refund; its wallet entries once each (a credit per paid deposit, a hold captured or
    released per withdrawal); balances moved by exactly the paid ones, nothing held; the
    ledger verifies."""
    finals = await asyncio.gather(
        *(until_terminal(api, p.account.user, p.id, timeout=120) for p in payments)
    )
    assert {p.id: (f["status"], f["failure_reason"]) for p, f in zip(payments, finals, strict=True)
            } == {p.id: p.outcome for p in payments}  # fmt: skip
    assert await _made(settings, payments) == Counter({p.provider_key: 1 for p in payments})
    report = await verify(settings, wait=60)
    assert report.ok, report.problems
    entries = await _entries(settings, payments)
    assert {p.id: dict(entries[p.id]) for p in payments} == {p.id: p.entries for p in payments}
    for account in {p.account.wallet: p.account for p in payments}.values():
        ledger = before[account.wallet] + sum(
            p.moved for p in payments if p.account.wallet == account.wallet
        )
        assert await settled_balance(api, account.user, account.wallet, ledger) == {
            "ledger": ledger,
            "available": ledger,
        }


@pytest.mark.parametrize("victim", KILLED)
async def test_kill_9_mid_charge_leaves_one_charge_and_one_credit_per_payment(
    slow_provider: StackUnderTest,
    accounts: list[Account],
    api: httpx.AsyncClient,
    settings: Settings,
    victim: str,
) -> None:
    # given deposits and withdrawals in flight through a slow provider
    before = await _balances(api, accounts)
    payments = await _send(api, accounts, deposits=24, withdrawals=12)
    # when the victim is killed -9 once the provider made the first of them, and started
    # again a moment later
    await _when_first_made(settings, payments)
    await asyncio.to_thread(kill9, victim, slow_provider.cfg.run_dir)
    made_at_kill = sum((await _made(settings, payments)).values())
    await asyncio.sleep(0.5)
    env = SLOW if victim == "pgw_svc" else None
    await asyncio.to_thread(start_app, slow_provider.cfg, victim, env)
    # then the kill came in the middle, and every payment was paid exactly once
    assert 0 < made_at_kill < len(payments), f"{made_at_kill} of {len(payments)} made at the kill"
    await _assert_each_paid_once(api, settings, payments, before)


@pytest.fixture
async def proxied_worker(slow_provider: StackUnderTest) -> AsyncIterator[FaultProxy]:
    """The provider worker calling pgw_svc through a fault proxy, with a 2 s timeout
    (a delayed answer comes 3 s after pgw_svc gave it); as before afterwards."""
    async with FaultProxy(slow_provider.cfg.client_env()["PAYSTREAM_PGW_SVC_URL"], 3.0) as proxy:
        env = {"PAYSTREAM_PGW_SVC_URL": proxy.url, "PAYSTREAM_PROVIDER_TIMEOUT_S": "2"}
        await asyncio.to_thread(slow_provider.restart_app, "transaction_provider", None, env)
        try:
            yield proxy
        finally:
            await asyncio.to_thread(slow_provider.restart_app, "transaction_provider")


async def test_provider_timeouts_lost_answers_and_503s_leave_one_charge_and_payout_each(
    proxied_worker: FaultProxy,
    slow_provider: StackUnderTest,
    accounts: list[Account],
    api: httpx.AsyncClient,
    settings: Settings,
) -> None:
    # given a provider whose answers come too late, are lost after it acted, or are 503
    # without it acting, for a quarter of the charges and payouts each
    for fault in Fault:
        proxied_worker.arm(fault, "POST", "/internal/charges", times=3)
        proxied_worker.arm(fault, "POST", "/internal/payouts", times=2)
    before = await _balances(api, accounts)
    # when deposits and withdrawals are made
    payments = await _send(api, accounts, deposits=12, withdrawals=8)
    # then every payment was paid exactly once
    await _assert_each_paid_once(api, settings, payments, before)
    # and each create that met a fault was asked about before it was sent again
    provider = f"http://127.0.0.1:{slow_provider.cfg.worker_ports['transaction_provider']}"
    retries = await scrape(provider, "paystream_provider_calls_retried_total")
    retried = {s.labels["kind"]: s.value for s in retries}
    assert retried.get("ChargeCard", 0) >= 9 and retried.get("SendPayout", 0) >= 6, retried
    for path, faulted in (("/internal/charges", 9), ("/internal/payouts", 6)):
        met = [f for f in Fault if proxied_worker.count("POST", path, f)]
        assert met == list(Fault), (path, proxied_worker.seen)
        assert proxied_worker.count("GET", path) >= faulted
