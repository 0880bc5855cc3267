"""The money path through the gateway, on the whole running stack."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import httpx
import pytest

from common.settings import Settings
from common.topics import TRANSACTION_EVENTS
from infra.testing.api import (
    User,
    balance,
    deposit,
    money_post,
    open_wallet,
    register,
    settled_balance,
    transaction,
    two_users,
    until_terminal,
)
from infra.testing.kafka import read_topic

pytestmark = pytest.mark.e2e


async def test_two_users_deposit_transfer_and_read(api: httpx.AsyncClient) -> None:
    # given two users with a wallet each, and a deposit of 100.00 to alice
    alice, bob, wa, wb = await two_users(api, ("alice", "bob"), 10_000)
    # when alice sends bob 25.50 and waits for the outcome
    r = await money_post(api, alice, "/transfers",
                         {"from_wallet_id": wa, "to_wallet_id": wb, "amount": 2550,
                          "currency": "USD", "description": "lunch"}, wait=15)  # fmt: skip
    # then it completed, and both read models agree
    assert r.status_code == 200, r.text
    tx = r.json()
    assert tx["status"] == "completed" and tx["amount"] == 2550
    assert [s["step"] for s in tx["steps"]][:2] == ["requested", "debit"]
    assert await settled_balance(api, alice, wa, 7450) == {"ledger": 7450, "available": 7450}
    assert await settled_balance(api, bob, wb, 2550) == {"ledger": 2550, "available": 2550}
    r = await api.get(f"/wallets/{wa}/entries", headers=alice.auth)
    assert r.status_code == 200
    assert [e["amount"] for e in r.json()["items"]][:2] == [-2550, 10_000]
    r = await api.get("/transactions", headers=alice.auth, params={"wallet_id": wa})
    assert {t["type"] for t in r.json()["items"]} == {"deposit", "transfer"}
    # and bob sees his wallet but not alice's, nor her transaction
    assert (await api.get(f"/wallets/{wa}", headers=bob.auth)).status_code in (403, 404)
    assert (await api.get(f"/transactions/{tx['id']}", headers=bob.auth)).status_code == 404
    # and bob cannot move alice's money
    r = await money_post(api, bob, "/transfers",
                         {"from_wallet_id": wa, "to_wallet_id": wb, "amount": 1,
                          "currency": "USD"})  # fmt: skip
    assert r.status_code == 404 and r.json()["code"] == "wallet_not_found"
    assert (await balance(api, alice, wa))["ledger"] == 7450


async def test_500_concurrent_transfers_of_1_from_100(api: httpx.AsyncClient) -> None:
    alice, bob, wa, wb = await two_users(api, ("spender", "payee"), 100)
    body = {"from_wallet_id": wa, "to_wallet_id": wb, "amount": 1, "currency": "USD"}
    # when 500 transfers of 1 are posted at once
    answers = await asyncio.gather(
        *(money_post(api, alice, "/transfers", body) for _ in range(500))
    )
    assert Counter(r.status_code for r in answers) == {202: 500}
    ids = [r.json()["id"] for r in answers]
    finals = await asyncio.gather(*(until_terminal(api, alice, tx, timeout=120) for tx in ids))
    # then exactly 100 completed and 400 failed for insufficient funds
    outcome = Counter((f["status"], f["failure_reason"]) for f in finals)
    assert outcome == {("completed", None): 100, ("failed", "insufficient_funds"): 400}
    assert await settled_balance(api, alice, wa, 0) == {"ledger": 0, "available": 0}
    assert await settled_balance(api, bob, wb, 100) == {"ledger": 100, "available": 100}


async def test_transfer_into_frozen_wallet_is_reversed(
    api: httpx.AsyncClient, admin: User, settings: Settings
) -> None:
    alice, bob, wa, wb = await two_users(api, ("sender", "frozen"), 5000)
    r = await api.post(f"/wallets/{wb}/freeze", headers=admin.auth)
    assert r.status_code == 200 and r.json()["status"] == "frozen", r.text
    r = await money_post(api, alice, "/transfers",
                         {"from_wallet_id": wa, "to_wallet_id": wb, "amount": 1200,
                          "currency": "USD"}, wait=15)  # fmt: skip
    assert r.status_code == 200 and r.json()["status"] == "reversed", r.text
    assert r.json()["failure_reason"] == "wallet_frozen"
    assert await settled_balance(api, alice, wa, 5000) == {"ledger": 5000, "available": 5000}
    assert (await balance(api, bob, wb))["ledger"] == 0
    events = await read_topic(
        settings.kafka_bootstrap, TRANSACTION_EVENTS, lambda e: e.key == r.json()["id"]
    )
    assert [e.type for e in events].count("TransferReversed") == 1


async def test_idempotency_key_replay_and_mismatch(api: httpx.AsyncClient) -> None:
    alice, _, wa, wb = await two_users(api, ("payer", "receiver"), 1000)
    key = str(uuid.uuid4())
    body = {"from_wallet_id": wa, "to_wallet_id": wb, "amount": 300, "currency": "USD"}
    first = await money_post(api, alice, "/transfers", body, key=key)
    second = await money_post(api, alice, "/transfers", body, key=key)
    # the same key and body: the same answer, one effect
    assert first.status_code == second.status_code == 202
    assert first.json() == second.json()
    assert second.headers.get("idempotent-replayed") == "true"
    await until_terminal(api, alice, first.json()["id"])
    assert await settled_balance(api, alice, wa, 700) == {"ledger": 700, "available": 700}
    # the same key with another body: 409, and nothing moves
    other = await money_post(api, alice, "/transfers", {**body, "amount": 301}, key=key)
    assert other.status_code == 409 and other.json()["code"] == "idempotency_key_reused"
    await asyncio.sleep(1)
    assert (await balance(api, alice, wa))["ledger"] == 700
    r = await api.get("/transactions", headers=alice.auth, params={"type": "transfer"})
    assert len(r.json()["items"]) == 1


@pytest.mark.parametrize(
    ("patch", "status", "code"),
    [
        ({"amount": 25.5}, 422, "validation_error"),
        ({"amount": "2550"}, 422, "validation_error"),
        ({"amount": 0}, 422, "validation_error"),
        ({"amount": -5}, 422, "validation_error"),
        ({"currency": "XXX"}, 422, "validation_error"),
        ({"currency": "EUR"}, 422, "currency_mismatch"),
        ({"to_wallet_id": "not-a-uuid"}, 422, "validation_error"),
    ],
)
async def test_bad_transfers_are_refused_and_change_nothing(
    api: httpx.AsyncClient, patch: dict[str, object], status: int, code: str
) -> None:
    alice, _, wa, wb = await two_users(api, ("careful", "other"), 500)
    await settled_balance(api, alice, wa, 500)  # the read model has caught up
    body = {"from_wallet_id": wa, "to_wallet_id": wb, "amount": 100, "currency": "USD", **patch}
    r = await money_post(api, alice, "/transfers", body)
    assert r.status_code == status and r.json()["code"] == code, r.text
    assert r.headers["content-type"] == "application/problem+json"
    await asyncio.sleep(0.5)  # long enough for a wrong effect to reach the read model
    assert (await balance(api, alice, wa))["ledger"] == 500
    r = await api.post("/transfers", json=body | {"amount": 1}, headers=alice.auth)
    assert r.status_code in (400, 422)  # no Idempotency-Key
    r = await api.get("/transactions", headers=alice.auth, params={"type": "transfer"})
    assert r.json()["items"] == []


async def test_cross_currency_transfer_is_refused_until_fx(api: httpx.AsyncClient) -> None:
    alice, bob = await register(api, "usd"), await register(api, "eur")
    wa, wb = await open_wallet(api, alice, "USD"), await open_wallet(api, bob, "EUR")
    await deposit(api, alice, wa, 500)
    for _ in range(50):  # until the command API has learned of bob's new wallet
        r = await money_post(api, alice, "/transfers",
                             {"from_wallet_id": wa, "to_wallet_id": wb, "amount": 100,
                              "currency": "USD"})  # fmt: skip
        if r.status_code != 404:
            break
        await asyncio.sleep(0.1)
    assert r.status_code == 422 and r.json()["code"] == "cross_currency_unsupported"
    assert (await transaction(api, alice, (await deposit(api, alice, wa, 1))["id"]))["amount"] == 1
