"""Payment methods through the gateway: a user adds a card and a bank account, sees them as
tokens, and a refused card is a 422 with the provider's code."""

from __future__ import annotations

import httpx
import pytest

from infra.testing.api import register

pytestmark = pytest.mark.e2e

CARD = {"type": "card", "number": "5555555555554444", "exp_month": 1, "exp_year": 2031,
        "cvc": "321"}  # fmt: skip
BANK = {"type": "bank_account", "iban": "DE89 3704 0044 0532 0130 00", "holder_name": "Ann Lee"}


async def test_a_user_adds_lists_and_deletes_payment_methods(api: httpx.AsyncClient) -> None:
    # given a signed-in user
    ann = await register(api, "ann")
    # when they add a card and a bank account through the gateway
    card = await api.post("/payment-methods", json=CARD, headers=ann.auth)
    bank = await api.post("/payment-methods", json=BANK, headers=ann.auth)
    # then both are answered as tokens
    assert card.status_code == 201, card.text
    assert bank.status_code == 201, bank.text
    assert (card.json()["brand"], card.json()["last4"]) == ("mastercard", "4444")
    assert (bank.json()["country"], bank.json()["last4"]) == ("DE", "3000")
    listed = await api.get("/payment-methods", headers=ann.auth)
    assert [m["id"] for m in listed.json()["items"]] == [card.json()["id"], bank.json()["id"]]
    # and a refused card is a 422 with the provider's code
    expired = await api.post(
        "/payment-methods", json={**CARD, "exp_month": 1, "exp_year": 2021}, headers=ann.auth
    )
    assert (expired.status_code, expired.json()["code"]) == (422, "expired_card")
    # and a deleted method is gone
    gone = await api.delete(f"/payment-methods/{card.json()['id']}", headers=ann.auth)
    assert gone.status_code == 204
    left = await api.get("/payment-methods", headers=ann.auth)
    assert [m["id"] for m in left.json()["items"]] == [bank.json()["id"]]


async def test_payment_methods_need_a_token(api: httpx.AsyncClient) -> None:
    assert (await api.get("/payment-methods")).status_code == 401
    assert (await api.post("/payment-methods", json=CARD)).status_code == 401
