"""pgw_svc's provider API as a real process, called with a service token as the money
services call it: charges (capture, decline, pending, authorize then void), refunds never
past the capture, payouts, one effect per idempotency key, and no card data kept."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from common.settings import Settings
from gateway.routes import DEFAULT_TABLE
from infra.testing.pgw import (
    Payer,
    assert_kept_nowhere,
    payer,
    pgw_rows,
    provider_callers,
    start_provider,
)
from infra.testing.stack import StackUnderTest

pytestmark = pytest.mark.integration

CARDS = {"ok": "4242424242424242", "declined": "4000000000000002", "async": "4000000000003220"}
IBANS = {"ok": "GB33BUKB20201555555555", "closed": "GB94BARC10201530093459"}
ADMIN_EMAIL = "first.admin@pgw-provider.example.com"
ADMIN_PASSWORD = "Adm1n-Provider-Passphrase-5"  # fixed: the database outlives a session
SECRETS = (*CARDS.values(), *IBANS.values(), "GB94 BARC", "GB33 BUKB")


@pytest.fixture(scope="module")
def started(stack: StackUnderTest) -> StackUnderTest:
    start_provider(stack, ADMIN_EMAIL, ADMIN_PASSWORD)
    return stack


@pytest.fixture
async def world(started: StackUnderTest) -> AsyncIterator[Payer]:
    async with provider_callers(ADMIN_EMAIL, ADMIN_PASSWORD) as callers:
        yield await payer(callers, CARDS, IBANS)


async def test_a_captured_charge_is_found_by_its_key(world: Payer) -> None:
    # when a service charges the test card that succeeds, capturing at once
    key = uuid.uuid4().hex
    r = await world.post("/internal/charges", world.charge("ok", 1234), key)
    # then the charge is captured in full, and the status query by key answers it
    assert r.status_code == 201, r.text
    charge = r.json()
    assert (charge["status"], charge["captured_amount"], charge["refunded_amount"]) == (
        "captured", 1234, 0
    )  # fmt: skip
    assert (charge["failure_reason"], charge["currency"], charge["idempotency_key"]) == (
        None, "USD", key
    )  # fmt: skip
    found = await world.pgw.get("/internal/charges", params={"idempotency_key": key},
                                headers=world.service)  # fmt: skip
    assert found.status_code == 200 and found.json() == charge
    unknown = await world.pgw.get("/internal/charges", params={"idempotency_key": "nope"},
                                  headers=world.service)  # fmt: skip
    assert (unknown.status_code, unknown.json()["code"]) == (404, "charge_not_found")


async def test_a_declined_card_is_a_failed_charge_with_its_reason(world: Payer) -> None:
    r = await world.post("/internal/charges", world.charge("declined"))
    assert r.status_code == 201, r.text
    failed = r.json()
    assert (failed["status"], failed["failure_reason"], failed["captured_amount"]) == (
        "failed", "card_declined", 0
    )  # fmt: skip


async def test_the_asynchronous_card_is_pending_at_first(world: Payer) -> None:
    # (test_pgw_callbacks.py follows it to its decision and the signed callback)
    r = await world.post("/internal/charges", world.charge("async"))
    assert r.status_code == 201, r.text
    assert (r.json()["status"], r.json()["captured_amount"]) == ("pending", 0)


async def test_one_key_makes_one_charge_and_another_body_is_409(world: Payer) -> None:
    # given a charge
    key, body = uuid.uuid4().hex, world.charge("ok", 500)
    first = await world.post("/internal/charges", body, key)
    # when it is sent again with the same key and body, then the same charge is answered
    again = await world.post("/internal/charges", body, key)
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    # and the same key with another body is refused
    other = await world.post("/internal/charges", {**body, "amount": 501}, key)
    assert (other.status_code, other.json()["code"]) == (409, "idempotency_key_reused")
    # and exactly one charge has the key
    rows = (await pgw_rows(Settings().postgres_dsn))["charges"]
    assert [r["amount"] for r in rows if r["idempotency_key"] == key] == [500]


async def test_refunds_sum_to_the_capture_and_no_further(world: Payer) -> None:
    # given a captured charge of 1000
    charge = (await world.post("/internal/charges", world.charge("ok", 1000))).json()
    refund = {"charge_id": charge["id"]}
    # when more than captured is asked, then it is refused
    over = await world.post("/internal/refunds", {**refund, "amount": 1001})
    assert (over.status_code, over.json()["code"]) == (422, "refund_exceeds_captured")
    assert over.json()["refundable"] == 1000
    # when partial refunds sum to the capture, then each succeeds (a retried one once)
    key = uuid.uuid4().hex
    first = await world.post("/internal/refunds", {**refund, "amount": 600}, key)
    assert first.status_code == 201, first.text
    assert (first.json()["status"], first.json()["currency"]) == ("succeeded", "USD")
    assert (await world.post("/internal/refunds", {**refund, "amount": 600}, key)).json() == (
        first.json()
    )
    assert (await world.post("/internal/refunds", {**refund, "amount": 400})).status_code == 201
    # then one more is refused, and the charge shows all of it refunded
    more = await world.post("/internal/refunds", {**refund, "amount": 1})
    assert (more.status_code, more.json()["code"], more.json()["refundable"]) == (
        422, "refund_exceeds_captured", 0
    )  # fmt: skip
    now = await world.pgw.get("/internal/charges", params={"idempotency_key":
                              charge["idempotency_key"]}, headers=world.service)  # fmt: skip
    assert (now.json()["captured_amount"], now.json()["refunded_amount"]) == (1000, 1000)
    refunds = [r for r in (await pgw_rows(Settings().postgres_dsn))["refunds"]
               if str(r["charge_id"]) == charge["id"]]  # fmt: skip
    assert sorted(r["amount"] for r in refunds) == [400, 600]


async def test_concurrent_requests_make_one_charge_and_never_overshoot_refunds(
    world: Payer,
) -> None:
    # when ten requests with one key race, then they all answer the one charge stored
    key, body = uuid.uuid4().hex, world.charge("ok", 1000)
    raced = await asyncio.gather(*(world.post("/internal/charges", body, key) for _ in range(10)))
    assert {r.status_code for r in raced} == {201}
    assert len({r.json()["id"] for r in raced}) == 1
    rows = (await pgw_rows(Settings().postgres_dsn))["charges"]
    assert [r["amount"] for r in rows if r["idempotency_key"] == key] == [1000]
    # when ten refunds of 300 race for its 1000, then exactly three succeed
    refund = {"charge_id": raced[0].json()["id"], "amount": 300}
    refunds = await asyncio.gather(*(world.post("/internal/refunds", refund) for _ in range(10)))
    assert sorted(r.status_code for r in refunds) == [201] * 3 + [422] * 7
    now = await world.pgw.get("/internal/charges", params={"idempotency_key": key},
                              headers=world.service)  # fmt: skip
    assert now.json()["refunded_amount"] == 900


async def test_an_authorized_charge_is_voided_and_then_neither_captured_nor_refunded(
    world: Payer,
) -> None:
    # given a charge only authorized
    r = await world.post("/internal/charges", world.charge("ok", 700, capture=False))
    authorized = r.json()
    assert (authorized["status"], authorized["captured_amount"]) == ("authorized", 0)
    # when it is voided (twice: the same answer)
    path = f"/internal/charges/{authorized['id']}"
    voided = await world.pgw.post(f"{path}/void", headers=world.service)
    assert voided.status_code == 200, voided.text
    assert (voided.json()["status"], voided.json()["captured_amount"]) == ("voided", 0)
    assert (await world.pgw.post(f"{path}/void", headers=world.service)).json() == voided.json()
    # then it can be neither captured nor refunded
    capture = await world.pgw.post(f"{path}/capture", headers=world.service)
    assert (capture.status_code, capture.json()["code"]) == (409, "charge_not_authorized")
    refund = await world.post("/internal/refunds", {"charge_id": authorized["id"], "amount": 1})
    assert (refund.status_code, refund.json()["code"]) == (409, "charge_not_captured")


async def test_an_authorized_charge_is_captured_later(world: Payer) -> None:
    authorized = await world.post("/internal/charges", world.charge("ok", 300, capture=False))
    path = f"/internal/charges/{authorized.json()['id']}"
    captured = await world.pgw.post(f"{path}/capture", headers=world.service)
    assert (captured.json()["status"], captured.json()["captured_amount"]) == ("captured", 300)
    void = await world.pgw.post(f"{path}/void", headers=world.service)
    assert (void.status_code, void.json()["code"]) == (409, "charge_not_authorized")


async def test_payouts_succeed_or_fail_account_closed(world: Payer) -> None:
    body = {"owner_id": world.owner_id, "amount": 2500, "currency": "GBP"}  # GB accounts
    key = uuid.uuid4().hex
    paid = await world.post("/internal/payouts", {**body, "payment_method_id":
                            world.methods["payout_ok"]}, key)  # fmt: skip
    assert paid.status_code == 201, paid.text
    assert (paid.json()["status"], paid.json()["failure_reason"]) == ("succeeded", None)
    found = await world.pgw.get("/internal/payouts", params={"idempotency_key": key},
                                headers=world.service)  # fmt: skip
    assert found.json() == paid.json()
    closed = await world.post("/internal/payouts", {**body, "payment_method_id":
                              world.methods["payout_closed"]})  # fmt: skip
    assert (closed.json()["status"], closed.json()["failure_reason"]) == (
        "failed",
        "account_closed",
    )


async def test_the_wrong_method_or_amount_charges_nothing(world: Payer) -> None:
    # a bank account is not a card, a card is not a bank account
    as_card = await world.post("/internal/charges", world.charge("payout_ok"))
    assert (as_card.status_code, as_card.json()["code"]) == (422, "not_a_card")
    as_account = await world.post("/internal/payouts", world.charge("ok"))
    assert (as_account.status_code, as_account.json()["code"]) == (422, "not_a_bank_account")
    # another owner's method is not found; above the provider's maximum is refused
    foreign = await world.post("/internal/charges", {**world.charge("ok"), "owner_id": "someone"})
    assert (foreign.status_code, foreign.json()["code"]) == (404, "payment_method_not_found")
    huge = await world.post("/internal/charges", world.charge("ok", 100_000_001))
    assert (huge.status_code, huge.json()["code"]) == (422, "amount_too_large")
    # and none of them left a charge or a payout
    rows = await pgw_rows(Settings().postgres_dsn)
    keys = {r["idempotency_key"] for table in ("charges", "payouts") for r in rows[table]}
    for refused in (as_card, as_account, foreign, huge):
        assert refused.request.headers["idempotency-key"] not in keys


async def test_only_service_tokens_reach_the_provider(world: Payer) -> None:
    # a user's own token is refused, even for their own card
    user_headers = {**world.owner.auth, "Idempotency-Key": "k1"}
    as_user = await world.pgw.post(
        "/internal/charges", json=world.charge("ok"), headers=user_headers
    )
    assert (as_user.status_code, as_user.json()["code"]) == (403, "forbidden")
    looked_up = await world.pgw.get("/internal/charges", params={"idempotency_key": "k1"},
                                    headers=world.owner.auth)  # fmt: skip
    assert looked_up.status_code == 403
    # the gateway has no route to the provider API and no public document lists it
    assert DEFAULT_TABLE.resolve("/internal/charges") is None
    doc = (await world.pgw.get("/openapi.json")).json()
    assert not [p for p in doc["paths"] if p.startswith("/internal")]
    assert "/payment-methods" in doc["paths"]


async def test_no_number_cvc_or_iban_in_the_tables_or_the_log(
    world: Payer, started: StackUnderTest
) -> None:
    # given charges, a refund and payouts made with the test cards and accounts
    charge = (await world.post("/internal/charges", world.charge("ok"))).json()
    assert (
        await world.post("/internal/refunds", {"charge_id": charge["id"], "amount": 1})
    ).is_success
    for name in ("payout_ok", "payout_closed"):
        payout = world.charge(name, currency="GBP")
        assert (await world.post("/internal/payouts", payout)).is_success
    # then no pgw table and no line pgw_svc logged holds a number or an IBAN
    rows = await pgw_rows(Settings().postgres_dsn)
    assert rows["charges"] and rows["refunds"] and rows["payouts"]
    assert_kept_nowhere(SECRETS, rows, started.cfg.run_dir)


async def test_a_currency_the_method_cannot_pay_in_is_refused_and_stores_nothing(
    world: Payer,
) -> None:
    # given a card (the card currencies, not NZD) and a GB account (GBP only)
    # when a charge in NZD and a payout in EUR are asked
    charge = await world.post("/internal/charges", world.charge("ok", currency="NZD"))
    payout = await world.post("/internal/payouts", world.charge("payout_ok", currency="EUR"))
    # then both are refused with the currencies the method pays in
    assert (charge.status_code, charge.json()["code"]) == (422, "currency_unsupported")
    assert "USD" in charge.json()["currencies"] and "NZD" not in charge.json()["currencies"]
    assert (payout.status_code, payout.json()["code"]) == (422, "currency_unsupported")
    assert payout.json()["currencies"] == ["GBP"]
    # and nothing was stored under either key, while the account's own currency pays out
    rows = await pgw_rows(Settings().postgres_dsn)
    keys = {r["idempotency_key"] for table in ("charges", "payouts") for r in rows[table]}
    assert not {r.request.headers["idempotency-key"] for r in (charge, payout)} & keys
    paid = await world.post("/internal/payouts", world.charge("payout_ok", currency="GBP"))
    assert (paid.status_code, paid.json()["status"]) == (201, "succeeded")


async def test_the_lookup_tells_a_methods_type_currencies_and_the_maximum(world: Payer) -> None:
    # when a service looks up the payer's card and bank account
    async def lookup(method: str, owner_id: str | None = None) -> httpx.Response:
        return await world.pgw.get(
            f"/internal/payment-methods/{world.methods.get(method, method)}",
            params={"owner_id": owner_id or world.owner_id}, headers=world.service,
        )  # fmt: skip

    card, account = await lookup("ok"), await lookup("payout_ok")
    # then each answers its type, what it pays in and the provider's per-charge maximum
    assert card.status_code == 200, card.text
    assert card.json() == {
        "id": world.methods["ok"], "type": "card",
        "currencies": ["USD", "EUR", "GBP", "CHF", "CAD", "AUD", "JPY", "SEK", "NOK", "DKK",
                       "PLN"],
        "max_amount": 100_000_000,
    }  # fmt: skip
    assert account.json() == {"id": world.methods["payout_ok"], "type": "bank_account",
                              "currencies": ["GBP"], "max_amount": 100_000_000}  # fmt: skip
    # and another owner's, an unknown, a malformed and a deleted method are not found
    deleted = await world.pgw.delete(
        f"/payment-methods/{world.methods['declined']}", headers=world.owner.auth
    )
    assert deleted.status_code == 204
    for missing in (
        await lookup("ok", owner_id="someone-else"),
        await lookup(str(uuid.uuid4())),
        await lookup("not-a-uuid"),
        await lookup("declined"),
    ):
        assert (missing.status_code, missing.json()["code"]) == (404, "payment_method_not_found")
    # and a user's token may not look up even its own method
    as_user = await world.pgw.get(
        f"/internal/payment-methods/{world.methods['ok']}",
        params={"owner_id": world.owner_id}, headers=world.owner.auth,
    )  # fmt: skip
    assert as_user.status_code == 403
