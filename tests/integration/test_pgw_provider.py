"""pgw_svc's provider API as a real process, called with a service token as the money
services call it: charges (capture, decline, pending, authorize then void), refunds never
past the capture, payouts, one effect per idempotency key, and no card data kept."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import pytest

from common.settings import Settings
from gateway.routes import DEFAULT_TABLE
from infra.testing.api import User, register
from infra.testing.pgw import assert_kept_nowhere, pgw_rows, provider_callers, start_provider
from infra.testing.stack import StackUnderTest

pytestmark = pytest.mark.integration

CARD = {"type": "card", "exp_month": 12, "exp_year": 2030, "cvc": "123"}
CARDS = {"ok": "4242424242424242", "declined": "4000000000000002", "async": "4000000000003220"}
IBANS = {"ok": "GB33BUKB20201555555555", "closed": "GB94BARC10201530093459"}
ADMIN_EMAIL = "first.admin@pgw-provider.example.com"
ADMIN_PASSWORD = "Adm1n-Provider-Passphrase-5"  # fixed: the database outlives a session
SECRETS = (*CARDS.values(), *IBANS.values(), "GB94 BARC", "GB33 BUKB")


@dataclass
class World:
    """A user with payment methods, and a service client's headers to call the provider."""

    pgw: httpx.AsyncClient
    owner: User
    owner_id: str
    service: dict[str, str]
    methods: dict[str, str]  # "ok" / "declined" / "async" cards, "payout_ok" / "payout_closed"

    def headers(self, key: str | None = None) -> dict[str, str]:
        return {**self.service, "Idempotency-Key": key or uuid.uuid4().hex}

    def charge(self, method: str, amount: int = 1000, **extra: Any) -> dict[str, Any]:
        body = {"owner_id": self.owner_id, "payment_method_id": self.methods[method]}
        return body | {"amount": amount, "currency": "USD"} | extra

    async def post(self, path: str, body: dict[str, Any], key: str | None = None) -> httpx.Response:
        return await self.pgw.post(path, json=body, headers=self.headers(key))


@pytest.fixture(scope="module")
def started(stack: StackUnderTest) -> StackUnderTest:
    start_provider(stack, ADMIN_EMAIL, ADMIN_PASSWORD)
    return stack


@pytest.fixture
async def world(started: StackUnderTest) -> AsyncIterator[World]:
    async with provider_callers(ADMIN_EMAIL, ADMIN_PASSWORD) as callers:
        pgw = callers.pgw
        owner = await register(callers.users, "payer")
        methods = {}
        for name, number in CARDS.items():
            r = await pgw.post(
                "/payment-methods", json={**CARD, "number": number}, headers=owner.auth
            )
            methods[name] = r.json()["id"]
        for name, iban in IBANS.items():
            body = {"type": "bank_account", "iban": iban, "holder_name": "Payer"}
            r = await pgw.post("/payment-methods", json=body, headers=owner.auth)
            methods[f"payout_{name}"] = r.json()["id"]
        owner_id = jwt.decode(owner.token, options={"verify_signature": False})["sub"]
        yield World(pgw, owner, owner_id, callers.service, methods)


async def test_a_captured_charge_is_found_by_its_key(world: World) -> None:
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


async def test_a_declined_card_is_a_failed_charge_with_its_reason(world: World) -> None:
    r = await world.post("/internal/charges", world.charge("declined"))
    assert r.status_code == 201, r.text
    failed = r.json()
    assert (failed["status"], failed["failure_reason"], failed["captured_amount"]) == (
        "failed", "card_declined", 0
    )  # fmt: skip


async def test_the_asynchronous_card_stays_pending(world: World) -> None:
    r = await world.post("/internal/charges", world.charge("async"))
    assert r.status_code == 201, r.text
    assert (r.json()["status"], r.json()["captured_amount"]) == ("pending", 0)


async def test_one_key_makes_one_charge_and_another_body_is_409(world: World) -> None:
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


async def test_refunds_sum_to_the_capture_and_no_further(world: World) -> None:
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
    world: World,
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
    world: World,
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


async def test_an_authorized_charge_is_captured_later(world: World) -> None:
    authorized = await world.post("/internal/charges", world.charge("ok", 300, capture=False))
    path = f"/internal/charges/{authorized.json()['id']}"
    captured = await world.pgw.post(f"{path}/capture", headers=world.service)
    assert (captured.json()["status"], captured.json()["captured_amount"]) == ("captured", 300)
    void = await world.pgw.post(f"{path}/void", headers=world.service)
    assert (void.status_code, void.json()["code"]) == (409, "charge_not_authorized")


async def test_payouts_succeed_or_fail_account_closed(world: World) -> None:
    body = {"owner_id": world.owner_id, "amount": 2500, "currency": "EUR"}
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


async def test_the_wrong_method_or_amount_charges_nothing(world: World) -> None:
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


async def test_only_service_tokens_reach_the_provider(world: World) -> None:
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
    world: World, started: StackUnderTest
) -> None:
    # given charges, a refund and payouts made with the test cards and accounts
    charge = (await world.post("/internal/charges", world.charge("ok"))).json()
    assert (
        await world.post("/internal/refunds", {"charge_id": charge["id"], "amount": 1})
    ).is_success
    for name in ("payout_ok", "payout_closed"):
        assert (await world.post("/internal/payouts", world.charge(name))).is_success
    # then no pgw table and no line pgw_svc logged holds a number or an IBAN
    rows = await pgw_rows(Settings().postgres_dsn)
    assert rows["charges"] and rows["refunds"] and rows["payouts"]
    assert_kept_nowhere(SECRETS, rows, started.cfg.run_dir)
