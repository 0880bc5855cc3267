"""Batches of transfers through the gateway (``POST /transfers/batch``), on the whole
running stack: each item accepted or refused on its own, exactly once, to the end."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from common.errors import PROBLEM
from common.settings import Settings
from infra.testing.api import (
    User,
    deposit,
    money_post,
    open_wallet,
    register,
    settled_balance,
    two_users,
)
from wallet_svc.verify import verify

pytestmark = pytest.mark.e2e


def _item(key: str, src: str, dst: str, amount: int, **more: Any) -> dict[str, Any]:
    return {"idempotency_key": key, "from_wallet_id": src, "to_wallet_id": dst,
            "amount": amount, "currency": "USD", **more}  # fmt: skip


async def _post(api: httpx.AsyncClient, user: User, items: list[Any]) -> httpx.Response:
    return await api.post("/transfers/batch", json={"items": items}, headers=user.auth)


async def _until_done(
    api: httpx.AsyncClient, user: User, batch_id: str, timeout: float = 120
) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        r = await api.get(f"/transfers/batch/{batch_id}", headers=user.auth)
        assert r.status_code == 200, r.text
        if r.json()["status"] == "done":
            return dict(r.json())
        assert asyncio.get_running_loop().time() < deadline, r.json()["counts"]
        await asyncio.sleep(0.5)


async def test_each_item_is_accepted_or_refused_on_its_own_and_a_retry_makes_nothing_new(
    api: httpx.AsyncClient,
) -> None:
    # given alice with 100.00 and bob, and two keys alice used before in single transfers
    alice, bob, wa, wb = await two_users(api, ("batcher", "batchee"), 10_000)
    single = {"from_wallet_id": wa, "to_wallet_id": wb, "amount": 100, "currency": "USD"}
    before = await money_post(api, alice, "/transfers", single, key="used-same")
    await money_post(api, alice, "/transfers", single, key="used-other")
    # when she sends a batch of good and bad items
    items = [
        _item("b-1", wa, wb, 1_000, description="one"),
        _item("b-2", wa, str(uuid.uuid4()), 50),  # nobody's wallet
        _item("b-3", wb, wa, 50),  # bob's wallet as the source
        _item("b-4", wa, wb, 2.5),  # not whole minor units
        _item("b-5", wa, wa, 50),  # one wallet
        _item("used-other", wa, wb, 777),  # a key used before with another body
        _item("used-same", wa, wb, 100),  # the very transfer sent before
        _item("b-6", wa, wb, 20_000),  # more than she has: accepted, then fails
        _item("b-7", wa, wb, 2_000),
    ]
    r = await _post(api, alice, items)
    # then the batch is accepted with a batch id, each item with its own outcome
    assert r.status_code == 202, r.text
    batch = r.json()
    assert r.headers["location"] == f"/api/v1/transfers/batch/{batch['id']}"
    codes = [(i["problem"] or {}).get("code") for i in batch["items"]]
    assert codes == [None, "wallet_not_found", "wallet_not_found", "validation_error",
                     "same_wallet", "idempotency_key_reused", None, None, None]  # fmt: skip
    assert [i["index"] for i in batch["items"]] == list(range(9))
    assert batch["items"][6]["transaction_id"] == before.json()["id"]
    assert batch["counts"]["accepted"] == 4 and batch["counts"]["refused"] == 5
    # and its transfers run to their ends: the two good ones and the replay completed, the
    # one above the balance failed
    done = await _until_done(api, alice, batch["id"])
    outcome = [(i["status"], i["failure_reason"]) for i in done["items"]]
    assert outcome[0] == outcome[6] == outcome[8] == ("completed", None)
    assert outcome[7] == ("failed", "insufficient_funds")
    spent = 100 + 100 + 1_000 + 2_000  # the two singles, b-1 and b-7
    assert (await settled_balance(api, alice, wa, 10_000 - spent))["ledger"] == 10_000 - spent
    # when she sends the same batch again
    again = await _post(api, alice, items)
    # then it is the same batch with the same outcomes, and no money moved again
    assert again.status_code == 202, again.text
    assert again.json()["id"] == batch["id"]

    def shown(items: list[dict[str, Any]]) -> list[tuple[str | None, str | None]]:
        return [(i["transaction_id"], (i["problem"] or {}).get("code")) for i in items]

    assert shown(again.json()["items"]) == shown(batch["items"])
    assert again.json()["status"] == "done"
    listed = await api.get("/transactions", headers=alice.auth, params={"type": "transfer"})
    assert len(listed.json()["items"]) == 2 + 3  # two singles, three new from the batch
    assert (await settled_balance(api, bob, wb, spent))["ledger"] == spent
    # and bob does not see her batch
    assert (await api.get(f"/transfers/batch/{batch['id']}", headers=bob.auth)).status_code == 404


@pytest.mark.parametrize(
    "body",
    [{"items": []}, {"items": [{}] * 1001}, {"items": "all"}, {"items": [1]}, {"transfers": []}],
    ids=["empty", "1001 items", "not a list", "not objects", "no items"],
)
async def test_a_bad_batch_is_one_422_problem_and_makes_nothing(
    api: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    user = await register(api, "badbatch")
    r = await api.post("/transfers/batch", json=body, headers=user.auth)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == PROBLEM and r.json()["code"] == "validation_error"
    assert (await api.get("/transactions", headers=user.auth)).json()["items"] == []


async def test_a_batch_of_1000_reaches_terminal_and_the_ledger_verifies(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    # given a payer with 1,000.00 and ten payees
    payer = await register(api, "bulk-payer")
    payees = [await register(api, f"bulk-payee{i}") for i in range(10)]
    source = await open_wallet(api, payer)
    targets = [await open_wallet(api, p) for p in payees]
    await deposit(api, payer, source, 100_000)
    # when the payer sends 1,000 transfers of 0.01 in one request, 100 to each payee
    big = [_item(f"big-{n}", source, targets[n % 10], 1) for n in range(1000)]
    r = await _post(api, payer, big)
    # then all 1,000 are accepted in one answer
    assert r.status_code == 202, r.text
    assert r.json()["counts"] == {"accepted": 1000, "refused": 0, "by_status": {"pending": 1000}}
    # and they all complete, and the money is where it should be
    done = await _until_done(api, payer, r.json()["id"], timeout=180)
    assert done["counts"]["by_status"] == {"completed": 1000}
    assert (await settled_balance(api, payer, source, 99_000))["ledger"] == 99_000
    for payee, wallet in zip(payees, targets, strict=True):
        assert (await settled_balance(api, payee, wallet, 100))["ledger"] == 100
    # and the verifier, replaying the whole log, finds nothing wrong
    report = await verify(settings, wait=60)
    assert report.ok, report.format()
