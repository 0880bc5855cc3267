"""Fees and limits through the gateway: a fee set by an admin is charged with the movement
and shown on it, reaches system:fees and is audited; a deposit's and a card payment's fee
is charged to the card on top of the amount, a withdrawal's held with it and moved when
the payout is made; a daily limit holds however many requests race for it, a failed
transaction gives its share back, and every refusal moves nothing. Fees are set in
currencies no other test moves (DKK, NOK, SEK): the schedule is shared by the whole
stack; limits are set for one user at a time."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from typing import Any

import httpx
import pytest

from common.settings import Settings
from common.signatures import sign
from common.topics import PAYMENT_EVENTS
from infra.testing.api import (
    ASYNC_CARD,
    CLOSED_IBAN,
    User,
    add_bank_account,
    add_card,
    balance,
    deposit,
    funded_user,
    money_post,
    open_wallet,
    pay_merchant,
    register,
    settled_balance,
    until_terminal,
)
from infra.testing.kafka import read_topic, wait_for
from infra.testing.ledger import system_balances
from wallet_svc.verify import verify

pytestmark = pytest.mark.e2e


async def _set(
    api: httpx.AsyncClient, who: User, path: str, body: dict[str, Any]
) -> httpx.Response:
    return await api.put(path, json=body, headers=who.auth)


def _transfer(src: str, dst: str, amount: int, currency: str = "USD") -> dict[str, Any]:
    return {"from_wallet_id": src, "to_wallet_id": dst, "amount": amount, "currency": currency}


async def test_a_transfer_fee_is_charged_with_the_transfer_and_shown_on_it(
    api: httpx.AsyncClient, admin: User
) -> None:
    # given a DKK transfer fee of 1.5 % + 25, at least 30, at most 2_000
    rule = {"transaction_type": "transfer", "currency": "DKK", "basis_points": 150,
            "fixed": 25, "minimum": 30, "maximum": 2_000}  # fmt: skip
    r = await _set(api, admin, "/admin/fees", rule)
    assert r.status_code == 200, r.text
    assert r.json()["updated_by"] == admin.id
    user, src, dst = await funded_user(api, "payer", 10_000, "DKK")
    # when 1_001 is transferred
    r = await money_post(api, user, "/transfers", _transfer(src, dst, 1_001, "DKK"), wait=15)
    # then the fee is ceil(15.015) + 25 = 41, the source paid 1_042 and the payee got 1_001
    assert r.status_code == 200 and r.json()["status"] == "completed", r.text
    assert r.json()["fee"] == 41
    assert (await settled_balance(api, user, src, 10_000 - 1_042))["ledger"] == 8_958
    assert (await settled_balance(api, user, dst, 1_001))["ledger"] == 1_001
    shown = await api.get(f"/transactions/{r.json()['id']}", headers=user.auth)
    assert shown.json()["fee"] == 41
    # and anyone signed in reads the schedule
    fees = (await api.get("/fees", headers=user.auth)).json()["items"]
    assert {k: v for k, v in next(
        f for f in fees if (f["transaction_type"], f["currency"]) == ("transfer", "DKK")
    ).items() if k in rule} == rule  # fmt: skip


async def test_the_fee_counts_toward_what_the_payer_must_have(
    api: httpx.AsyncClient, admin: User
) -> None:
    # given the DKK fee (at least 30) and a payer with exactly 1_000
    rule = {"transaction_type": "transfer", "currency": "DKK", "basis_points": 150,
            "fixed": 25, "minimum": 30, "maximum": 2_000}  # fmt: skip
    assert (await _set(api, admin, "/admin/fees", rule)).status_code == 200
    user, src, dst = await funded_user(api, "short", 1_000, "DKK")
    # when all 1_000 is transferred
    r = await money_post(api, user, "/transfers", _transfer(src, dst, 1_000, "DKK"), wait=15)
    # then it fails for want of the fee, and nothing moved
    assert r.status_code == 200 and r.json()["status"] == "failed", r.text
    assert r.json()["failure_reason"] == "insufficient_funds"
    assert (await balance(api, user, src))["ledger"] == 1_000
    assert (await balance(api, user, dst))["ledger"] == 0


async def test_a_wallet_payment_fee_is_paid_by_the_payer_and_not_refunded(
    api: httpx.AsyncClient, admin: User
) -> None:
    # given a NOK payment fee of 2 % and a merchant and a payer in NOK
    rule = {"transaction_type": "payment", "currency": "NOK", "basis_points": 200}
    assert (await _set(api, admin, "/admin/fees", rule)).status_code == 200
    shop = await register(api, "shop", role="merchant")
    shop_wallet = await open_wallet(api, shop, "NOK")
    payer, wallet, _ = await funded_user(api, "buyer", 5_000, "NOK")
    body = {"merchant_id": shop.id, "order_id": f"o-{uuid.uuid4().hex[:8]}",
            "amount": 1_000, "currency": "NOK", "from_wallet_id": wallet}  # fmt: skip
    # when the payer pays 1_000 (the merchant is known once user-events are projected)
    r = await pay_merchant(api, payer, body)
    # then the payer paid 1_020, the merchant got 1_000
    assert r.status_code == 200 and r.json()["status"] == "completed", r.text
    assert r.json()["fee"] == 20
    assert (await settled_balance(api, payer, wallet, 3_980))["ledger"] == 3_980
    assert (await settled_balance(api, shop, shop_wallet, 1_000))["ledger"] == 1_000
    # and a full refund gives back the 1_000, not the fee
    refund = await money_post(api, shop, f"/payments/{r.json()['id']}/refunds", {}, wait=15)
    assert refund.status_code == 200 and refund.json()["status"] == "completed", refund.text
    assert refund.json()["fee"] == 0
    assert (await settled_balance(api, payer, wallet, 4_980))["ledger"] == 4_980
    assert (await settled_balance(api, shop, shop_wallet, 0))["ledger"] == 0


async def _fees_in(settings: Settings, currency: str) -> int:
    """What system:fees holds in ``currency``, as the read model shows it."""
    return (await system_balances(settings, "system:fees")).get(currency, 0)


async def _fees_reach(settings: Settings, currency: str, expected: int) -> None:
    async def reached() -> bool:
        return await _fees_in(settings, currency) == expected

    await wait_for(reached, timeout=30, interval=0.2)


async def _charge_of(settings: Settings, payment_id: str) -> dict[str, Any]:
    """The ChargeSucceeded of a deposit or card payment, as payment-events carries it."""
    keyed = await read_topic(
        settings.kafka_bootstrap, PAYMENT_EVENTS, lambda e: e.key == payment_id
    )
    (charge,) = [e.payload for e in keyed if e.type == "ChargeSucceeded"]
    return dict(charge)


async def _signed_callback(settings: Settings, callback: dict[str, Any]) -> httpx.Response:
    """``callback`` POSTed to transaction_svc as the provider signs it."""
    body = json.dumps(callback).encode()
    secret = settings.provider_callback_secret.get_secret_value().encode()
    headers = {"content-type": "application/json",
               "Paystream-Signature": sign(secret, int(time.time()), body)}  # fmt: skip
    url = f"{settings.transaction_svc_url}/internal/provider/callbacks"
    async with httpx.AsyncClient() as client:
        return await client.post(url, content=body, headers=headers)


SEK_DEPOSIT = {"transaction_type": "deposit", "currency": "SEK", "basis_points": 100, "fixed": 30}


async def test_a_deposit_fee_is_charged_to_the_card_and_the_wallet_gets_the_amount(
    api: httpx.AsyncClient, admin: User, settings: Settings
) -> None:
    # given a SEK deposit fee of 1 % + 30
    assert (await _set(api, admin, "/admin/fees", SEK_DEPOSIT)).status_code == 200
    user = await register(api, "sek-depositor")
    wallet = await open_wallet(api, user, "SEK")
    fees = await _fees_in(settings, "SEK")
    # (the provider's maximum, 10^8, holds for the card's whole charge, fee included)
    body = {"wallet_id": wallet, "amount": 100_000_000, "currency": "SEK",
            "payment_method_id": await add_card(api, user)}  # fmt: skip
    over = await money_post(api, user, "/deposits", body, wait=15)
    assert (over.status_code, over.json()["code"]) == (422, "amount_too_large"), over.text
    # when 10_000 is deposited from a card
    body["amount"] = 10_000
    r = await money_post(api, user, "/deposits", body, wait=15)
    # then the fee is 100 + 30, the card was charged 10_130, the wallet got 10_000
    assert r.status_code == 200 and r.json()["status"] == "completed", r.text
    assert r.json()["fee"] == 130
    assert (await api.get(f"/transactions/{r.json()['id']}", headers=user.auth)).json()[
        "fee"
    ] == 130
    charge = await _charge_of(settings, r.json()["id"])
    assert (charge["amount"], charge["fee"]) == (10_000, 130)
    assert (await settled_balance(api, user, wallet, 10_000))["ledger"] == 10_000
    # and the fee reached system:fees
    await _fees_reach(settings, "SEK", fees + 130)
    # and a card the provider decides later is charged 5_080 too: its signed callback
    # names amount + fee, and the wallet gets 5_000
    body |= {"amount": 5_000, "payment_method_id": await add_card(api, user, ASYNC_CARD)}
    later = await money_post(api, user, "/deposits", body)
    assert later.status_code == 202, later.text
    done = await until_terminal(api, user, later.json()["id"])
    assert (done["status"], done["fee"]) == ("completed", 80), done
    charge = await _charge_of(settings, later.json()["id"])
    assert (charge["amount"], charge["fee"]) == (5_000, 80)
    assert (await settled_balance(api, user, wallet, 15_000))["ledger"] == 15_000
    await _fees_reach(settings, "SEK", fees + 130 + 80)
    # and a signed callback for it that names the amount without the fee is refused
    callback = {"charge_id": str(uuid.uuid4()), "idempotency_key": f"{done['id']}:charge",
                "status": "captured", "currency": "SEK"}  # fmt: skip
    answers = [await _signed_callback(settings, callback | {"amount": n}) for n in (5_000, 5_080)]
    assert [a.status_code for a in answers] == [422, 204], [a.text for a in answers]
    assert answers[0].json()["code"] == "amount_mismatch"
    # and the one refused over the maximum left no transaction
    listed = await api.get("/transactions", params={"wallet_id": wallet}, headers=user.auth)
    assert [t["amount"] for t in listed.json()["items"]] == [5_000, 10_000]


async def test_a_withdrawal_holds_its_fee_with_it_and_a_failed_payout_releases_both(
    api: httpx.AsyncClient, admin: User, settings: Settings
) -> None:
    # given a SEK withdrawal fee of 50 and a wallet of 10_000 SEK (deposited, fee 130)
    rule = {"transaction_type": "withdrawal", "currency": "SEK", "fixed": 50}
    for fee in (SEK_DEPOSIT, rule):
        assert (await _set(api, admin, "/admin/fees", fee)).status_code == 200
    fees = await _fees_in(settings, "SEK")
    user = await register(api, "sek-withdrawer")
    wallet = await open_wallet(api, user, "SEK")
    await deposit(api, user, wallet, 10_000, "SEK")
    bank = await add_bank_account(api, user, currency="SEK")
    # when 4_000 is withdrawn
    body = {"wallet_id": wallet, "amount": 4_000, "currency": "SEK", "payout_method_id": bank}
    r = await money_post(api, user, "/withdrawals", body, wait=15)
    # then the bank account was paid 4_000 and the wallet gave 4_050
    assert r.status_code == 200 and r.json()["status"] == "completed", r.text
    assert r.json()["fee"] == 50
    settled = await settled_balance(api, user, wallet, 5_950, available=5_950)
    assert (settled["ledger"], settled["available"]) == (5_950, 5_950)
    await _fees_reach(settings, "SEK", fees + 130 + 50)
    # and a payout that fails releases the amount and the fee: nothing moved
    closed = await add_bank_account(api, user, CLOSED_IBAN, "SEK")
    failed = await money_post(
        api, user, "/withdrawals", body | {"amount": 1_000, "payout_method_id": closed}, wait=15
    )
    assert failed.status_code == 200 and failed.json()["status"] == "failed", failed.text
    # and all that is left cannot be withdrawn with its fee on top
    short = await money_post(api, user, "/withdrawals", body | {"amount": 5_950}, wait=15)
    assert short.status_code == 200 and short.json()["status"] == "failed", short.text
    assert short.json()["failure_reason"] == "insufficient_funds"
    settled = await settled_balance(api, user, wallet, 5_950, available=5_950)
    assert (settled["ledger"], settled["available"]) == (5_950, 5_950)
    assert await _fees_in(settings, "SEK") == fees + 130 + 50
    # and the verifier finds every fee moved once, and only for what completed
    report = await verify(settings, wait=60)
    assert report.ok, report.format()


async def test_a_card_payment_fee_is_charged_on_top_and_the_merchant_gets_the_amount(
    api: httpx.AsyncClient, admin: User, settings: Settings
) -> None:
    # given a SEK payment fee of 2.5 %, a merchant with a SEK wallet and a payer's card
    rule = {"transaction_type": "payment", "currency": "SEK", "basis_points": 250}
    assert (await _set(api, admin, "/admin/fees", rule)).status_code == 200
    fees = await _fees_in(settings, "SEK")
    shop = await register(api, "sek-shop", role="merchant")
    shop_wallet = await open_wallet(api, shop, "SEK")
    payer = await register(api, "sek-buyer")
    body = {"merchant_id": shop.id, "order_id": f"o-{uuid.uuid4().hex[:8]}",
            "amount": 2_000, "currency": "SEK",
            "payment_method_id": await add_card(api, payer)}  # fmt: skip
    # when the payer pays 2_000 by card
    r = await pay_merchant(api, payer, body)
    # then the card was charged 2_050, the merchant got 2_000 and system:fees 50
    assert r.status_code == 200 and r.json()["status"] == "completed", r.text
    assert r.json()["fee"] == 50
    charge = await _charge_of(settings, r.json()["id"])
    assert (charge["amount"], charge["fee"]) == (2_000, 50)
    assert (await settled_balance(api, shop, shop_wallet, 2_000))["ledger"] == 2_000
    await _fees_reach(settings, "SEK", fees + 50)
    # and a full refund gives the card the 2_000 back, not the fee
    refund = await money_post(api, shop, f"/payments/{r.json()['id']}/refunds", {}, wait=15)
    assert refund.status_code == 200 and refund.json()["status"] == "completed", refund.text
    assert (refund.json()["amount"], refund.json()["fee"]) == (2_000, 0)
    assert (await settled_balance(api, shop, shop_wallet, 0))["ledger"] == 0
    assert await _fees_in(settings, "SEK") == fees + 50
    report = await verify(settings, wait=60)
    assert report.ok, report.format()


async def test_thirty_concurrent_transfers_of_ten_against_a_daily_limit_of_a_hundred(
    api: httpx.AsyncClient, admin: User
) -> None:
    # given a user with 1_000 and a daily transfer limit of 100 set for them alone
    user, src, dst = await funded_user(api, "limited", 1_000, "USD")
    limit = {"transaction_type": "transfer", "currency": "USD", "user_id": user.id,
             "daily": 100}  # fmt: skip
    assert (await _set(api, admin, "/admin/limits", limit)).status_code == 200
    # when 30 transfers of 10 are sent at once, each under its own key
    answers = await asyncio.gather(
        *(money_post(api, user, "/transfers", _transfer(src, dst, 10)) for _ in range(30))
    )
    # then exactly 10 were accepted, 20 refused limit_exceeded naming the limit
    statuses = Counter(a.status_code for a in answers)
    assert statuses == {202: 10, 422: 20}, [a.text for a in answers]
    refused = [a.json() for a in answers if a.status_code == 422]
    assert {(p["code"], p["limit"], p["remaining"], p["limit_type"]) for p in refused} == {
        ("limit_exceeded", 100, 0, "daily")
    }
    # and exactly 100 moved, and the caller's limits show the day used up
    assert (await settled_balance(api, user, dst, 100))["ledger"] == 100
    assert (await balance(api, user, src))["ledger"] == 900
    mine = (await api.get("/limits", headers=user.auth)).json()
    transfer = next(i for i in mine["items"] if i["transaction_type"] == "transfer")
    assert (transfer["daily"], transfer["used_today"], transfer["remaining_today"]) == (100, 100, 0)
    assert transfer["source"] == "user"


async def test_a_failed_transfer_gives_its_share_of_the_day_back(
    api: httpx.AsyncClient, admin: User
) -> None:
    # given a user with 50 and a daily limit of 100
    user, src, dst = await funded_user(api, "unlucky", 50, "USD")
    limit = {"transaction_type": "transfer", "currency": "USD", "user_id": user.id,
             "daily": 100, "per_transaction": 80}  # fmt: skip
    assert (await _set(api, admin, "/admin/limits", limit)).status_code == 200
    # when a transfer of 80 fails for want of funds
    r = await money_post(api, user, "/transfers", _transfer(src, dst, 80), wait=15)
    assert r.status_code == 200 and r.json()["status"] == "failed", r.text
    # then the day's use is back to 0, and 81 is over the per-transaction maximum
    mine = (await api.get("/limits", headers=user.auth)).json()["items"]
    assert [(i["used_today"], i["remaining_today"]) for i in mine] == [(0, 100)]
    over = await money_post(api, user, "/transfers", _transfer(src, dst, 81))
    assert over.status_code == 422 and over.json()["code"] == "limit_exceeded", over.text
    assert (over.json()["limit"], over.json()["limit_type"]) == (80, "per_transaction")
    listed = await api.get("/transactions", params={"wallet_id": src, "type": "transfer"},
                           headers=user.auth)  # fmt: skip
    assert [t["amount"] for t in listed.json()["items"]] == [80]  # the refused one: no record


async def test_a_deposit_over_the_limit_is_refused_and_charges_nothing(
    api: httpx.AsyncClient, admin: User
) -> None:
    # given a user whose deposits are limited to 5_000 a day
    user = await register(api, "depositor")
    wallet = await open_wallet(api, user)
    limit = {"transaction_type": "deposit", "currency": "USD", "user_id": user.id,
             "daily": 5_000}  # fmt: skip
    assert (await _set(api, admin, "/admin/limits", limit)).status_code == 200
    await deposit(api, user, wallet, 4_000)
    # when 1_001 more is deposited
    card = user.cards[next(iter(user.cards))]
    body = {"wallet_id": wallet, "amount": 1_001, "currency": "USD", "payment_method_id": card}
    r = await money_post(api, user, "/deposits", body, wait=15)
    # then it is refused with what is left, and only the first 4_000 reached the wallet
    assert r.status_code == 422 and r.json()["code"] == "limit_exceeded", r.text
    assert (r.json()["limit"], r.json()["remaining"]) == (5_000, 1_000)
    assert (await settled_balance(api, user, wallet, 4_000))["ledger"] == 4_000


async def test_fees_and_limits_are_changed_by_admins_only_and_checked(
    api: httpx.AsyncClient, admin: User
) -> None:
    user = await register(api, "nobody")
    fee = {"transaction_type": "transfer", "currency": "DKK", "basis_points": 10_000}
    limit = {"transaction_type": "transfer", "currency": "USD", "role": "user", "daily": 1}
    # a user may not change them
    for path, body in (("/admin/fees", fee), ("/admin/limits", limit)):
        r = await _set(api, user, path, body)
        assert r.status_code == 403 and r.json()["code"] == "forbidden", r.text
    # bad entries are 422 and change nothing
    bad = [
        ("/admin/fees", fee | {"basis_points": 10_001}),
        ("/admin/fees", fee | {"minimum": 50, "maximum": 40}),
        ("/admin/fees", fee | {"fixed": -1}),
        ("/admin/fees", fee | {"fixed": 1.5}),
        ("/admin/fees", fee | {"transaction_type": "refund"}),  # refunds carry no fee
        ("/admin/limits", limit | {"user_id": user.id}),  # a role and a user
        ("/admin/limits", limit | {"daily": 0}),
        ("/admin/limits", {k: v for k, v in limit.items() if k != "role"}),
    ]
    for path, body in bad:
        r = await _set(api, admin, path, body)
        assert r.status_code == 422, (body, r.text)
    fees = (await api.get("/fees", headers=user.auth)).json()["items"]
    assert not any(f["basis_points"] == 10_000 for f in fees)
    assert (await api.get("/limits", headers=user.auth)).json()["items"] == []
    # and without a token, nothing is read
    assert (await api.get("/fees")).status_code == 401


async def test_a_fee_change_is_in_the_audit_log_with_the_admin_who_made_it(
    api: httpx.AsyncClient, admin: User
) -> None:
    # given an admin's change of the NOK payment fee to 2 %
    rule = {"transaction_type": "payment", "currency": "NOK", "basis_points": 200}
    assert (await _set(api, admin, "/admin/fees", rule)).status_code == 200
    # then the audit log records it (a slow answer of the audit API is asked again)
    found: list[dict[str, Any]] = []
    for _ in range(150):
        r = await api.get("/audit/logs", params={"type": "FeeScheduleChanged"}, headers=admin.auth)
        assert r.status_code in (200, 504), r.text
        if r.status_code == 200:
            found = [i for i in r.json()["items"] if i["data"]["currency"] == "NOK"]
        if found:
            break
        await asyncio.sleep(0.2)
    assert found, "no FeeScheduleChanged of NOK in the audit log"
    # with the admin who made it as its actor
    record = found[0]
    assert record["actor"]["kind"] == "admin" and record["actor"]["id"] == admin.id
    assert record["data"]["transaction_type"] == "payment"
    assert record["data"]["basis_points"] == 200
