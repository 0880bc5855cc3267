"""transaction_svc with ``unverified_may_move_money`` off: an account whose email is not
verified cannot move money out (403 ``email_not_verified``, nothing recorded); once it
is verified and signed in again, the same request passes that check."""

from __future__ import annotations

import os
import uuid

import httpx
import pytest

from common.settings import Settings
from infra.local.credentials import client_secret
from infra.testing.api import bearer, login, register, service_token
from infra.testing.kafka import read_topic
from infra.testing.stack import StackUnderTest

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def started(stack: StackUnderTest) -> StackUnderTest:
    # given transaction_svc configured to keep unverified accounts' money in
    os.environ["PAYSTREAM_UNVERIFIED_MAY_MOVE_MONEY"] = "false"
    stack.start_apps(["user_svc", "wallet_svc", "transaction_svc"])
    return stack


async def test_money_out_waits_for_a_verified_email(
    started: StackUnderTest, users: httpx.AsyncClient, transactions: httpx.AsyncClient
) -> None:
    person = await register(users, "unverified")
    transfer = {"from_wallet_id": str(uuid.uuid4()), "to_wallet_id": str(uuid.uuid4()),
                "amount": 100, "currency": "USD"}  # fmt: skip

    async def post(token: str, path: str, body: dict[str, object]) -> httpx.Response:
        headers = {**bearer(token), "Idempotency-Key": str(uuid.uuid4())}
        return await transactions.post(path, json=body, headers=headers)

    # when the unverified account sends money or withdraws: refused, nothing recorded
    r = await post(person.token, "/transfers", transfer)
    assert (r.status_code, r.json()["code"]) == (403, "email_not_verified"), r.text
    withdrawal = {"wallet_id": transfer["from_wallet_id"], "amount": 100, "currency": "USD",
                  "payout_method_id": str(uuid.uuid4())}  # fmt: skip
    r = await post(person.token, "/withdrawals", withdrawal)
    assert (r.status_code, r.json()["code"]) == (403, "email_not_verified"), r.text
    listed = await transactions.get("/transactions", headers=person.auth)
    assert listed.status_code == 200 and listed.json()["items"] == []

    # when the email is verified (the mailer's link) and the person signs in again
    events = await read_topic(Settings().kafka_bootstrap, "user-events",
                              lambda e: e.key == person.id)  # fmt: skip
    [requested] = [e for e in events if e.type == "EmailVerificationRequested"]
    secret = client_secret(started.cfg.run_dir, "notification_worker")
    mailer = {"client_id": "notification_worker", "client_secret": secret}
    link = await users.post("/internal/email-links",
                            json={"request_id": requested.payload["request_id"]},
                            headers=bearer(await service_token(users, mailer)))  # fmt: skip
    assert link.status_code == 200, link.text
    assert (await users.post("/auth/verify-email", json={"token": link.json()["token"]})).is_success
    verified = await login(users, person.email, person.password)
    # then the check passes (the unknown wallet is what is refused now)
    r = await post(verified.token, "/transfers", transfer)
    assert r.json().get("code") != "email_not_verified", r.text
    assert r.status_code == 404, r.text
