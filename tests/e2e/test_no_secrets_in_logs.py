"""No password, token or client secret reaches a log file, whatever the request did.

A whole flow runs through the gateway with secrets that cannot occur by chance; then
every file in the run folder's ``logs`` (every process of the stack) is searched for them.
"""

from __future__ import annotations

import asyncio
import re
import uuid

import httpx
import pytest

from common.settings import Settings
from infra.local.credentials import client_secret
from infra.testing.api import (
    ADMIN_PASSWORD,
    User,
    bearer,
    deposit,
    login,
    money_post,
    open_wallet,
    register,
    service_client,
    service_token,
)
from infra.testing.mailbox import wait_for_mail
from infra.testing.stack import StackUnderTest

pytestmark = pytest.mark.e2e


async def test_no_secrets_in_any_log(
    api: httpx.AsyncClient, admin: User, apps: StackUnderTest, settings: Settings
) -> None:
    mark = uuid.uuid4().hex
    email = f"secretive-{mark[:8]}@example.com"
    password = f"Pw-{mark}-Zebra!"
    wrong_password = f"Wrong-{uuid.uuid4().hex}-Pw!"
    weak_password = f"weak{uuid.uuid4().hex[:6]}"  # refused: one character class only
    secrets: dict[str, str] = {
        "password": password,
        "wrong password": wrong_password,
        "weak password": weak_password,
        "admin password": ADMIN_PASSWORD,
    }

    # registration, including refused ones that carry a password
    r = await api.post(
        "/auth/register", json={"email": email, "password": password, "full_name": "Secret Keeper"}
    )
    assert r.status_code == 201, r.text
    user_id = r.json()["id"]
    r = await api.post(
        "/auth/register",
        json={
            "email": f"weak-{mark[:8]}@example.com",
            "password": weak_password,
            "full_name": "Weak",
        },
    )
    assert r.status_code == 422, r.text
    r = await api.post(
        "/auth/register",
        json={"email": "not-an-email", "password": password, "full_name": "Bad", "extra": password},
    )
    assert r.status_code == 422, r.text
    # the one-time email token, as mailed by notification_worker (never on Kafka), used,
    # then replayed
    [mail] = await wait_for_mail(apps.cfg.mail_dir, lambda m: email in m.to)
    found = re.search(r"token=([\w-]+)", mail.body("plain"))
    assert found, mail.body("plain")
    email_token = found.group(1)
    secrets["mailer client secret"] = client_secret(apps.cfg.run_dir, "notification_worker")
    secrets["email token"] = email_token
    r = await api.post("/auth/verify-email", json={"token": email_token})
    assert r.status_code == 200 and r.json()["email_verified"] is True, r.text
    r = await api.post("/auth/verify-email", json={"token": email_token})
    assert r.status_code == 400, r.text
    # logins: a good one, a wrong password, an unknown email, a malformed body
    r = await api.post("/auth/login", json={"email": email, "password": password})
    assert r.status_code == 200, r.text
    first = r.json()
    r = await api.post("/auth/login", json={"email": email, "password": wrong_password})
    assert r.status_code == 401, r.text
    r = await api.post(
        "/auth/login", json={"email": f"nobody-{mark[:8]}@example.com", "password": wrong_password}
    )
    assert r.status_code == 401, r.text
    r = await api.post("/auth/login", json={"email": email, "password": wrong_password, "x": 1})
    assert r.status_code == 422, r.text
    # refresh, and a reuse (the family is revoked), then a fresh session
    r = await api.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert r.status_code == 200, r.text
    second = r.json()
    r = await api.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert r.status_code == 401, r.text
    user = await login(api, email, password)
    r = await api.post("/auth/login", json={"email": email, "password": password})
    assert r.status_code == 200, r.text
    third = r.json()
    secrets |= {
        "access token 1": first["access_token"],
        "refresh token 1": first["refresh_token"],
        "access token 2": second["access_token"],
        "refresh token 2": second["refresh_token"],
        "access token 3": user.token,
        "access token 4": third["access_token"],
        "refresh token 4": third["refresh_token"],
        "admin token": admin.token,
    }
    # money: a deposit and a transfer, with the bearer token on every request
    other = await register(api, "counterpart")
    secrets |= {"counterpart password": other.password, "counterpart token": other.token}
    wa, wb = await open_wallet(api, user), await open_wallet(api, other)
    await deposit(api, user, wa, 5000)
    r = await money_post(
        api,
        user,
        "/transfers",
        {
            "from_wallet_id": wa,
            "to_wallet_id": wb,
            "amount": 1234,
            "currency": "USD",
            "description": "rent",
        },
        wait=15,
    )
    assert r.status_code == 200 and r.json()["status"] == "completed", r.text
    # requests refused for their token, which carry it anyway
    r = await api.get("/wallets", headers=bearer(first["access_token"][:-4] + "AAAA"))
    assert r.status_code == 401, r.text
    r = await api.get(f"/wallets/{wa}", headers=other.auth)
    assert r.status_code in (403, 404), r.text
    r = await api.post("/auth/refresh", json={"refresh_token": f"unknown-{mark}"})
    assert r.status_code == 401, r.text
    secrets["made-up refresh token"] = f"unknown-{mark}"
    # a service client: its secret, its token, a wrong secret, and a token check
    client = await service_client(api, admin, ["tokens:verify"])
    wrong_secret = f"wrong-secret-{uuid.uuid4().hex}"
    secrets |= {"client secret": client["client_secret"], "wrong client secret": wrong_secret}
    r = await api.post(  # JSON here, a form in service_token: both bodies carry a secret
        "/service/token",
        json={
            "grant_type": "client_credentials",
            "client_id": client["client_id"],
            "client_secret": wrong_secret,
        },
    )
    assert r.status_code == 401, r.text
    secrets["service token"] = await service_token(api, client)
    r = await api.post(
        "/service/verify", json={"token": user.token}, headers=bearer(secrets["service token"])
    )
    assert r.status_code == 200, r.text
    # the client the launcher seeded for transaction_svc: its secret, and a token of it
    seeded = {
        "client_id": "transaction_svc",
        "client_secret": client_secret(apps.cfg.run_dir, "transaction_svc"),
    }
    secrets["seeded client secret"] = seeded["client_secret"]
    secrets["seeded client token"] = await service_token(api, seeded)
    # logout
    r = await api.post(
        "/auth/logout",
        json={"refresh_token": third["refresh_token"]},
        headers=bearer(third["access_token"]),
    )
    assert r.status_code == 204, r.text

    await asyncio.sleep(2)  # let every process write what it has to say
    logs = apps.cfg.run_dir / "logs"
    files = sorted(p for p in logs.rglob("*") if p.is_file())
    names = {p.name for p in files}
    assert any("gateway" in n for n in names) and any("user_svc" in n for n in names), names
    texts = {p: p.read_bytes().decode("utf-8", "replace") for p in files}
    # the logs we search did see this flow (so the search is not vacuous)
    assert any(user_id in t for t in texts.values()), "user_svc did not log the registration"
    # JWTs: the signature alone is as good as the token; look for it too
    for name, value in list(secrets.items()):
        if value.count(".") == 2 and value.startswith("ey"):
            secrets[f"{name} (signature)"] = value.rsplit(".", 1)[1]
    leaks = [
        f"{path.relative_to(logs)}: {name}"
        for path, text in texts.items()
        for name, value in secrets.items()
        if value in text
    ]
    leaks += [f"{p.relative_to(logs)}: 'Bearer ey'" for p, t in texts.items() if "Bearer ey" in t]
    assert not leaks, "secrets in logs:\n" + "\n".join(sorted(leaks))
