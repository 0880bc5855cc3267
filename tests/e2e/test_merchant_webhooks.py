"""Signed webhooks to merchants, through the gateway and a real HTTP receiver: every event
of a merchant's payments arrives signed, once after dedupe by Paystream-Event-Id, in order
per payment, although the receiver fails the first attempts of each; the deliveries and
their attempts are visible, a delivery can be sent again, the secret rotated; bad URLs are
refused with stable codes and only merchants manage webhooks."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pytest

from common.settings import Settings
from common.signatures import HEADER, SignatureRejected, verify
from common.topics import PAYMENT_EVENTS
from infra.testing.api import User, deposit, money_post, open_wallet, pay_merchant, register
from infra.testing.http_server import read_request
from infra.testing.kafka import read_topic, wait_for
from infra.testing.stack import StackUnderTest

pytestmark = pytest.mark.e2e

FAILURES_FIRST = 2  # the receiver answers 503 to the first attempts of every event
WORKER = "transaction_webhooks"


@dataclass
class Receiver:
    """A merchant's webhook receiver: verifies each signature with the secrets it holds,
    answers 503 to the first attempts of each event, and keeps what it was sent."""

    secrets: list[bytes] = field(default_factory=list)
    received: list[tuple[str, dict[str, Any], int]] = field(default_factory=list)
    signatures: list[tuple[str, bytes]] = field(default_factory=list)  # with the raw body
    bad_signatures: int = 0
    tries: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    port: int = 0

    def answer(self, event_id: str, body: bytes, signature: str) -> int:
        now = int(time.time())
        if not any(self._verifies(signature, body, s, now) for s in self.secrets):
            self.bad_signatures += 1
            return 400
        self.signatures.append((signature, body))
        self.tries[event_id] += 1
        status = 503 if self.tries[event_id] <= FAILURES_FIRST else 200
        self.received.append((event_id, orjson.loads(body), status))
        return status

    @staticmethod
    def _verifies(signature: str, body: bytes, secret: bytes, now: int) -> bool:
        try:
            verify(signature, body, secret, now)
        except SignatureRejected:
            return False
        return True

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while (request := await read_request(reader)) is not None:
            status = self.answer(
                request.header("paystream-event-id"), request.body, request.header(HEADER.lower())
            )
            writer.write(f"HTTP/1.1 {status} X\r\ncontent-length: 0\r\n\r\n".encode())
            await writer.drain()
        writer.close()

    def accepted(self) -> dict[str, dict[str, Any]]:
        """Event id -> the event, deduplicated by Paystream-Event-Id, as a receiver keeps."""
        return {e: body for e, body, status in self.received if status == 200}


@pytest.fixture(scope="module")
def quick_retries(apps: StackUnderTest) -> Iterator[None]:
    """The delivery worker retrying within a second (the default starts at 10 s)."""
    quick = {"PAYSTREAM_WEBHOOK_RETRY_BASE_S": "0.2", "PAYSTREAM_WEBHOOK_RETRY_MAX_S": "1"}
    apps.restart_app(WORKER, env=quick)
    yield
    apps.restart_app(WORKER)


@pytest.fixture(scope="module")
async def receiver(quick_retries: None) -> AsyncIterator[Receiver]:
    hooks = Receiver()
    server = await asyncio.start_server(hooks.serve, "127.0.0.1", 0)
    hooks.port = server.sockets[0].getsockname()[1]
    yield hooks
    server.close()


async def _pay(api: httpx.AsyncClient, payer: User, body: dict[str, Any]) -> dict[str, Any]:
    r = await pay_merchant(api, payer, body)
    assert r.status_code == 200 and r.json()["status"] == "completed", r.text
    return dict(r.json())


async def test_every_event_arrives_signed_once_after_dedupe_in_order_per_payment(
    api: httpx.AsyncClient, settings: Settings, receiver: Receiver
) -> None:
    # given a merchant with a USD wallet and a webhook for all its events
    merchant = await register(api, "hooked-shop", role="merchant")
    merchant_id = merchant.id
    await open_wallet(api, merchant)
    url = f"http://127.0.0.1:{receiver.port}/paystream"
    r = await api.post("/webhooks", json={"url": url, "events": ["*"]}, headers=merchant.auth)
    assert r.status_code == 201, r.text
    hook = r.json()
    assert hook["secret"].startswith("whsec_") and hook["status"] == "enabled"
    receiver.secrets.append(hook["secret"].encode())
    # and the secret is shown only once
    listed = await api.get("/webhooks", headers=merchant.auth)
    assert [w["id"] for w in listed.json()["items"]] == [hook["id"]]
    assert "secret" not in listed.json()["items"][0]
    # when a payer pays three orders and the merchant refunds one of them twice
    payer = await register(api, "hooked-buyer")
    wallet = await open_wallet(api, payer)
    await deposit(api, payer, wallet, 10_000)
    payments = []
    for amount in (1_000, 2_000, 3_000):
        body = {"merchant_id": merchant_id, "order_id": f"o-{uuid.uuid4().hex[:8]}",
                "amount": amount, "currency": "USD", "from_wallet_id": wallet}  # fmt: skip
        payments.append((await _pay(api, payer, body))["id"])
    for amount in (300, 200):
        refund = await money_post(
            api, merchant, f"/payments/{payments[0]}/refunds", {"amount": amount}, wait=15
        )
        assert refund.status_code == 200 and refund.json()["status"] == "completed", refund.text
    # then the receiver gets every payment event of those payments
    published = await read_topic(
        settings.kafka_bootstrap, PAYMENT_EVENTS, lambda e: e.key in payments
    )
    expected = {e.event_id: e for e in published}
    assert len(expected) == 3 * 2 + 2 * 2  # initiated and completed; each refund's two

    def all_arrived() -> bool:
        return set(receiver.accepted()) >= set(expected)

    await wait_for(all_arrived, timeout=90)
    # each signed (a bad signature would have been refused) and tried until it succeeded
    assert receiver.bad_signatures == 0
    accepted = receiver.accepted()
    assert set(accepted) == set(expected)
    assert all(receiver.tries[e] == FAILURES_FIRST + 1 for e in expected)
    # and each is the event as published on payment-events
    for event_id, body in accepted.items():
        assert body["event_id"] == event_id
        assert body["type"] == expected[event_id].type
        assert body["payload"]["merchant_id"] == merchant_id
    # and in order per payment: no attempt of an event before its predecessor succeeded
    for payment in payments:
        order = [e.event_id for e in published if e.key == payment]
        order = list(dict.fromkeys(order))  # a replayed duplicate keeps its first place
        sent = [(e, s) for e, body, s in receiver.received if body["key"] == payment]
        for before, after in itertools.pairwise(order):
            done = sent.index((before, 200))
            assert all(e != after for e, _ in sent[:done]), (payment, sent)
    # and the merchant sees each delivery with its three attempts
    r = await api.get(f"/webhooks/{hook['id']}/deliveries", params={"limit": 50},
                      headers=merchant.auth)  # fmt: skip
    assert r.status_code == 200, r.text
    deliveries = {d["event_id"]: d for d in r.json()["items"]}
    assert set(deliveries) == set(expected)
    for d in deliveries.values():
        assert d["status"] == "delivered" and d["webhook_id"] == hook["id"]
        assert [a["status_code"] for a in d["attempts"]] == [503, 503, 200]
        assert all(a["latency_ms"] >= 0 and a["attempt"] == n + 1
                   for n, a in enumerate(d["attempts"]))  # fmt: skip
        assert d["attempts"][0]["error"] == "http_503" and d["attempts"][2]["error"] is None

    # when the secret is rotated and a delivery sent again
    rotated = await api.post(f"/webhooks/{hook['id']}/rotate-secret", headers=merchant.auth)
    assert rotated.status_code == 200, rotated.text
    new_secret = rotated.json()["secret"]
    assert new_secret != hook["secret"]
    receiver.secrets[:] = [new_secret.encode()]  # the receiver knows only the new one
    again = next(iter(deliveries.values()))
    r = await api.post(
        f"/webhooks/{hook['id']}/deliveries/{again['id']}/redeliver", headers=merchant.auth
    )
    assert r.status_code == 202 and r.json()["status"] == "pending", r.text
    await wait_for(lambda: receiver.tries[again["event_id"]] == FAILURES_FIRST + 2, timeout=30)
    # then it arrives signed with both secrets, and the receiver dedupes it by its id
    assert receiver.bad_signatures == 0
    signature, body = receiver.signatures[-1]
    assert signature.count("v1=") == 2
    old_secret = hook["secret"].encode()
    assert verify(signature, body, old_secret, int(time.time())).signature in signature
    assert set(receiver.accepted()) == set(expected)

    # when the webhook is deleted, it is gone
    assert (await api.delete(f"/webhooks/{hook['id']}", headers=merchant.auth)).status_code == 204
    assert (await api.get(f"/webhooks/{hook['id']}", headers=merchant.auth)).status_code == 404


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("not a url", "webhook_url_invalid"),
        ("ftp://shop.example.com/hooks", "webhook_url_invalid"),
        ("https://user:secret@shop.example.com/hooks", "webhook_url_invalid"),
        ("http://10.1.2.3/hooks", "webhook_target_refused"),
        ("https://169.254.169.254/latest/meta-data", "webhook_target_refused"),
        ("https://[fd00::1]/hooks", "webhook_target_refused"),
        ("https://no-such-host.invalid/hooks", "webhook_host_unresolvable"),
    ],
)
async def test_a_bad_webhook_url_is_refused_with_a_stable_code_and_nothing_is_made(
    api: httpx.AsyncClient, url: str, code: str
) -> None:
    merchant = await register(api, "picky-shop", role="merchant")
    r = await api.post("/webhooks", json={"url": url, "events": ["*"]}, headers=merchant.auth)
    assert (r.status_code, r.json()["code"]) == (422, code), r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert (await api.get("/webhooks", headers=merchant.auth)).json()["items"] == []


async def test_only_merchants_manage_webhooks_and_only_their_own(
    api: httpx.AsyncClient, receiver: Receiver
) -> None:
    owner = await register(api, "owner-shop", role="merchant")
    body = {"url": f"http://127.0.0.1:{receiver.port}/h", "events": ["PaymentCompleted"]}
    made = await api.post("/webhooks", json=body, headers=owner.auth)
    assert made.status_code == 201, made.text
    hook = made.json()["id"]
    # an event no merchant receives is refused
    wrong = {**body, "events": ["DepositCompleted"]}
    r = await api.post("/webhooks", json=wrong, headers=owner.auth)
    assert (r.status_code, r.json()["code"]) == (422, "validation_error")
    # a user who is not a merchant may not make or list webhooks
    user = await register(api, "no-shop")
    for r in (
        await api.post("/webhooks", json=body, headers=user.auth),
        await api.get("/webhooks", headers=user.auth),
        await api.get(f"/webhooks/{hook}/deliveries", headers=user.auth),
    ):
        assert (r.status_code, r.json()["code"]) == (403, "forbidden"), r.text
    # another merchant does not see it, cannot delete or rotate it
    other = await register(api, "other-shop", role="merchant")
    for r in (
        await api.get(f"/webhooks/{hook}", headers=other.auth),
        await api.delete(f"/webhooks/{hook}", headers=other.auth),
        await api.post(f"/webhooks/{hook}/rotate-secret", headers=other.auth),
        await api.get(f"/webhooks/{hook}/deliveries", headers=other.auth),
    ):
        assert (r.status_code, r.json()["code"]) == (404, "webhook_not_found"), r.text
    assert (await api.get(f"/webhooks/{hook}", headers=owner.auth)).status_code == 200
