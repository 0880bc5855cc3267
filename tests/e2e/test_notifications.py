"""Notifications through the whole stack: a transfer ends as a mail in the SMTP server's
store for both parties, a forgotten password is reset from the mail and ends the old
sessions, and nobody reads another's notifications."""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from common.settings import Settings
from infra.testing.api import (
    bearer,
    login_pair,
    money_post,
    register,
    two_users,
)
from infra.testing.mailbox import wait_for_mail
from infra.testing.stack import StackUnderTest
from notification_worker import store

pytestmark = pytest.mark.e2e


async def test_a_transfer_is_mailed_to_both_parties(
    api: httpx.AsyncClient, apps: StackUnderTest
) -> None:
    # given two people with a wallet each, one funded
    ann, ben, wa, wb = await two_users(api, ("ann", "ben"), 10_000, "EUR")
    # when ann sends ben 25.50
    r = await money_post(
        api,
        ann,
        "/transfers",
        {"from_wallet_id": wa, "to_wallet_id": wb, "amount": 2550, "currency": "EUR"},
        wait=15,
    )
    assert r.status_code == 200 and r.json()["status"] == "completed", r.text
    tx = r.json()["id"]
    # then the SMTP server holds one mail for each of them, naming the amount
    [sent] = await wait_for_mail(
        apps.cfg.mail_dir, lambda m: ann.email in m.to and "You sent" in m.subject
    )
    [got] = await wait_for_mail(
        apps.cfg.mail_dir, lambda m: ben.email in m.to and "You received" in m.subject
    )
    assert sent.subject == "You sent 25.50 EUR" and got.subject == "You received 25.50 EUR"
    assert tx in sent.body("plain") and tx in got.body("html")
    # and the deposit was mailed to ann too
    await wait_for_mail(
        apps.cfg.mail_dir,
        lambda m: ann.email in m.to and m.subject == "Your deposit of 100.00 EUR arrived",
    )
    # and each reads their own history through the gateway, never the other's
    r = await api.get("/notifications", headers=ben.auth)
    assert r.status_code == 200, r.text
    mine = r.json()["items"]
    assert "transfer_received" in {i["kind"] for i in mine}
    r = await api.get("/notifications", headers=ann.auth)
    theirs = {i["id"] for i in r.json()["items"]}
    assert theirs and not theirs & {i["id"] for i in mine}
    r = await api.post(f"/notifications/{mine[0]['id']}/read", headers=ann.auth)
    assert (r.status_code, r.json()["code"]) == (404, "notification_not_found")


async def test_a_person_the_worker_has_not_projected_is_still_mailed(
    api: httpx.AsyncClient, apps: StackUnderTest
) -> None:
    # given two people with wallets whose registration and wallets the worker has read
    dee, eve, wd, we = await two_users(api, ("dee", "eve"), 5_000, "EUR")
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(Settings().mongo_url)
    db = client[Settings().mongo_db]
    try:
        for _ in range(300):
            if await db[store.USERS].find_one({"_id": eve.id}) and await db[store.WALLETS].find_one(
                {"_id": we}
            ):
                break
            await asyncio.sleep(0.1)
        # and then forgot (as on a cold start, when a transfer is read before them)
        await db[store.USERS].delete_one({"_id": eve.id})
        await db[store.WALLETS].delete_one({"_id": we})
        # when dee sends eve 7.00
        r = await money_post(
            api,
            dee,
            "/transfers",
            {"from_wallet_id": wd, "to_wallet_id": we, "amount": 700, "currency": "EUR"},
            wait=15,
        )
        assert r.status_code == 200 and r.json()["status"] == "completed", r.text
        # then eve is mailed all the same: the worker asked wallet_svc and user_svc
        [got] = await wait_for_mail(
            apps.cfg.mail_dir, lambda m: eve.email in m.to and "You received" in m.subject
        )
        assert got.subject == "You received 7.00 EUR"
        assert (await db[store.WALLETS].find_one({"_id": we}))["owner_id"] == eve.id
    finally:
        await client.close()


async def test_forgot_password_mail_resets_and_ends_old_sessions(
    api: httpx.AsyncClient, apps: StackUnderTest
) -> None:
    # given a person signed in on two devices
    cai = await register(api, "cai")
    other = await login_pair(api, cai)
    # when they say they forgot the password (and someone asks for an unknown email)
    for email in (cai.email, f"ghost-{uuid.uuid4().hex[:8]}@example.com"):
        r = await api.post("/auth/password/forgot", json={"email": email})
        assert r.status_code == 202, r.text
    # then a reset mail arrives with a one-time link
    [mail] = await wait_for_mail(
        apps.cfg.mail_dir, lambda m: cai.email in m.to and m.subject == "Reset your password"
    )
    found = re.search(r"reset-password\?token=([\w-]+)", mail.body("plain"))
    assert found, mail.body("plain")
    # when the link's token sets a new password
    new_password = f"Reset-horse-{uuid.uuid4().hex[:6]}"
    r = await api.post(
        "/auth/password/reset", json={"token": found.group(1), "new_password": new_password}
    )
    assert r.status_code == 204, r.text
    # then both old sessions are refused at the gateway, and the token cannot be reused
    for token in (cai.token, other["access_token"]):
        for _ in range(20):
            r = await api.get("/users/me", headers=bearer(token))
            if r.status_code == 401:
                break
            await asyncio.sleep(0.1)
        assert r.status_code == 401, r.text
    r = await api.post(
        "/auth/password/reset", json={"token": found.group(1), "new_password": new_password + "x"}
    )
    assert (r.status_code, r.json()["code"]) == (400, "invalid_token")
    # and the new password signs in, and the change is mailed
    r = await api.post("/auth/login", json={"email": cai.email, "password": new_password})
    assert r.status_code == 200, r.text
    await wait_for_mail(
        apps.cfg.mail_dir, lambda m: cai.email in m.to and m.subject == "Your password was changed"
    )
