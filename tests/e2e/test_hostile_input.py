"""What a hostile or careless client sends, through the gateway: never a 500, never money
moved twice, never another user's wallet revealed."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections import Counter
from typing import Any

import httpx
import pytest

from infra.testing.api import (
    User,
    add_card,
    balance,
    deposit,
    money_post,
    open_wallet,
    register,
    settled_balance,
)

pytestmark = pytest.mark.e2e

JSON = {"content-type": "application/json"}
TOO_EARLY = "0001-01-01T00:00:00+14:00"  # before year 1 in UTC
TOO_LATE = "9999-12-31T23:59:59-14:00"  # after year 9999 in UTC


def _cursor(json_text: str) -> str:
    return base64.urlsafe_b64encode(json_text.encode()).decode().rstrip("=")


def _code(r: httpx.Response) -> tuple[int, str]:
    assert r.headers["content-type"].startswith("application/problem+json"), r.text
    return r.status_code, str(r.json()["code"])


@pytest.fixture(scope="module")
async def alice(api: httpx.AsyncClient) -> User:
    return await register(api, "alice")


@pytest.fixture(scope="module")
async def alice_wallet(api: httpx.AsyncClient, alice: User) -> str:
    wallet = await open_wallet(api, alice)
    await deposit(api, alice, wallet, 1_000)
    await settled_balance(api, alice, wallet, 1_000)  # the read model has caught up
    return wallet


async def test_nul_in_any_text_field_or_query_parameter_is_a_422(
    api: httpx.AsyncClient, alice: User, alice_wallet: str
) -> None:
    nul = "a\u0000b"
    transfer = {"from_wallet_id": alice_wallet, "to_wallet_id": str(uuid.uuid4()),
                "amount": 1, "currency": "USD", "description": nul}  # fmt: skip
    register_body = {"email": "nul@example.com", "password": "Long-enough-pass-1", "full_name": nul}
    answers = [
        await api.post("/auth/register", json=register_body),
        await api.patch("/users/me", json={"full_name": nul}, headers=alice.auth),
        await money_post(api, alice, "/transfers", transfer),
        await api.post("/wallets", json={"currency": "US\u0000"}, headers=alice.auth),
        await api.get("/transactions?status=%00", headers=alice.auth),
        await api.get("/transactions?wallet_id=x%00y", headers=alice.auth),
        await api.get("/transactions/%00", headers=alice.auth),
        await api.get("/wallets/%00", headers=alice.auth),
        await api.get(f"/wallets/{alice_wallet}/entries?cursor=%00", headers=alice.auth),
        await api.post(
            "/service/token",
            content=b"grant_type=client_credentials&client_id=%00&client_secret=x",
            headers={"content-type": "application/x-www-form-urlencoded"},
        ),
        await api.post(
            "/service/token",
            json={"grant_type": "client_credentials", "client_id": nul, "client_secret": "x"},
        ),
    ]
    assert [_code(r) for r in answers] == [(422, "validation_error")] * len(answers)
    # and nothing was created or moved
    assert (await balance(api, alice, alice_wallet))["ledger"] == 1_000


async def test_out_of_range_dates_and_cursor_numbers_are_refused(
    api: httpx.AsyncClient, alice: User, alice_wallet: str
) -> None:
    entries = f"/wallets/{alice_wallet}/entries"
    answers = {
        "since": await api.get(f"/transactions?since={TOO_EARLY}", headers=alice.auth),
        "until": await api.get(f"/transactions?until={TOO_LATE}", headers=alice.auth),
        "as_of": await api.get(f"{entries}?as_of={TOO_EARLY}", headers=alice.auth),
        "as_of late": await api.get(f"{entries}?as_of={TOO_LATE}", headers=alice.auth),
    }
    assert {k: r.status_code for k, r in answers.items()} == dict.fromkeys(answers, 422)
    forged = {
        "entries date": (entries, _cursor(f'["{TOO_EARLY}", 1]')),
        "entries id": (entries, _cursor('["2026-01-01T00:00:00+00:00", 9223372036854775808]')),
        "entries huge": (entries, _cursor('["2026-01-01T00:00:00+00:00", 1e400]')),
        "transactions": ("/transactions", _cursor(f'["{TOO_LATE}", "{uuid.uuid4()}"]')),
        "wallets": ("/wallets", _cursor("12345678901234567890123")),
        "garbage": ("/transactions", "%%%not-base64"),
    }
    codes = {
        k: _code(await api.get(path, params={"cursor": c}, headers=alice.auth))
        for k, (path, c) in forged.items()
    }
    assert codes == dict.fromkeys(forged, (400, "invalid_cursor"))


async def test_duplicate_json_keys_are_a_400_and_other_media_types_a_415(
    api: httpx.AsyncClient, alice: User, alice_wallet: str
) -> None:
    key = {"Idempotency-Key": str(uuid.uuid4())}
    dup_deposit = (f'{{"wallet_id": "{alice_wallet}", "amount": 1, "amount": 999, '
                   '"currency": "USD"}').encode()  # fmt: skip
    answers = [
        await api.post("/deposits", content=dup_deposit, headers={**alice.auth, **key, **JSON}),
        await api.post(
            "/wallets",
            content=b'{"currency": "USD", "currency": "EUR"}',
            headers={**alice.auth, **JSON},
        ),
        await api.post(
            "/auth/login",
            content=b'{"email": "a@b.c", "email": "d@e.f", "password": "x"}',
            headers=JSON,
        ),
    ]
    assert [_code(r) for r in answers] == [(400, "duplicate_key")] * 3
    body = f'{{"wallet_id": "{alice_wallet}", "amount": 1, "currency": "USD"}}'.encode()
    unsupported = [
        await api.post(
            "/deposits", content=body, headers={**alice.auth, **key, "content-type": "text/plain"}
        ),
        await api.post(
            "/wallets",
            content=b'{"currency": "USD"}',
            headers={**alice.auth, "content-type": "application/xml"},
        ),
        await api.post("/auth/register", content=b"{}", headers={"content-type": "text/plain"}),
    ]
    assert [_code(r) for r in unsupported] == [(415, "unsupported_media_type")] * 3
    assert (await balance(api, alice, alice_wallet))["ledger"] == 1_000


async def test_a_deposit_needs_an_idempotency_key_and_a_retry_credits_once(
    api: httpx.AsyncClient,
) -> None:
    # given a new wallet
    carol = await register(api, "carol")
    wallet = await open_wallet(api, carol)
    card = await add_card(api, carol)
    body = {"wallet_id": wallet, "amount": 500, "currency": "USD", "payment_method_id": card}
    # when a deposit comes without an Idempotency-Key, twice
    for _ in range(2):
        r = await api.post("/deposits", json=body, headers={**carol.auth, "Prefer": "wait=5"})
        # then it is refused
        assert _code(r) == (422, "validation_error")
        assert r.json()["errors"][0]["loc"] == ["header", "idempotency-key"]
    # when one with a key is retried three times
    key = str(uuid.uuid4())
    answers = [await money_post(api, carol, "/deposits", body, key=key, wait=15) for _ in range(3)]
    # then all three answers are the one transaction, and it credited once
    assert {r.json()["id"] for r in answers} == {answers[0].json()["id"]}
    assert answers[0].json()["status"] == "completed"
    await asyncio.sleep(1)
    assert await settled_balance(api, carol, wallet, 500) == {"ledger": 500, "available": 500}


def _without_ids(r: httpx.Response, *ids: str) -> dict[str, Any]:
    """The problem document with the wallet ids named in it blanked (and the instance)."""
    body = dict(r.json())
    body.pop("instance", None)
    for wallet_id in ids:
        body["detail"] = str(body.get("detail", "")).replace(wallet_id, "<id>")
    return body


async def test_a_wallet_the_caller_cannot_see_is_answered_as_an_unknown_one(
    api: httpx.AsyncClient, alice: User, alice_wallet: str
) -> None:
    # given mallory with a USD wallet and bob with a EUR wallet
    mallory, bob = await register(api, "mallory"), await register(api, "bob")
    mallory_wallet = await open_wallet(api, mallory)
    bob_eur = await open_wallet(api, bob, "EUR")
    unknown = str(uuid.uuid4())

    def transfer(src: str, dst: str, currency: str = "USD") -> dict[str, Any]:
        return {"from_wallet_id": src, "to_wallet_id": dst, "amount": 1, "currency": currency}

    # when mallory moves money out of alice's wallet, or out of one that does not exist
    theirs = await money_post(api, mallory, "/transfers", transfer(alice_wallet, mallory_wallet))
    nobody = await money_post(api, mallory, "/transfers", transfer(unknown, mallory_wallet))
    # then both are the same 404
    assert _code(theirs) == _code(nobody) == (404, "wallet_not_found")
    assert _without_ids(theirs, alice_wallet) == _without_ids(nobody, unknown)
    # and so for a deposit into alice's wallet
    dep = {"wallet_id": alice_wallet, "amount": 1, "currency": "USD",
           "payment_method_id": await add_card(api, mallory)}  # fmt: skip
    assert _code(await money_post(api, mallory, "/deposits", dep)) == (404, "wallet_not_found")
    # when alice pays bob's EUR wallet in USD: refused, without naming bob's currency
    cross = await money_post(api, alice, "/transfers", transfer(alice_wallet, bob_eur))
    assert _code(cross) == (422, "cross_currency_unsupported")
    assert "EUR" not in cross.text
    # and no money moved
    assert (await balance(api, alice, alice_wallet))["ledger"] == 1_000


async def test_a_wallet_answered_201_takes_a_transfer_at_once(api: httpx.AsyncClient) -> None:
    # given a payer with 200 units
    payer, payee = await register(api, "payer"), await register(api, "payee")
    source = await open_wallet(api, payer)
    await deposit(api, payer, source, 200)
    gate = asyncio.Semaphore(20)

    async def open_and_pay() -> int:
        async with gate:
            # when a wallet is opened and a transfer into it sent right after the 201
            wallet = await open_wallet(api, payee)
            body = {"from_wallet_id": source, "to_wallet_id": wallet, "amount": 1,
                    "currency": "USD"}  # fmt: skip
            return (await money_post(api, payer, "/transfers", body)).status_code

    statuses = await asyncio.gather(*(open_and_pay() for _ in range(200)))
    # then none of the 200 is refused
    assert Counter(statuses) == {202: 200}
    assert await settled_balance(api, payer, source, 0, timeout=60) == {"ledger": 0, "available": 0}
