"""pgw_svc's payment methods as a real process: tokenised cards and bank accounts, owned
per user; a refused card stores nothing; no number, CVC or IBAN in a table or the log."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from common.settings import Settings
from infra.testing.api import User, register
from infra.testing.pgw import assert_kept_nowhere, pgw_rows
from infra.testing.stack import StackUnderTest

pytestmark = pytest.mark.integration

CARD = {"type": "card", "number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": 2030,
        "cvc": "123", "holder_name": "Ann Lee"}  # fmt: skip
IBAN = "GB33BUKB20201555555555"
PRINTED_IBAN = "gb33 bukb 2020 1555 5555 55"
SECRETS = ("4242424242424242", "4242 4242 4242 4242", "378282246310005", IBAN, "GB33 BUKB")


@pytest.fixture(scope="module")
def started(stack: StackUnderTest) -> StackUnderTest:
    stack.start_apps(["user_svc", "pgw_svc"])
    return stack


@pytest.fixture
async def pgw(started: StackUnderTest) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=Settings().pgw_svc_url, timeout=10) as client:
        yield client


async def _add(pgw: httpx.AsyncClient, user: User, body: dict[str, Any]) -> httpx.Response:
    return await pgw.post("/payment-methods", json=body, headers=user.auth)


async def test_a_card_is_stored_as_a_token_and_shown_only_to_its_owner(
    users: httpx.AsyncClient, pgw: httpx.AsyncClient
) -> None:
    # given two users, and the first adds a card
    ann, bob = await register(users, "ann"), await register(users, "bob")
    created = await _add(pgw, ann, CARD)
    # then it is answered as a token
    assert created.status_code == 201, created.text
    card = created.json()
    assert {k: card[k] for k in ("type", "brand", "last4", "exp_month", "exp_year")} == {
        "type": "card", "brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2030
    }  # fmt: skip
    assert created.headers["location"] == f"/payment-methods/{card['id']}"
    assert "number" not in card and "cvc" not in card
    # and the owner reads and lists it; the other user neither sees nor deletes it
    mine = await pgw.get(f"/payment-methods/{card['id']}", headers=ann.auth)
    assert mine.status_code == 200 and mine.json() == card
    listed = await pgw.get("/payment-methods", headers=ann.auth)
    assert [m["id"] for m in listed.json()["items"]] == [card["id"]]
    assert (await pgw.get(f"/payment-methods/{card['id']}", headers=bob.auth)).status_code == 404
    assert (await pgw.get("/payment-methods", headers=bob.auth)).json()["items"] == []
    foreign_delete = await pgw.delete(f"/payment-methods/{card['id']}", headers=bob.auth)
    assert foreign_delete.status_code == 404
    # when the owner deletes it, then it is gone for them
    assert (await pgw.delete(f"/payment-methods/{card['id']}", headers=ann.auth)).status_code == 204
    assert (await pgw.get(f"/payment-methods/{card['id']}", headers=ann.auth)).status_code == 404
    assert (await pgw.get("/payment-methods", headers=ann.auth)).json()["items"] == []
    again = await pgw.delete(f"/payment-methods/{card['id']}", headers=ann.auth)
    assert again.status_code == 404


async def test_a_bank_account_is_stored_with_country_and_last4(
    users: httpx.AsyncClient, pgw: httpx.AsyncClient
) -> None:
    ann = await register(users, "ann")
    bank = {"type": "bank_account", "iban": PRINTED_IBAN, "holder_name": "A"}
    created = await _add(pgw, ann, bank)
    assert created.status_code == 201, created.text
    account = created.json()
    assert (account["type"], account["country"], account["last4"]) == ("bank_account", "GB", "5555")
    assert account["currency"] == "GBP"  # the country's, as none was named
    assert "iban" not in account and "brand" not in account
    assert (await pgw.get(f"/payment-methods/{account['id']}", headers=ann.auth)).json() == (
        account
    )


async def test_a_bank_account_pays_in_the_currency_its_owner_names(
    users: httpx.AsyncClient, pgw: httpx.AsyncClient
) -> None:
    # given a GB account added to pay in EUR, and one with a currency paystream does not know
    ann = await register(users, "ann")
    bank = {"type": "bank_account", "iban": IBAN, "holder_name": "A"}
    in_euro = await _add(pgw, ann, {**bank, "currency": "EUR"})
    unknown = await _add(pgw, ann, {**bank, "currency": "XXX"})
    # then the first pays in EUR, the second is refused and only the first is stored
    assert (in_euro.status_code, in_euro.json()["currency"]) == (201, "EUR")
    assert (unknown.status_code, unknown.json()["code"]) == (422, "validation_error")
    listed = (await pgw.get("/payment-methods", headers=ann.auth)).json()["items"]
    assert [m["id"] for m in listed] == [in_euro.json()["id"]]


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"number": "4242424242424241"}, "invalid_number"),
        ({"exp_month": 1, "exp_year": 2020}, "expired_card"),
        ({"cvc": "12"}, "invalid_cvc"),
        ({"number": "378282246310005", "cvc": "123"}, "invalid_cvc"),
        ({"type": "bank_account", "iban": "GB34BUKB20201555555555", "holder_name": "A"},
         "invalid_iban"),
    ],
)  # fmt: skip
async def test_a_refused_method_is_a_422_with_its_code_and_stores_nothing(
    users: httpx.AsyncClient, pgw: httpx.AsyncClient, change: dict[str, Any], code: str
) -> None:
    # given a user, when they add a card (or account) the provider refuses
    ann = await register(users, "ann")
    body = {**CARD, **change}
    if body["type"] == "bank_account":
        body = {k: body[k] for k in ("type", "iban", "holder_name")}
    refused = await _add(pgw, ann, body)
    # then it is a problem with the domain's code, echoing none of the card data
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["code"] == code
    assert not any(s in refused.text for s in SECRETS)
    # and the user has no payment method
    assert (await pgw.get("/payment-methods", headers=ann.auth)).json()["items"] == []


async def test_pages_follow_the_cursor(users: httpx.AsyncClient, pgw: httpx.AsyncClient) -> None:
    ann = await register(users, "ann")
    ids = [(await _add(pgw, ann, CARD)).json()["id"] for _ in range(3)]
    first = (await pgw.get("/payment-methods?limit=2", headers=ann.auth)).json()
    assert [m["id"] for m in first["items"]] == ids[:2]
    second = await pgw.get(
        "/payment-methods", params={"limit": 2, "cursor": first["next_cursor"]}, headers=ann.auth
    )
    assert [m["id"] for m in second.json()["items"]] == ids[2:]
    assert second.json()["next_cursor"] is None
    bad = await pgw.get("/payment-methods?cursor=not-a-cursor", headers=ann.auth)
    assert bad.status_code == 400


async def test_no_number_cvc_or_iban_in_the_table_or_the_log(
    users: httpx.AsyncClient, pgw: httpx.AsyncClient, started: StackUnderTest
) -> None:
    # given cards and an account added (and one refused)
    ann = await register(users, "ann")
    amex = {**CARD, "number": "378282246310005", "cvc": "7294"}
    assert (await _add(pgw, ann, amex)).status_code == 201
    assert (await _add(pgw, ann, {**CARD, "cvc": "12"})).status_code == 422
    bank = {"type": "bank_account", "iban": IBAN, "holder_name": "Ann Lee"}
    assert (await _add(pgw, ann, bank)).status_code == 201
    # then no stored column and no line pgw_svc logged holds the number, the CVC or the IBAN
    rows = await pgw_rows(Settings().postgres_dsn)
    assert any(r["last4"] == "0005" for r in rows["payment_methods"])
    assert_kept_nowhere((*SECRETS, '"7294"'), rows, started.cfg.run_dir)
