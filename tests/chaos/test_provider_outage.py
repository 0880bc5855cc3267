"""A deposit and a withdrawal whose provider is down past their deadline: while pgw_svc
cannot be reached neither ends (the outcome is unknown: a charge or payout may exist), and
once it answers again it fails both (``deadline_passed``: they would be made after the
deadline), so the deposit credits nothing, the withdrawal's hold is released, and the
balance is as before."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from common.settings import Settings
from common.topics import PAYMENT_EVENTS
from infra.local.procs import kill9
from infra.local.stack import start_app
from infra.testing.api import (
    add_bank_account,
    add_card,
    balance,
    deposit,
    money_post,
    open_wallet,
    register,
    settled_balance,
    transaction,
    until_terminal,
)
from infra.testing.kafka import read_topic
from infra.testing.pgw import pgw_rows
from infra.testing.stack import StackUnderTest
from wallet_svc.verify import verify

pytestmark = pytest.mark.chaos

DEADLINE_S = 3  # the provider worker's, for this module
SLOW = {"PAYSTREAM_PGW_LATENCY_MS": "2000"}  # a create is decided 2 s after it arrives
FUNDS = 1_000


@pytest.fixture(scope="module")
def short_deadline(apps: StackUnderTest) -> Iterator[StackUnderTest]:
    """The provider worker giving charges and payouts DEADLINE_S, pgw_svc answering
    after SLOW; both as before afterwards (pgw_svc started again if a test killed it)."""
    deadline = {"PAYSTREAM_PROVIDER_DEADLINE_S": str(DEADLINE_S)}
    apps.restart_app("transaction_provider", env=deadline)
    apps.restart_app("pgw_svc", env=SLOW)
    yield apps
    apps.restart_app("pgw_svc")
    apps.restart_app("transaction_provider")


async def test_a_provider_down_past_the_deadline_fails_both_and_moves_no_money(
    short_deadline: StackUnderTest, api: httpx.AsyncClient, settings: Settings
) -> None:
    # given a funded wallet with a card and a bank account
    user = await register(api, "outage")
    wallet = await open_wallet(api, user)
    await deposit(api, user, wallet, FUNDS)
    card, bank = await add_card(api, user), await add_bank_account(api, user)
    before = await settled_balance(api, user, wallet, FUNDS)
    # when a deposit and a withdrawal are accepted and pgw_svc is killed before it
    # decides either (each create waits SLOW there first)
    money = {"wallet_id": wallet, "amount": 300, "currency": "USD"}
    posts = [("/deposits", money | {"payment_method_id": card}),
             ("/withdrawals", money | {"payout_method_id": bank})]  # fmt: skip
    answers = [await money_post(api, user, path, body) for path, body in posts]
    assert [r.status_code for r in answers] == [202, 202], [r.text for r in answers]
    ids = [str(r.json()["id"]) for r in answers]
    await asyncio.to_thread(kill9, "pgw_svc", short_deadline.cfg.run_dir)
    # then past the deadline, the provider still down, neither has ended: the deposit
    # waits for its charge's answer, the withdrawal (its hold placed) for its payout's
    await asyncio.sleep(DEADLINE_S + 2)
    statuses = [(await transaction(api, user, tx))["status"] for tx in ids]
    assert statuses == ["pending", "processing"]
    # when pgw_svc is started again
    await asyncio.to_thread(start_app, short_deadline.cfg, "pgw_svc", SLOW)
    # then both fail deadline_passed, with their failed terminal events
    finals = [await until_terminal(api, user, tx, timeout=60) for tx in ids]
    assert [(f["status"], f["failure_reason"]) for f in finals] == [
        ("failed", "deadline_passed"), ("failed", "deadline_passed")]  # fmt: skip
    events = await read_topic(settings.kafka_bootstrap, PAYMENT_EVENTS)
    ended = {e.payload["payment_id"]: e.type for e in events
             if e.type in ("DepositFailed", "WithdrawalFailed")}  # fmt: skip
    assert [ended.get(tx) for tx in ids] == ["DepositFailed", "WithdrawalFailed"]
    # and the provider stored both failed, moving nothing
    rows = await pgw_rows(settings.postgres_dsn)
    made = {str(r["idempotency_key"]): (r["status"], r["failure_reason"])
            for table in ("charges", "payouts") for r in rows[table]}  # fmt: skip
    assert [made.get(key) for key in (f"{ids[0]}:charge", f"{ids[1]}:payout")] == [
        ("failed", "deadline_passed"), ("failed", "deadline_passed")]  # fmt: skip
    # and nothing was credited, the hold released: the balance is as before
    assert await settled_balance(api, user, wallet, FUNDS, available=FUNDS) == before
    assert await balance(api, user, wallet) == {"ledger": FUNDS, "available": FUNDS}
    report = await verify(settings, wait=60)
    assert report.ok, report.problems
