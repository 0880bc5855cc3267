"""A withdrawal whose hold expires while its payout is out (holds last seven days: the
decider's sweep is told a time past the hold's end, as it would be a week later). The
payout went out, so the wallet is debited all the same, once; a wallet that spent what
the expiry gave back ends `reversal_failed` with its terminal event on both topics. The
verifier reports nothing about either."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from common.settings import Settings
from common.topics import PAYMENT_EVENTS, TRANSACTION_EVENTS, WALLET_EVENTS
from contracts.wallet import ExpireHolds
from infra.testing.api import (
    User,
    add_bank_account,
    deposit,
    money_post,
    open_wallet,
    register,
    settled_balance,
    until_terminal,
)
from infra.testing.kafka import read_topic, send_commands, wait_for
from infra.testing.stack import StackUnderTest
from transaction_svc.domain.withdrawal_holds import HOLD_TTL_MS
from wallet_svc.verify import verify

pytestmark = pytest.mark.e2e

SLOW = {"PAYSTREAM_PGW_LATENCY_MS": "4000"}  # each provider call: the payout stays out
FUNDS = 1_000


@pytest.fixture(scope="module")
def slow_provider(apps: StackUnderTest) -> Iterator[StackUnderTest]:
    """pgw_svc answering each call after SLOW for this module, as before afterwards."""
    apps.restart_app("pgw_svc", env=SLOW)
    yield apps
    apps.restart_app("pgw_svc")


async def _withdrawing(
    api: httpx.AsyncClient, settings: Settings, name: str
) -> tuple[User, str, str]:
    """A user's wallet of FUNDS withdrawing 300 to a bank account, its hold placed and its
    payout out at the provider; the hold then swept away as if a week had passed."""
    user = await register(api, name)
    wallet = await open_wallet(api, user)
    await deposit(api, user, wallet, FUNDS)
    bank = await add_bank_account(api, user)
    body = {"wallet_id": wallet, "amount": 300, "currency": "USD", "payout_method_id": bank}
    r = await money_post(api, user, "/withdrawals", body)
    assert r.status_code == 202, r.text
    tx = str(r.json()["id"])

    async def held() -> bool:
        return "HoldPlaced" in await _types(settings, WALLET_EVENTS, tx)

    await wait_for(held, timeout=30, interval=0.2)
    week_later = int(time.time() * 1000) + HOLD_TTL_MS + 1_000
    sweep = ExpireHolds(command_id=f"sweep:{tx}", wallet_id=wallet, now=week_later)
    await send_commands(settings.kafka_bootstrap, [sweep], "e2e")
    return user, wallet, tx


async def _types(settings: Settings, topic: str, tx: str) -> list[str]:
    """The types of ``tx``'s events on ``topic`` (each event id once), in order."""
    seen: dict[str, str] = {}
    for e in await read_topic(settings.kafka_bootstrap, topic):
        about = e.payload.get("transaction_id") or e.payload.get("payment_id")
        if about == tx:
            seen.setdefault(e.event_id, e.type)
    return list(seen.values())


async def _verified_about(settings: Settings, *ids: str) -> tuple[list[str], list[str]]:
    """The verifier's problems and warnings that name any of ``ids``."""
    report = await verify(settings, wait=60)
    return (
        [p for p in report.problems if any(i in p for i in ids)],
        [w for w in report.warnings if any(i in w for i in ids)],
    )


async def test_a_hold_expired_under_a_payout_is_debited_once_all_the_same(
    slow_provider: StackUnderTest, api: httpx.AsyncClient, settings: Settings
) -> None:
    # given a withdrawal of 300 whose hold expired while its payout was out
    user, wallet, tx = await _withdrawing(api, settings, "expiry-paid")
    # when the payout succeeds
    done = await until_terminal(api, user, tx)
    # then the withdrawal completed: the wallet paid 300 and the fee once, holds nothing
    assert (done["status"], done["failure_reason"]) == ("completed", None), done
    left = FUNDS - 300 - done["fee"]
    await settled_balance(api, user, wallet, left, available=left)
    held = await _types(settings, WALLET_EVENTS, tx)
    assert held == ["HoldPlaced", "HoldExpired", "HoldRejected", "HoldPlaced", "HoldCaptured"]
    # and the world was told once, as for any completed withdrawal
    assert (await _types(settings, TRANSACTION_EVENTS, tx))[-1:] == ["WithdrawalCompleted"]
    assert await _types(settings, PAYMENT_EVENTS, tx) == [
        "WithdrawalInitiated", "WithdrawalFundsHeld", "PayoutSucceeded", "WithdrawalCompleted",
    ]  # fmt: skip
    # and the verifier finds nothing wrong with it
    assert await _verified_about(settings, tx, wallet) == ([], [])


async def test_a_wallet_that_spent_the_expired_hold_ends_reversal_failed_and_told(
    slow_provider: StackUnderTest, api: httpx.AsyncClient, settings: Settings
) -> None:
    # given a withdrawal of 300 whose hold expired while its payout was out
    user, wallet, tx = await _withdrawing(api, settings, "expiry-spent")
    # and the owner spends 900 of what the expiry gave back before the payout answers
    payee = await open_wallet(api, await register(api, "expiry-payee"))
    spend = {"from_wallet_id": wallet, "to_wallet_id": payee, "amount": 900, "currency": "USD"}
    r = await money_post(api, user, "/transfers", spend, wait=10)
    assert r.status_code == 200 and r.json()["status"] == "completed", r.text
    # when the payout succeeds
    done = await until_terminal(api, user, tx)
    # then the withdrawal ends reversal_failed, saying why; the wallet keeps the rest
    assert done["status"] == "reversal_failed", done
    assert done["failure_reason"] == "paid out, rehold insufficient_funds"
    left = FUNDS - 900 - r.json()["fee"]
    await settled_balance(api, user, wallet, left, available=left)
    # and its terminal event is on both topics, once
    assert (await _types(settings, TRANSACTION_EVENTS, tx))[-1:] == ["WithdrawalDebitFailed"]
    assert await _types(settings, PAYMENT_EVENTS, tx) == [
        "WithdrawalInitiated", "WithdrawalFundsHeld", "PayoutSucceeded", "WithdrawalDebitFailed",
    ]  # fmt: skip
    # and the verifier finds no problem, only the money the wallet owes, for an operator
    problems, warnings = await _verified_about(settings, tx)
    assert problems == []
    assert warnings == [
        f"withdrawal {tx}: paid out, {300 + done['fee']} not debited (for an operator)"
    ]
