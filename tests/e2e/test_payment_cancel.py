"""Cancelling a pending payment, through the gateway: a card payment whose charge the
provider has not decided yet is cancelled by its payer (or an admin), charges nothing and
ends `cancelled`, told on both topics; a payment already decided, or from a wallet, is a
409 that changes nothing; nobody else may cancel it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from common.settings import Settings
from common.topics import PAYMENT_EVENTS, TRANSACTION_EVENTS
from infra.testing.api import (
    ASYNC_CARD,
    GOOD_CARD,
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
from infra.testing.stack import StackUnderTest

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def slow_provider(apps: StackUnderTest) -> Iterator[None]:
    """pgw_svc deciding pending charges (ASYNC_CARD's) after 20 s, so a test can cancel
    one in time."""
    apps.restart_app("pgw_svc", env={"PAYSTREAM_PGW_ASYNC_DELAY_MS": "20000"})
    yield
    apps.restart_app("pgw_svc")


async def _shop(api: httpx.AsyncClient) -> tuple[User, str, str]:
    merchant = await register(api, "cancel-shop", role="merchant")
    return merchant, merchant.id, await open_wallet(api, merchant)


def _order(merchant_id: str, **source: str) -> dict[str, Any]:
    return {"merchant_id": merchant_id, "order_id": f"o-{uuid.uuid4().hex[:8]}",
            "amount": 2_000, "currency": "USD", **source}  # fmt: skip


async def _pending_at_provider(api: httpx.AsyncClient, payer: User, payment: str) -> None:
    """Until the payment's charge is pending at the provider (its charge id is known)."""

    async def pending() -> bool:
        r = await api.get(f"/payments/{payment}", headers=payer.auth)
        return bool(r.json()["provider_payment_id"]) and r.json()["status"] == "processing"

    await wait_for(pending, timeout=30, interval=0.2)


async def _cancel(api: httpx.AsyncClient, who: User, payment: str, wait: int = 0) -> httpx.Response:
    headers = {**who.auth, **({"Prefer": f"wait={wait}"} if wait else {})}
    return await api.post(f"/payments/{payment}/cancel", headers=headers)


async def test_a_card_payment_pending_at_the_provider_is_cancelled_and_charges_nothing(
    api: httpx.AsyncClient, settings: Settings, admin: User, slow_provider: None
) -> None:
    # given a card payment whose charge the provider has not decided
    merchant, merchant_id, merchant_wallet = await _shop(api)
    payer = await register(api, "cancel-buyer")
    card = await add_card(api, payer, ASYNC_CARD)
    r = await pay_merchant(api, payer, _order(merchant_id, payment_method_id=card), wait=0)
    assert r.status_code == 202, r.text
    payment = r.json()["id"]
    await _pending_at_provider(api, payer, payment)
    # when someone else, or the merchant, asks to cancel it: refused, nothing changes
    stranger = await register(api, "cancel-stranger")
    r = await _cancel(api, stranger, payment)
    assert (r.status_code, r.json()["code"]) == (404, "payment_not_found")
    r = await _cancel(api, merchant, payment)
    assert (r.status_code, r.json()["code"]) == (403, "not_payment_payer")
    # when its payer cancels it, waiting for the outcome
    r = await _cancel(api, payer, payment, wait=20)
    # then it is cancelled at once (not after the provider's 20 s)
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["payment"]["status"]) == ("cancelled", "cancelled")
    seen = await api.get(f"/payments/{payment}", headers=merchant.auth)
    assert seen.json()["status"] == "cancelled"
    # and asked again, the same answer
    again = await _cancel(api, payer, payment)
    assert (again.status_code, again.json()["status"]) == (200, "cancelled")
    # and the merchant got nothing; the topics tell the cancel once, after the void
    assert (await settled_balance(api, merchant, merchant_wallet, 0))["ledger"] == 0
    steps = await read_topic(settings.kafka_bootstrap, PAYMENT_EVENTS, lambda e: e.key == payment)
    kinds = list(dict.fromkeys(e.type for e in steps))
    assert kinds == ["PaymentInitiated", "ChargePending", "ChargeVoided", "PaymentCancelled"]
    ends = await read_topic(
        settings.kafka_bootstrap, TRANSACTION_EVENTS, lambda e: e.key == payment
    )
    assert [e.type for e in ends if e.type.startswith("Payment")].count("PaymentCancelled") >= 1
    assert not {"PaymentCompleted", "PaymentFailed"} & {e.type for e in ends}

    # given another such payment, an admin cancels it without waiting
    r = await pay_merchant(api, payer, _order(merchant_id, payment_method_id=card), wait=0)
    other = r.json()["id"]
    await _pending_at_provider(api, payer, other)
    r = await _cancel(api, admin, other)
    assert (r.status_code, r.json()["status"]) == (202, "processing"), r.text
    assert (await until_terminal(api, payer, other))["status"] == "cancelled"


async def test_a_decided_or_wallet_payment_is_not_cancellable_and_nothing_changes(
    api: httpx.AsyncClient,
) -> None:
    merchant, merchant_id, merchant_wallet = await _shop(api)
    payer = await register(api, "decided-buyer")
    wallet = await open_wallet(api, payer)
    await deposit(api, payer, wallet, 5_000)
    # given a completed wallet payment and a completed card payment
    by_wallet = await pay_merchant(api, payer, _order(merchant_id, from_wallet_id=wallet))
    card = await add_card(api, payer, GOOD_CARD)
    by_card = await pay_merchant(api, payer, _order(merchant_id, payment_method_id=card))
    for paid in (by_wallet, by_card):
        assert (paid.status_code, paid.json()["status"]) == (200, "completed"), paid.text
        # when the payer cancels: 409 naming its status, and it stays completed
        r = await _cancel(api, payer, paid.json()["id"])
        assert (r.status_code, r.json()["code"]) == (409, "payment_not_cancellable"), r.text
        assert r.json()["payment_status"] == "completed"
        assert r.headers["content-type"].startswith("application/problem+json")
        seen = await api.get(f"/payments/{paid.json()['id']}", headers=payer.auth)
        assert seen.json()["status"] == "completed"
    assert (await settled_balance(api, merchant, merchant_wallet, 4_000))["ledger"] == 4_000
    # and a refund of it still works as before
    refund = await money_post(
        api, merchant, f"/payments/{by_wallet.json()['id']}/refunds", {"amount": 100}, wait=15
    )
    assert refund.status_code == 200 and refund.json()["status"] == "completed", refund.text
