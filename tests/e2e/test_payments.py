"""Money in and out through the provider, as users and an outside subscriber see it:
card deposits (paid, declined, asynchronous), withdrawals (paid out, failed, raced), the
4xx answers that charge and hold nothing, and the payment-events topic."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from common.settings import Settings
from common.signatures import sign
from common.topics import PAYMENT_EVENTS
from contracts.envelope import Envelope
from infra.testing.api import (
    ASYNC_CARD,
    CLOSED_IBAN,
    DECLINED_CARD,
    User,
    add_bank_account,
    add_card,
    balance,
    deposit,
    money_post,
    open_wallet,
    register,
    settled_balance,
    until_terminal,
)

pytestmark = pytest.mark.e2e

NO_FUNDS = "4000000000009995"


def _deposit(wallet: str, card: str, amount: int, currency: str = "USD") -> dict[str, Any]:
    return {"wallet_id": wallet, "amount": amount, "currency": currency, "payment_method_id": card}


def _withdrawal(wallet: str, bank: str, amount: int, currency: str = "USD") -> dict[str, Any]:
    return {"wallet_id": wallet, "amount": amount, "currency": currency, "payout_method_id": bank}


async def _payment_events(
    bootstrap: str, payment_ids: set[str], until: dict[str, str], timeout: float = 60
) -> dict[str, list[str]]:
    """The types of every payment event of ``payment_ids``, in topic order, read as an
    outside system reads them (its own group, read_committed, dedupe by event_id), until
    each payment's last event is the one ``until`` names."""
    consumer = AIOKafkaConsumer(
        PAYMENT_EVENTS,
        bootstrap_servers=bootstrap,
        group_id=f"outside-{uuid.uuid4().hex[:8]}",
        isolation_level="read_committed",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    seen: set[str] = set()
    types: dict[str, list[str]] = {p: [] for p in payment_ids}
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if all(types[p] and types[p][-1] == until[p] for p in payment_ids):
                return types
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    envelope = Envelope.from_bytes(record.value)
                    if envelope.key in types and envelope.event_id not in seen:
                        assert record.key == envelope.key.encode()
                        seen.add(envelope.event_id)
                        types[envelope.key].append(envelope.type)
        return types
    finally:
        await consumer.stop()


def _both(amount: int) -> dict[str, int]:
    """A balance with nothing held."""
    return {"ledger": amount, "available": amount}


@pytest.fixture(scope="module")
async def payer(api: httpx.AsyncClient) -> User:
    return await register(api, "payer")


async def test_card_deposits_credit_only_what_the_provider_charged(
    api: httpx.AsyncClient, payer: User, settings: Settings
) -> None:
    wallet = await open_wallet(api, payer)
    paid = await deposit(api, payer, wallet, 10_000)
    declined_card = await add_card(api, payer, DECLINED_CARD)
    declined = await money_post(
        api, payer, "/deposits", _deposit(wallet, declined_card, 700), wait=15
    )
    assert declined.status_code == 200, declined.text
    assert (declined.json()["status"], declined.json()["failure_reason"]) == (
        "failed",
        "card_declined",
    )
    broke_card = await add_card(api, payer, NO_FUNDS)
    broke = await money_post(api, payer, "/deposits", _deposit(wallet, broke_card, 300), wait=15)
    assert (broke.json()["status"], broke.json()["failure_reason"]) == (
        "failed",
        "insufficient_funds",
    )
    # the asynchronous card: processing, then the provider's signed callback decides it
    async_card = await add_card(api, payer, ASYNC_CARD)
    later = await money_post(api, payer, "/deposits", _deposit(wallet, async_card, 2_000))
    assert later.status_code == 202 and later.json()["status"] in ("pending", "processing")
    done = await until_terminal(api, payer, later.json()["id"], timeout=30)
    assert done["status"] == "completed", done
    assert [s["step"] for s in done["steps"]][:3] == ["requested", "charge", "charge"]
    # only the paid charges were credited
    assert await settled_balance(api, payer, wallet, 12_000, available=12_000) == _both(12_000)
    # and an outside subscriber saw each deposit's life, in order, once
    events = await _payment_events(
        settings.kafka_bootstrap,
        {paid["id"], declined.json()["id"], later.json()["id"]},
        {paid["id"]: "DepositCompleted", declined.json()["id"]: "DepositFailed",
         later.json()["id"]: "DepositCompleted"},
    )  # fmt: skip
    assert events[paid["id"]] == ["DepositInitiated", "ChargeSucceeded", "DepositCompleted"]
    assert events[declined.json()["id"]] == ["DepositInitiated", "ChargeFailed", "DepositFailed"]
    assert events[later.json()["id"]] == [
        "DepositInitiated", "ChargePending", "ChargeSucceeded", "DepositCompleted",
    ]  # fmt: skip


async def test_a_withdrawal_holds_at_once_and_pays_out_or_releases(
    api: httpx.AsyncClient, payer: User, settings: Settings
) -> None:
    wallet = await open_wallet(api, payer)
    await deposit(api, payer, wallet, 5_000)
    await settled_balance(api, payer, wallet, 5_000)
    bank = await add_bank_account(api, payer)
    closed = await add_bank_account(api, payer, CLOSED_IBAN)
    paid = await money_post(api, payer, "/withdrawals", _withdrawal(wallet, bank, 1_200), wait=15)
    assert paid.status_code == 200 and paid.json()["status"] == "completed", paid.text
    assert paid.json()["type"] == "withdrawal" and paid.json()["from_wallet_id"] == wallet
    failed = await money_post(api, payer, "/withdrawals", _withdrawal(wallet, closed, 800), wait=15)
    assert (failed.json()["status"], failed.json()["failure_reason"]) == (
        "failed",
        "account_closed",
    )
    # the paid one left the ledger; the failed one holds nothing
    assert await settled_balance(api, payer, wallet, 3_800, available=3_800) == _both(3_800)
    # both are in /transactions with their status, the paid one in the wallet's entries
    r = await api.get(
        "/transactions", headers=payer.auth, params={"type": "withdrawal", "wallet_id": wallet}
    )
    listed = {t["id"]: (t["status"], t["failure_reason"]) for t in r.json()["items"]}
    assert listed == {
        paid.json()["id"]: ("completed", None),
        failed.json()["id"]: ("failed", "account_closed"),
    }
    r = await api.get(f"/wallets/{wallet}/entries", headers=payer.auth)
    entries = {
        (e["kind"], e["amount"])
        for e in r.json()["items"]
        if e["transaction_id"] == paid.json()["id"]
    }
    assert entries == {("HoldPlaced", -1_200), ("HoldCaptured", -1_200)}
    assert [e["ledger_after"] for e in r.json()["items"] if e["kind"] == "HoldCaptured"] == [3_800]
    events = await _payment_events(
        settings.kafka_bootstrap,
        {paid.json()["id"], failed.json()["id"]},
        {paid.json()["id"]: "WithdrawalCompleted", failed.json()["id"]: "WithdrawalFailed"},
    )
    assert events[paid.json()["id"]] == [
        "WithdrawalInitiated", "WithdrawalFundsHeld", "PayoutSucceeded", "WithdrawalCompleted",
    ]  # fmt: skip
    assert events[failed.json()["id"]] == [
        "WithdrawalInitiated", "WithdrawalFundsHeld", "PayoutFailed", "WithdrawalFailed",
    ]  # fmt: skip


async def test_fifty_racing_withdrawals_pay_out_exactly_what_was_available(
    api: httpx.AsyncClient,
) -> None:
    racer = await register(api, "racer")
    wallet = await open_wallet(api, racer)
    await deposit(api, racer, wallet, 100)
    await settled_balance(api, racer, wallet, 100)
    bank = await add_bank_account(api, racer)
    answers = await asyncio.gather(
        *(money_post(api, racer, "/withdrawals", _withdrawal(wallet, bank, 10)) for _ in range(50))
    )
    assert {r.status_code for r in answers} == {202}
    finals = [await until_terminal(api, racer, r.json()["id"]) for r in answers]
    assert Counter((f["status"], f["failure_reason"]) for f in finals) == {
        ("completed", None): 10,
        ("failed", "insufficient_funds"): 40,
    }
    # nothing stays held, and the ledger paid out exactly the 100
    assert await settled_balance(api, racer, wallet, 0, available=0) == _both(0)


async def test_a_method_that_cannot_pay_is_a_4xx_and_charges_and_holds_nothing(
    api: httpx.AsyncClient, payer: User
) -> None:
    wallet = await open_wallet(api, payer)
    await deposit(api, payer, wallet, 1_000)
    await settled_balance(api, payer, wallet, 1_000)
    card = await add_card(api, payer)
    bank = await add_bank_account(api, payer)
    gbp_bank = await add_bank_account(api, payer, currency="GBP")
    stranger = await register(api, "stranger")
    their_card = await add_card(api, stranger)
    cases = [
        ("/deposits", _deposit(wallet, their_card, 100), 404, "payment_method_not_found"),
        ("/deposits", _deposit(wallet, str(uuid.uuid4()), 100), 404, "payment_method_not_found"),
        ("/deposits", _deposit(wallet, bank, 100), 422, "not_a_card"),
        ("/deposits", _deposit(wallet, card, 10**12), 422, "amount_too_large"),
        ("/withdrawals", _withdrawal(wallet, card, 100), 422, "not_a_bank_account"),
        ("/withdrawals", _withdrawal(wallet, gbp_bank, 100), 422, "currency_unsupported"),
        ("/withdrawals", _withdrawal(wallet, bank, 10**12), 422, "amount_too_large"),
    ]
    for path, body, status, code in cases:
        r = await money_post(api, payer, path, body)
        assert (r.status_code, r.json()["code"]) == (status, code), (path, body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    # a card in a currency it cannot pay in: a JPY wallet deposit by card works, a KRW one not
    krw = await open_wallet(api, payer, "KRW")
    r = await money_post(api, payer, "/deposits", _deposit(krw, card, 100, "KRW"))
    assert (r.status_code, r.json()["code"]) == (422, "currency_unsupported")
    # nothing was recorded, charged or held
    await asyncio.sleep(0.5)
    assert await balance(api, payer, wallet) == {"ledger": 1_000, "available": 1_000}
    r = await api.get("/transactions", headers=payer.auth, params={"wallet_id": wallet})
    assert [t["type"] for t in r.json()["items"]] == ["deposit"]


async def test_the_providers_callback_is_refused_unless_freshly_and_rightly_signed(
    settings: Settings, payer: User, api: httpx.AsyncClient
) -> None:
    wallet = await open_wallet(api, payer)
    async_card = await add_card(api, payer, ASYNC_CARD)
    r = await money_post(api, payer, "/deposits", _deposit(wallet, async_card, 500))
    tx = r.json()["id"]
    secret = settings.provider_callback_secret.get_secret_value().encode()
    body = (
        f'{{"charge_id": "{uuid.uuid4()}", "idempotency_key": "{tx}:charge", '
        '"status": "failed", "amount": 500, "currency": "USD", "failure_reason": "forged"}'
    ).encode()
    url = f"{settings.transaction_svc_url}/internal/provider/callbacks"
    now = int(time.time())
    async with httpx.AsyncClient() as client:

        async def post(signature: str | None) -> tuple[int, str]:
            headers = {"content-type": "application/json"}
            if signature is not None:
                headers["Paystream-Signature"] = signature
            answer = await client.post(url, content=body, headers=headers)
            return answer.status_code, answer.json()["code"]

        assert await post(None) == (401, "signature_missing")
        assert await post(sign(b"not the secret", now, body)) == (401, "signature_bad_signature")
        assert await post(sign(secret, now - 301, body)) == (401, "signature_stale_timestamp")
        assert await post("t=1,v1=zz") == (401, "signature_malformed_header")
    # none of those decided the deposit: the provider's own callback does
    done = await until_terminal(api, payer, tx, timeout=30)
    assert done["status"] == "completed", done
    # a signed callback that contradicts the decided charge is refused, and says nothing
    late = await _post_signed(url, body, sign(secret, int(time.time()), body))
    assert (late.status_code, late.json()["code"]) == (409, "charge_already_decided")
    # one that agrees is taken (204) once, and its replay refused
    agreeing = body.replace(b'"failed"', b'"captured"')
    signature = sign(secret, int(time.time()), agreeing)
    first = await _post_signed(url, agreeing, signature)
    again = await _post_signed(url, agreeing, signature)
    assert first.status_code == 204, first.text
    assert (again.status_code, again.json()["code"]) == (409, "callback_replayed")
    # and the deposit stays decided; the topic never said the charge failed
    assert (await until_terminal(api, payer, tx))["status"] == "completed"
    events = await _payment_events(settings.kafka_bootstrap, {tx}, {tx: "DepositCompleted"})
    assert "ChargeFailed" not in events[tx]


async def _post_signed(url: str, body: bytes, signature: str) -> httpx.Response:
    headers = {"content-type": "application/json", "Paystream-Signature": signature}
    async with httpx.AsyncClient() as client:
        return await client.post(url, content=body, headers=headers)


async def test_a_deleted_card_pays_nothing(api: httpx.AsyncClient) -> None:
    # given a card that paid once, then deleted
    owner = await register(api, "forgetful")
    wallet = await open_wallet(api, owner)
    await deposit(api, owner, wallet, 300)
    card = await add_card(api, owner)
    assert (await api.delete(f"/payment-methods/{card}", headers=owner.auth)).status_code == 204
    # when it is used again: refused at once (404), or, while the command API still
    # remembers the card (ProviderClient.method_ttl_s), failed by the provider's refusal
    r = await money_post(api, owner, "/deposits", _deposit(wallet, card, 500), wait=15)
    refused = r.status_code == 404 and r.json()["code"] == "payment_method_not_found"
    failed = r.status_code == 200 and (r.json()["status"], r.json()["failure_reason"]) == (
        "failed",
        "payment_method_not_found",
    )
    assert refused or failed, r.text
    # then nothing more was credited
    await asyncio.sleep(0.5)
    assert await settled_balance(api, owner, wallet, 300, available=300) == _both(300)
