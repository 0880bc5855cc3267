"""Payments to merchants from a wallet or a card and their refunds, as payers, merchants, admins and
an outside subscriber see them through the gateway: one payment per order however many
race for it, refunds never above what was paid however many race, the 4xx answers that
move nothing, and the payment-events each publishes."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from common.settings import Settings
from common.topics import PAYMENT_EVENTS
from infra.testing.api import (
    DECLINED_CARD,
    User,
    add_card,
    deposit,
    money_post,
    open_wallet,
    pay_merchant,
    register,
    settled_balance,
    until_terminal,
)
from infra.testing.kafka import read_topic, wait_for

pytestmark = pytest.mark.e2e


@dataclass
class Merchant:
    user: User
    id: str
    wallet: str


@dataclass
class Payer:
    user: User
    wallet: str


async def _merchant(api: httpx.AsyncClient) -> Merchant:
    user = await register(api, "shop", role="merchant")
    return Merchant(user, user.id, await open_wallet(api, user))


async def _payer(api: httpx.AsyncClient, funds: int) -> Payer:
    user = await register(api, "buyer")
    wallet = await open_wallet(api, user)
    if funds:
        await deposit(api, user, wallet, funds)
    return Payer(user, wallet)


def _order(
    merchant: Merchant, payer: Payer, amount: int, order: str | None = None
) -> dict[str, Any]:
    return {
        "merchant_id": merchant.id,
        "order_id": order or f"order-{uuid.uuid4().hex[:8]}",
        "amount": amount,
        "currency": "USD",
        "from_wallet_id": payer.wallet,
        "customer_email": "ada@example.com",
        "metadata": {"cart": "c-1"},
    }


async def _pay(
    api: httpx.AsyncClient, payer: Payer, body: dict[str, Any], wait: int = 15
) -> httpx.Response:
    return await pay_merchant(api, payer.user, body, wait)


async def _paid(api: httpx.AsyncClient, merchant: Merchant, payer: Payer, amount: int) -> str:
    r = await _pay(api, payer, _order(merchant, payer, amount))
    assert r.status_code == 200 and r.json()["status"] == "completed", r.text
    return str(r.json()["id"])


async def _refund(
    api: httpx.AsyncClient, who: User, payment: str, body: dict[str, Any], wait: int = 0
) -> httpx.Response:
    return await money_post(api, who, f"/payments/{payment}/refunds", body, wait=wait)


async def _payment(api: httpx.AsyncClient, who: User, payment: str) -> httpx.Response:
    return await api.get(f"/payments/{payment}", headers=who.auth)


async def test_a_wallet_payment_pays_the_merchant_and_each_party_sees_it(
    api: httpx.AsyncClient, admin: User
) -> None:
    # given a merchant with a USD wallet and a payer with 10_000
    merchant, payer = await _merchant(api), await _payer(api, 10_000)
    # when the payer pays 2_500 for an order
    body = _order(merchant, payer, 2_500, "order-42")
    r = await _pay(api, payer, body)
    # then it completed, the payer has 7_500 and the merchant 2_500
    assert r.status_code == 200, r.text
    paid = r.json()
    assert (paid["type"], paid["status"]) == ("payment", "completed")
    assert paid["payment"] == {
        "merchant_id": merchant.id,
        "order_id": "order-42",
        "provider": "wallet",
        "status": "completed",
        "refunded_amount": 0,
        "provider_payment_id": None,
    }
    assert (await settled_balance(api, payer.user, payer.wallet, 7_500))["ledger"] == 7_500
    assert (await settled_balance(api, merchant.user, merchant.wallet, 2_500))["ledger"] == 2_500
    # and the payer, the merchant and an admin see the payment; someone else does not
    for who in (payer.user, merchant.user, admin):
        seen = await _payment(api, who, paid["id"])
        assert seen.status_code == 200, seen.text
        assert seen.json()["status"] == "completed" and seen.json()["amount"] == 2_500
        assert seen.json()["customer_email"] == "ada@example.com"
        assert seen.json()["metadata"] == {"cart": "c-1"}
    stranger = await register(api, "stranger")
    assert (await _payment(api, stranger, paid["id"])).status_code == 404
    # and the merchant finds it by its order
    query = {"merchant_id": merchant.id, "order_id": "order-42"}
    found = await api.get("/payments", params=query, headers=merchant.user.auth)
    assert [p["id"] for p in found.json()["items"]] == [paid["id"]]
    # and the same order again, under another key, is a 409 naming the first payment
    again = await money_post(api, payer.user, "/payments", body, wait=5)
    assert (again.status_code, again.json()["code"]) == (409, "duplicate_order")
    assert again.json()["payment_id"] == paid["id"]
    assert (await settled_balance(api, payer.user, payer.wallet, 7_500))["ledger"] == 7_500


async def test_fifty_payments_of_one_order_charge_once_and_name_the_first(
    api: httpx.AsyncClient,
) -> None:
    # given a merchant already known to the payments API and a payer with 10_000
    merchant, payer = await _merchant(api), await _payer(api, 10_000)
    await _paid(api, merchant, payer, 100)
    # when 50 payments of one order race, each with its own key
    body = _order(merchant, payer, 1_000)
    answers = await asyncio.gather(
        *(money_post(api, payer.user, "/payments", body) for _ in range(50))
    )
    # then exactly one is accepted, and the 49 others are 409 naming it
    statuses = Counter(a.status_code for a in answers)
    assert statuses == {202: 1, 409: 49}, statuses
    first = next(a.json()["id"] for a in answers if a.status_code == 202)
    refused = [a.json() for a in answers if a.status_code == 409]
    assert {(p["code"], p["payment_id"]) for p in refused} == {("duplicate_order", first)}
    # and the payer was debited once and the merchant credited once
    assert (await until_terminal(api, payer.user, first))["status"] == "completed"
    assert (await settled_balance(api, payer.user, payer.wallet, 8_900))["ledger"] == 8_900
    settled = await settled_balance(api, merchant.user, merchant.wallet, 1_100)
    assert settled["ledger"] == 1_100
    query = {"merchant_id": merchant.id, "order_id": body["order_id"]}
    found = await api.get("/payments", params=query, headers=payer.user.auth)
    assert [p["id"] for p in found.json()["items"]] == [first]


async def test_twenty_refunds_of_ten_on_a_payment_of_a_hundred_refund_exactly_ten(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    # given a completed payment of 100
    merchant, payer = await _merchant(api), await _payer(api, 1_000)
    payment = await _paid(api, merchant, payer, 100)
    # when the merchant asks for 20 refunds of 10 at once
    answers = await asyncio.gather(
        *(_refund(api, merchant.user, payment, {"amount": 10}) for _ in range(20))
    )
    # then exactly 10 are accepted and 10 refused for want of a remainder
    statuses = Counter(a.status_code for a in answers)
    assert statuses == {202: 10, 422: 10}, statuses
    assert {a.json()["code"] for a in answers if a.status_code == 422} == {
        "refund_exceeds_remainder"
    }
    accepted = [a.json() for a in answers if a.status_code == 202]
    assert all(r["type"] == "refund" and r["refund"]["payment_id"] == payment for r in accepted)
    for r in accepted:
        assert (await until_terminal(api, merchant.user, r["id"]))["status"] == "completed"
    # and the payment is refunded in full: the payer has its 1_000 back, the merchant 0
    seen = (await _payment(api, payer.user, payment)).json()
    assert (seen["status"], seen["refunded_amount"], len(seen["refunds"])) == ("refunded", 100, 10)
    assert (await settled_balance(api, payer.user, payer.wallet, 1_000))["ledger"] == 1_000
    assert (await settled_balance(api, merchant.user, merchant.wallet, 0))["ledger"] == 0
    # and each refund is on payment-events, keyed by the payment, after its payment
    keyed = await read_topic(settings.kafka_bootstrap, PAYMENT_EVENTS, lambda e: e.key == payment)
    types = Counter(e.type for e in keyed)
    assert types["PaymentCompleted"] == 1
    assert (types["RefundInitiated"], types["RefundCompleted"]) == (10, 10)
    assert [e.type for e in keyed][:2] == ["PaymentInitiated", "PaymentCompleted"]


async def test_a_partial_refund_then_the_rest(api: httpx.AsyncClient, admin: User) -> None:
    merchant, payer = await _merchant(api), await _payer(api, 1_000)
    payment = await _paid(api, merchant, payer, 500)
    # when the merchant refunds 200 with a reason
    part = await _refund(api, merchant.user, payment, {"amount": 200, "reason": "1 returned"}, 15)
    assert part.status_code == 200 and part.json()["status"] == "completed", part.text
    seen = (await _payment(api, merchant.user, payment)).json()
    assert (seen["status"], seen["refunded_amount"]) == ("partially_refunded", 200)
    assert seen["refunds"][0]["reason"] == "1 returned"
    # and an admin refunds all that is left (no amount)
    rest = await _refund(api, admin, payment, {}, 15)
    assert rest.status_code == 200 and rest.json()["amount"] == 300, rest.text
    seen = (await _payment(api, payer.user, payment)).json()
    assert (seen["status"], seen["refunded_amount"]) == ("refunded", 500)
    # and the refunds are transactions of their own
    listed = await api.get("/transactions", params={"type": "refund"}, headers=merchant.user.auth)
    assert part.json()["id"] in [t["id"] for t in listed.json()["items"]]
    assert (await settled_balance(api, payer.user, payer.wallet, 1_000))["ledger"] == 1_000


async def test_a_refund_the_merchant_cannot_cover_fails_and_moves_nothing(
    api: httpx.AsyncClient,
) -> None:
    # given a paid merchant who moved the money to another wallet of its own
    merchant, payer = await _merchant(api), await _payer(api, 1_000)
    payment = await _paid(api, merchant, payer, 400)
    savings = await open_wallet(api, merchant.user)
    await settled_balance(api, merchant.user, merchant.wallet, 400)
    moved = {
        "from_wallet_id": merchant.wallet,
        "to_wallet_id": savings,
        "amount": 400,
        "currency": "USD",
    }
    r = await money_post(api, merchant.user, "/transfers", moved, wait=15)
    assert r.json()["status"] == "completed", r.text
    # when the merchant refunds 100
    refund = await _refund(api, merchant.user, payment, {"amount": 100}, 15)
    # then the refund failed for want of funds, and nothing moved
    assert refund.status_code == 200, refund.text
    assert (refund.json()["status"], refund.json()["failure_reason"]) == (
        "failed",
        "insufficient_funds",
    )
    assert (await settled_balance(api, payer.user, payer.wallet, 600))["ledger"] == 600
    seen = (await _payment(api, merchant.user, payment)).json()
    assert (seen["status"], seen["refunded_amount"]) == ("completed", 0)
    # and the failed refund's share is free again: the whole 400 can still be refunded
    back = {**moved, "from_wallet_id": savings, "to_wallet_id": merchant.wallet}
    assert (await money_post(api, merchant.user, "/transfers", back, wait=15)).status_code == 200
    whole = await _refund(api, merchant.user, payment, {}, 15)
    assert whole.json()["amount"] == 400 and whole.json()["status"] == "completed", whole.text


async def test_bad_payments_and_refunds_are_refused_and_move_nothing(
    api: httpx.AsyncClient,
) -> None:
    merchant, payer = await _merchant(api), await _payer(api, 1_000)
    payment = await _paid(api, merchant, payer, 100)  # the merchant is known from here on
    plain = await register(api, "not-a-shop")
    plain_id = plain.id
    await open_wallet(api, plain)

    async def refused(body: dict[str, Any], who: Payer = payer) -> dict[str, Any]:
        r = await money_post(api, who.user, "/payments", body)
        assert 400 <= r.status_code < 500, r.text
        return {"status": r.status_code, "code": r.json()["code"]}

    # unknown merchant, a user who is no merchant, a currency the merchant takes no payments in
    unknown = {**_order(merchant, payer, 10), "merchant_id": str(uuid.uuid4())}
    assert await refused(unknown) == {"status": 404, "code": "merchant_not_found"}
    not_shop = {**_order(merchant, payer, 10), "merchant_id": plain_id}
    assert await refused(not_shop) == {"status": 404, "code": "merchant_not_found"}
    euros = await open_wallet(api, payer.user, "EUR")
    in_eur = {**_order(merchant, payer, 10), "currency": "EUR", "from_wallet_id": euros}
    assert await refused(in_eur) == {"status": 422, "code": "merchant_currency_unsupported"}
    # a merchant paying its own order
    own = Payer(merchant.user, merchant.wallet)
    assert await refused(_order(merchant, own, 10), own) == {
        "status": 422,
        "code": "cannot_pay_yourself",
    }
    # a refund above the remainder, one by the payer, one of a failed payment
    over = await _refund(api, merchant.user, payment, {"amount": 101})
    assert (over.status_code, over.json()["code"], over.json()["remaining"]) == (
        422,
        "refund_exceeds_remainder",
        100,
    )
    by_payer = await _refund(api, payer.user, payment, {"amount": 1})
    assert (by_payer.status_code, by_payer.json()["code"]) == (403, "not_payment_merchant")
    broke = await _pay(api, payer, _order(merchant, payer, 5_000))
    assert (broke.json()["status"], broke.json()["failure_reason"]) == (
        "failed",
        "insufficient_funds",
    )
    assert broke.json()["payment"]["status"] == "failed"
    failed = await _refund(api, merchant.user, broke.json()["id"], {})
    assert (failed.status_code, failed.json()["code"]) == (422, "payment_not_refundable")
    # and nothing moved: the payer paid the 100 only, the merchant has it
    assert (await settled_balance(api, payer.user, payer.wallet, 900))["ledger"] == 900
    assert (await settled_balance(api, merchant.user, merchant.wallet, 100))["ledger"] == 100
    seen = (await _payment(api, merchant.user, payment)).json()
    assert (seen["refunded_amount"], seen["refunds"]) == (0, [])


async def test_a_merchant_demoted_to_user_is_paid_no_more(
    api: httpx.AsyncClient, admin: User
) -> None:
    merchant, payer = await _merchant(api), await _payer(api, 1_000)
    await _paid(api, merchant, payer, 10)
    r = await api.patch(
        f"/admin/users/{merchant.id}/role", json={"role": "user"}, headers=admin.auth
    )
    assert r.status_code == 200, r.text

    async def refused() -> bool:
        answer = await money_post(api, payer.user, "/payments", _order(merchant, payer, 10))
        return answer.status_code == 404 and answer.json()["code"] == "merchant_not_found"

    await wait_for(refused, timeout=30)


async def test_a_card_payment_is_charged_once_credited_and_refunded_to_the_card(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    # given a merchant and a payer with a card and no wallet at all
    merchant, payer = await _merchant(api), await _payer(api, 0)
    card = await add_card(api, payer.user)
    body = {**_order(merchant, payer, 1_234), "from_wallet_id": None, "payment_method_id": card}
    body = {k: v for k, v in body.items() if v is not None}
    # when the payer pays by card
    r = await _pay(api, payer, body)
    # then the card was charged and the merchant credited from the provider's settlement
    assert r.status_code == 200 and r.json()["status"] == "completed", r.text
    summary = r.json()["payment"]
    assert (summary["provider"], summary["status"]) == ("card", "completed")
    assert summary["provider_payment_id"]
    settled = await settled_balance(api, merchant.user, merchant.wallet, 1_234)
    assert settled["ledger"] == 1_234
    keyed = await read_topic(
        settings.kafka_bootstrap, PAYMENT_EVENTS, lambda e: e.key == r.json()["id"]
    )
    assert [e.type for e in keyed] == ["PaymentInitiated", "ChargeSucceeded", "PaymentCompleted"]
    # and a declined card pays nothing
    declined = {**body, "order_id": "declined-1", "payment_method_id": await add_card(
        api, payer.user, DECLINED_CARD
    )}  # fmt: skip
    failed = await _pay(api, payer, declined)
    assert (failed.json()["status"], failed.json()["failure_reason"]) == (
        "failed",
        "card_declined",
    )
    # and a refund of 400 debits the merchant and gives the card 400 back
    paid = r.json()["id"]
    refund = await _refund(api, merchant.user, paid, {"amount": 400}, 15)
    assert refund.status_code == 200 and refund.json()["status"] == "completed", refund.text
    assert (await settled_balance(api, merchant.user, merchant.wallet, 834))["ledger"] == 834
    seen = (await _payment(api, payer.user, paid)).json()
    assert (seen["status"], seen["refunded_amount"]) == ("partially_refunded", 400)
    keyed = await read_topic(settings.kafka_bootstrap, PAYMENT_EVENTS, lambda e: e.key == paid)
    assert [e.type for e in keyed][3:] == ["RefundInitiated", "ChargeRefunded", "RefundCompleted"]
    assert keyed[4].payload["transaction_id"] == refund.json()["id"]
    assert keyed[4].payload["amount"] == 400
    # and a payment from both a wallet and a card is not a payment
    both = {**body, "order_id": "both", "from_wallet_id": await open_wallet(api, payer.user)}
    r = await money_post(api, payer.user, "/payments", both)
    assert (r.status_code, r.json()["code"]) == (422, "validation_error")
