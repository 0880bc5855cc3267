"""The verifier over everything the e2e tier did: the replayed log equals the read model,
and every transfer, deposit and withdrawal ended as its money says (wallet_svc.verify)."""

from __future__ import annotations

import httpx
import pytest

from common.settings import Settings
from infra.testing.api import (
    CLOSED_IBAN,
    DECLINED_CARD,
    add_bank_account,
    add_card,
    deposit,
    money_post,
    open_wallet,
    register,
    until_terminal,
)
from wallet_svc.verify import verify

pytestmark = pytest.mark.e2e


@pytest.mark.last  # replays what the whole e2e tier produced
async def test_the_whole_log_verifies_after_the_tier(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    # given (besides all the other e2e tests did) a paid and a declined deposit, and a
    # withdrawal paid out and one whose payout failed
    user = await register(api, "verified")
    wallet = await open_wallet(api, user)
    await deposit(api, user, wallet, 10_000)
    declined = {"wallet_id": wallet, "amount": 500, "currency": "USD",
                "payment_method_id": await add_card(api, user, DECLINED_CARD)}  # fmt: skip
    sent = [await money_post(api, user, "/deposits", declined)]
    for iban in (None, CLOSED_IBAN):
        bank = await add_bank_account(api, user, *([iban] if iban else []))
        body = {"wallet_id": wallet, "amount": 700, "currency": "USD", "payout_method_id": bank}
        sent.append(await money_post(api, user, "/withdrawals", body))
    assert [r.status_code for r in sent] == [202, 202, 202], [r.text for r in sent]
    ends = [await until_terminal(api, user, r.json()["id"]) for r in sent]
    assert [e["status"] for e in ends] == ["failed", "completed", "failed"]
    # when the verifier replays every topic from the beginning
    report = await verify(settings, wait=60)
    # then it finds no violation, and it saw these payments
    assert report.ok, report.format()
    assert report.counts["deposits"] >= 2 and report.counts["withdrawals"] >= 2
