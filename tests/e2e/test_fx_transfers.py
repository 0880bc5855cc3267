"""Transfers that convert, through the gateway: a quote's transfer moves from_amount (+
fee) out of the payer's wallet into system:fx in the source currency and to_amount out of
system:fx into the payee's wallet in the target currency; the fee charged is the quote's
and reaches system:fees in the source currency; a used, expired or foreign quote is a 409
and moves nothing; a credit the payee's wallet refuses gives the payer everything back; a
transfer between currencies without a quote stays a 422; and the verifier finds every
currency balanced."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from common.db import make_engine
from common.settings import Settings
from infra.testing.api import (
    User,
    deposit,
    money_post,
    open_wallet,
    register,
    settled_balance,
    until_terminal,
)
from infra.testing.ledger import system_balances
from wallet_svc.verify import verify

pytestmark = pytest.mark.e2e


async def _quote(
    api: httpx.AsyncClient, user: User, amount: int, pair: tuple[str, str] = ("CAD", "AUD")
) -> dict[str, Any]:
    body = {"from_currency": pair[0], "to_currency": pair[1], "amount": amount}
    r = await api.post("/fx/quotes", json=body, headers=user.auth)
    assert r.status_code == 201, r.text
    return dict(r.json())


def _transfer(src: str, dst: str, quote: dict[str, Any]) -> dict[str, Any]:
    return {"from_wallet_id": src, "to_wallet_id": dst, "amount": quote["from_amount"],
            "currency": quote["from_currency"], "quote_id": quote["id"]}  # fmt: skip


async def _expire(settings: Settings, quote_id: str) -> None:
    engine = make_engine(settings.postgres_dsn, pool_size=1)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "UPDATE transactions.fx_quotes SET expires_at = now() - interval '1 second' "
                    "WHERE id = :q"
                ),
                {"q": quote_id},
            )
    finally:
        await engine.dispose()


async def test_a_quote_s_transfer_converts_once_and_every_currency_balances(
    api: httpx.AsyncClient, admin: User, settings: Settings
) -> None:
    # given a payer with 500.00 CAD, a payee with an AUD wallet, CAD and AUD rates set
    rates = {"rates": {"CAD": "1.35", "AUD": "1.5"}}
    assert (await api.put("/admin/fx/rates", json=rates, headers=admin.auth)).status_code == 200
    payer, payee = await register(api, "fx-payer"), await register(api, "fx-payee")
    src = await open_wallet(api, payer, "CAD")
    dst = await open_wallet(api, payee, "AUD")
    await deposit(api, payer, src, 50_000, "CAD")
    fx_before = await system_balances(settings, "system:fx")
    # when the payer quotes 123.45 CAD in AUD and transfers with the quote
    quote = await _quote(api, payer, 12_345)
    key = "fx-transfer-1"
    r = await money_post(api, payer, "/transfers", _transfer(src, dst, quote), key=key, wait=15)
    # then it completes: the payer paid from_amount + fee, the payee got to_amount
    assert r.status_code == 200 and r.json()["status"] == "completed", r.text
    done = r.json()
    assert done["conversion"] == {"quote_id": quote["id"], "to_amount": quote["to_amount"],
                                  "to_currency": "AUD"}  # fmt: skip
    paid = quote["from_amount"] + done["fee"]
    assert (await settled_balance(api, payer, src, 50_000 - paid))["ledger"] == 50_000 - paid
    got = await settled_balance(api, payee, dst, quote["to_amount"])
    assert got["ledger"] == quote["to_amount"] > 0
    # through system:fx, each currency on its own (the fee went on to system:fees)
    fx_after = await system_balances(settings, "system:fx")
    assert fx_after.get("CAD", 0) - fx_before.get("CAD", 0) == quote["from_amount"]
    assert fx_after.get("AUD", 0) - fx_before.get("AUD", 0) == -quote["to_amount"]

    # when the same request is sent again under its key: the first answer, nothing more
    again = await money_post(api, payer, "/transfers", _transfer(src, dst, quote), key=key)
    assert again.headers.get("Idempotent-Replayed") == "true" and again.json()["id"] == done["id"]
    # when the used quote is sent under another key: 409, nothing moved
    r = await money_post(api, payer, "/transfers", _transfer(src, dst, quote))
    assert (r.status_code, r.json()["code"]) == (409, "quote_used"), r.text
    # when an expired quote is used: 409, nothing moved
    expired = await _quote(api, payer, 1_000)
    await _expire(settings, expired["id"])
    r = await money_post(api, payer, "/transfers", _transfer(src, dst, expired))
    assert (r.status_code, r.json()["code"]) == (409, "quote_expired"), r.text
    # when someone else's quote is used: 409, as for none at all
    stranger = await register(api, "fx-stranger")
    theirs = await _quote(api, stranger, 1_000)
    r = await money_post(api, payer, "/transfers", _transfer(src, dst, theirs))
    assert (r.status_code, r.json()["code"]) == (409, "quote_unknown"), r.text
    # when the body does not say what the quote converts: 422
    mine = await _quote(api, payer, 2_000)
    r = await money_post(api, payer, "/transfers", _transfer(src, dst, mine) | {"amount": 2_001})
    assert (r.status_code, r.json()["code"]) == (422, "quote_mismatch"), r.text
    # when the payee's wallet is not in the quote's target currency: 422
    other = await open_wallet(api, payee, "EUR")
    r = await money_post(api, payer, "/transfers", _transfer(src, other, mine))
    assert (r.status_code, r.json()["code"]) == (422, "quote_currency_mismatch"), r.text
    # when money is sent across currencies without a quote: still 422
    plain = {"from_wallet_id": src, "to_wallet_id": dst, "amount": 100, "currency": "CAD"}
    r = await money_post(api, payer, "/transfers", plain)
    assert (r.status_code, r.json()["code"]) == (422, "cross_currency_unsupported"), r.text
    # then none of the refusals moved anything (the unused quote is still good)
    assert (await settled_balance(api, payer, src, 50_000 - paid))["ledger"] == 50_000 - paid
    assert (await settled_balance(api, payee, dst, quote["to_amount"]))["ledger"] == got["ledger"]
    assert await system_balances(settings, "system:fx") == fx_after


async def test_a_conversion_the_payee_s_wallet_refuses_is_reversed_and_the_log_verifies(
    api: httpx.AsyncClient, admin: User, settings: Settings
) -> None:
    # given a payee whose AUD wallet an admin froze
    payer, payee = await register(api, "fx-payer"), await register(api, "fx-payee")
    src = await open_wallet(api, payer, "CAD")
    dst = await open_wallet(api, payee, "AUD")
    await deposit(api, payer, src, 10_000, "CAD")
    r = await api.post(f"/wallets/{dst}/freeze", headers=admin.auth)
    assert r.status_code == 200 and r.json()["status"] == "frozen", r.text
    fx_before = await system_balances(settings, "system:fx")
    # when the payer converts 50.00 CAD to it
    quote = await _quote(api, payer, 5_000)
    r = await money_post(api, payer, "/transfers", _transfer(src, dst, quote))
    assert r.status_code == 202, r.text
    ended = await until_terminal(api, payer, r.json()["id"])
    # then the credit is refused and the payer has everything back, system:fx too
    assert (ended["status"], ended["failure_reason"]) == ("reversed", "wallet_frozen")
    assert (await settled_balance(api, payer, src, 10_000))["ledger"] == 10_000
    assert await system_balances(settings, "system:fx") == fx_before
    # and the verifier finds every currency's postings balanced, system:fx included
    report = await verify(settings, wait=60)
    assert report.ok, report.format()


async def test_of_transfers_racing_for_one_quote_exactly_one_converts(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    # given a payer with 100.00 CAD and one quote of 10.00 CAD in AUD
    payer, payee = await register(api, "fx-racer"), await register(api, "fx-payee")
    src = await open_wallet(api, payer, "CAD")
    dst = await open_wallet(api, payee, "AUD")
    await deposit(api, payer, src, 10_000, "CAD")
    quote = await _quote(api, payer, 1_000)
    # when 10 transfers with it are sent at once, each under its own key
    sent = await asyncio.gather(
        *(money_post(api, payer, "/transfers", _transfer(src, dst, quote)) for _ in range(10))
    )
    # then one is accepted and nine are refused as used, recording nothing
    codes = Counter(r.json().get("code", r.status_code) for r in sent)
    assert codes == Counter({202: 1, "quote_used": 9}), [r.text for r in sent]
    accepted = next(r for r in sent if r.status_code == 202).json()
    assert (await until_terminal(api, payer, accepted["id"]))["status"] == "completed"
    paid = quote["from_amount"] + accepted["fee"]
    assert (await settled_balance(api, payer, src, 10_000 - paid))["ledger"] == 10_000 - paid
    got = await settled_balance(api, payee, dst, quote["to_amount"])
    assert got["ledger"] == quote["to_amount"]
    listed = await api.get("/transactions", params={"wallet_id": src}, headers=payer.auth)
    assert [t["type"] for t in listed.json()["items"]] == ["transfer", "deposit"]


async def test_the_quote_s_fee_is_charged_and_reaches_system_fees_in_the_payer_s_currency(
    api: httpx.AsyncClient, admin: User, settings: Settings
) -> None:
    # given a PLN transfer fee of 1 % + 7 (PLN: a currency no other test moves), a payer
    # with 500.00 PLN and a payee with a CZK wallet
    fee_rule = {"transaction_type": "transfer", "currency": "PLN", "basis_points": 100,
                "fixed": 7, "minimum": 0}  # fmt: skip
    assert (await api.put("/admin/fees", json=fee_rule, headers=admin.auth)).status_code == 200
    payer, payee = await register(api, "fx-fee-payer"), await register(api, "fx-fee-payee")
    src = await open_wallet(api, payer, "PLN")
    dst = await open_wallet(api, payee, "CZK")
    await deposit(api, payer, src, 50_000, "PLN")
    # when the payer quotes 200.00 PLN in CZK (fee 200 + 7), then the admin raises the fee
    quote = await _quote(api, payer, 20_000, ("PLN", "CZK"))
    assert quote["fee"] == 207
    raised = fee_rule | {"basis_points": 0, "fixed": 999}
    assert (await api.put("/admin/fees", json=raised, headers=admin.auth)).status_code == 200
    fx_before = await system_balances(settings, "system:fx")
    fees_before = await system_balances(settings, "system:fees")
    try:
        r = await money_post(
            api, payer, "/transfers", _transfer(src, dst, quote), key="fx-fee-1", wait=15
        )
    finally:
        zero = fee_rule | {"basis_points": 0, "fixed": 0}
        assert (await api.put("/admin/fees", json=zero, headers=admin.auth)).status_code == 200
    # then the transfer charged the quote's fee, not the one in force at its acceptance
    assert r.status_code == 200 and r.json()["status"] == "completed", r.text
    assert r.json()["fee"] == 207
    assert (await settled_balance(api, payer, src, 50_000 - 20_207))["ledger"] == 29_793
    assert (await settled_balance(api, payee, dst, quote["to_amount"]))["ledger"] > 0
    # and the fee reached system:fees in PLN; system:fx kept only the amount in PLN
    fees_after = await system_balances(settings, "system:fees")
    fx_after = await system_balances(settings, "system:fx")
    assert fees_after.get("PLN", 0) - fees_before.get("PLN", 0) == 207
    assert fx_after.get("PLN", 0) - fx_before.get("PLN", 0) == 20_000
    assert fx_after.get("CZK", 0) - fx_before.get("CZK", 0) == -quote["to_amount"]
    # and the verifier finds every currency balanced and every fee where it was said to go
    report = await verify(settings, wait=60)
    assert report.ok, report.format()
