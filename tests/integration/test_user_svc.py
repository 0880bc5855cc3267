"""user_svc as a real process on the real stack: accounts, sessions, keys, service clients."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest
from aiokafka import AIOKafkaConsumer

from common.settings import Settings
from common.topics import USER_EVENTS
from contracts.envelope import Envelope
from infra.testing.stack import StackUnderTest

pytestmark = pytest.mark.integration

ADMIN_EMAIL = "first.admin@user-svc.example.com"
ADMIN_PASSWORD = "Adm1n-Integration-Passphrase-7"  # fixed: the database outlives a session
PASSWORD = "Correct-Horse-" + uuid.uuid4().hex[:8]
SECRETS: set[str] = {PASSWORD}  # every secret seen here; none may reach the log


@pytest.fixture(scope="module")
def base_url(stack: StackUnderTest) -> str:
    # given user_svc configured with a first admin
    os.environ["PAYSTREAM_ADMIN_EMAIL"] = ADMIN_EMAIL
    os.environ["PAYSTREAM_ADMIN_PASSWORD"] = ADMIN_PASSWORD
    stack.start_apps(["user_svc"])
    return Settings().user_svc_url


@pytest.fixture
async def http(base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        yield client


def _remember(body: dict[str, Any]) -> dict[str, Any]:
    for key in ("access_token", "refresh_token", "client_secret", "token"):
        if isinstance(body.get(key), str):
            SECRETS.add(body[key])
    return body


async def _register(http: httpx.AsyncClient, **extra: Any) -> dict[str, Any]:
    email = f"user-{uuid.uuid4().hex[:10]}@example.com"
    resp = await http.post("/auth/register",
                           json={"email": email, "password": PASSWORD, "full_name": "Ann Lee",
                                 **extra})  # fmt: skip
    assert resp.status_code == 201, resp.text
    return resp.json()


async def _login(http: httpx.AsyncClient, email: str, password: str = PASSWORD) -> dict[str, Any]:
    resp = await http.post("/auth/login", json={"email": email, "password": password})
    assert resp.status_code == 200, resp.text
    return _remember(resp.json())


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _events_of(user_id: str, wanted: set[str], timeout: float = 30) -> dict[str, Envelope]:
    """The first envelope of each wanted type keyed by ``user_id`` on user-events."""
    consumer = AIOKafkaConsumer(
        USER_EVENTS, bootstrap_servers=Settings().kafka_bootstrap, group_id=None,
        auto_offset_reset="earliest", isolation_level="read_committed",
        enable_auto_commit=False,
    )  # fmt: skip
    found: dict[str, Envelope] = {}
    await consumer.start()
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and set(found) != wanted:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    env = Envelope.from_bytes(record.value)
                    if env.key == user_id and env.type in wanted and env.type not in found:
                        assert record.key == user_id.encode()
                        found[env.type] = env
    finally:
        await consumer.stop()
    assert set(found) == wanted, f"missing events: {wanted - set(found)}"
    return found


async def test_register_verify_login_refresh_reuse_and_logout(http: httpx.AsyncClient) -> None:
    # given a new account
    user = await _register(http)
    assert user["role"] == "user" and user["email_verified"] is False
    assert set(user) == {"id", "email", "full_name", "role", "email_verified", "created_at"}

    # then the same email cannot register twice, and weak passwords are explained
    dup = await http.post("/auth/register", json={"email": user["email"].upper(),
                          "password": PASSWORD, "full_name": "X"})  # fmt: skip
    assert (dup.status_code, dup.json()["code"]) == (409, "email_taken")
    weak = await http.post("/auth/register", json={"email": "w@example.com",
                           "password": "password", "full_name": "W"})  # fmt: skip
    assert weak.status_code == 422 and weak.json()["code"] == "weak_password"
    assert weak.headers["content-type"] == "application/problem+json"

    # when the verification email request is read from Kafka and its token confirmed
    events = await _events_of(user["id"], {"UserRegistered", "EmailVerificationRequested"})
    token = _remember(events["EmailVerificationRequested"].payload)["token"]
    verified = await http.post("/auth/verify-email", json={"token": token})
    assert verified.status_code == 200 and verified.json()["email_verified"] is True
    again = await http.post("/auth/verify-email", json={"token": token})
    assert (again.status_code, again.json()["code"]) == (400, "invalid_token")
    await _events_of(user["id"], {"EmailVerified"})

    # then wrong passwords and unknown emails get the same answer
    for email, pw in ((user["email"], PASSWORD + "x"), ("nobody@example.com", PASSWORD)):
        bad = await http.post("/auth/login", json={"email": email, "password": pw})
        assert (bad.status_code, bad.json()["code"]) == (401, "invalid_credentials")

    # when the user logs in, reads and renames their profile
    pair = await _login(http, user["email"])
    assert pair["token_type"] == "bearer" and pair["expires_in"] == 3600
    me = await http.get("/users/me", headers=_bearer(pair["access_token"]))
    assert me.status_code == 200 and me.json()["id"] == user["id"]
    assert me.json()["email_verified"] is True
    renamed = await http.patch("/users/me", json={"full_name": "Ann B. Lee"},
                               headers=_bearer(pair["access_token"]))  # fmt: skip
    assert renamed.json()["full_name"] == "Ann B. Lee"
    assert (await http.get("/users/me")).status_code == 401

    # when the refresh token is rotated
    rotated = await http.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert rotated.status_code == 200
    new_pair = _remember(rotated.json())
    assert new_pair["refresh_token"] != pair["refresh_token"]
    assert (await http.get("/users/me", headers=_bearer(new_pair["access_token"]))).is_success

    # then presenting the old one again is reuse: the whole family dies
    reuse = await http.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert (reuse.status_code, reuse.json()["code"]) == (401, "refresh_token_reused")
    after = await http.post("/auth/refresh", json={"refresh_token": new_pair["refresh_token"]})
    assert after.status_code == 401

    # when a fresh session logs out, its refresh token stops working
    session = await _login(http, user["email"])
    out = await http.post("/auth/logout", json={"refresh_token": session["refresh_token"]},
                          headers=_bearer(session["access_token"]))  # fmt: skip
    assert out.status_code == 204
    dead = await http.post("/auth/refresh", json={"refresh_token": session["refresh_token"]})
    assert dead.status_code == 401


async def test_key_rotation_keeps_old_tokens_valid(http: httpx.AsyncClient) -> None:
    # given a user token signed with the current key
    user = await _register(http)
    old = await _login(http, user["email"])
    old_kid = jwt.get_unverified_header(old["access_token"])["kid"]
    admin = await _login(http, ADMIN_EMAIL, ADMIN_PASSWORD)

    # a plain user may not rotate keys
    denied = await http.post("/admin/keys/rotate", headers=_bearer(old["access_token"]))
    assert denied.status_code == 403

    # when the admin rotates the signing key
    resp = await http.post("/admin/keys/rotate", headers=_bearer(admin["access_token"]))
    assert resp.status_code == 200
    new_kid = resp.json()["kid"]

    # then the JWKS publishes both, the old token still works and new tokens use the new key
    kids = {k["kid"] for k in (await http.get("/.well-known/jwks.json")).json()["keys"]}
    assert {old_kid, new_kid} <= kids
    assert (await http.get("/users/me", headers=_bearer(old["access_token"]))).status_code == 200
    fresh = await _login(http, user["email"])
    assert jwt.get_unverified_header(fresh["access_token"])["kid"] == new_kid
    assert (await http.get("/users/me", headers=_bearer(fresh["access_token"]))).is_success


async def test_service_client_credentials_and_token_check(http: httpx.AsyncClient) -> None:
    admin = await _login(http, ADMIN_EMAIL, ADMIN_PASSWORD)
    user = await _register(http)
    user_pair = await _login(http, user["email"])

    # given a service client created by the admin
    created = await http.post(
        "/admin/service-clients",
        headers=_bearer(admin["access_token"]),
        json={"name": "gateway", "scopes": ["tokens:verify", "x:y"]},
    )
    assert created.status_code == 201
    client = _remember(created.json())

    # when it asks for a token (form-encoded, as RFC 6749 says, or JSON)
    form = {"grant_type": "client_credentials", "client_id": client["client_id"],
            "client_secret": client["client_secret"], "scope": "tokens:verify"}  # fmt: skip
    granted = await http.post("/service/token", data=form)
    assert granted.status_code == 200, granted.text
    svc = _remember(granted.json())
    assert svc["scope"] == "tokens:verify"
    as_json = await http.post("/service/token", json={**form, "scope": None})
    assert as_json.status_code == 200 and as_json.json()["scope"] == "tokens:verify x:y"
    _remember(as_json.json())
    claims = jwt.decode(svc["access_token"], options={"verify_signature": False})
    assert (claims["role"], claims["typ"], claims["sub"]) == (
        "service",
        "access",
        client["client_id"],
    )

    # then wrong secrets and scopes beyond the client's are refused
    wrong = await http.post("/service/token", data={**form, "client_secret": "nope"})
    assert (wrong.status_code, wrong.json()["code"]) == (401, "invalid_client")
    greedy = await http.post("/service/token", data={**form, "scope": "admin:all"})
    assert (greedy.status_code, greedy.json()["code"]) == (400, "invalid_scope")

    # and the service can check a user's token; a user cannot use the endpoint
    checked = await http.post("/service/verify", json={"token": user_pair["access_token"]},
                              headers=_bearer(svc["access_token"]))  # fmt: skip
    assert checked.status_code == 200
    assert (checked.json()["sub"], checked.json()["role"]) == (user["id"], "user")
    forged = await http.post("/service/verify", json={"token": user_pair["access_token"] + "x"},
                             headers=_bearer(svc["access_token"]))  # fmt: skip
    assert forged.status_code == 401
    by_user = await http.post("/service/verify", json={"token": user_pair["access_token"]},
                              headers=_bearer(user_pair["access_token"]))  # fmt: skip
    assert by_user.status_code == 403


async def test_admin_lists_users_and_sets_roles(http: httpx.AsyncClient) -> None:
    admin = await _login(http, ADMIN_EMAIL, ADMIN_PASSWORD)
    user = await _register(http)
    merchant = await _register(http, role="merchant")
    assert merchant["role"] == "merchant"
    plain = await _login(http, user["email"])

    # a plain user gets 403
    denied = await http.get("/admin/users", headers=_bearer(plain["access_token"]))
    assert denied.status_code == 403

    # the admin walks every page with a cursor and finds both new users
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(1000):
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = await http.get("/admin/users", params=params,
                              headers=_bearer(admin["access_token"]))  # fmt: skip
        assert page.status_code == 200
        body = page.json()
        assert len(body["items"]) <= 2
        seen += [u["id"] for u in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert {user["id"], merchant["id"]} <= set(seen) and len(seen) == len(set(seen))

    # when the admin makes the user an auditor, their next token says so
    changed = await http.patch(f"/admin/users/{user['id']}/role", json={"role": "auditor"},
                               headers=_bearer(admin["access_token"]))  # fmt: skip
    assert changed.status_code == 200 and changed.json()["role"] == "auditor"
    relogged = await _login(http, user["email"])
    claims = jwt.decode(relogged["access_token"], options={"verify_signature": False})
    assert claims["role"] == "auditor"
    await _events_of(user["id"], {"UserRoleChanged"})
    missing = await http.patch(f"/admin/users/{uuid.uuid4()}/role", json={"role": "user"},
                               headers=_bearer(admin["access_token"]))  # fmt: skip
    assert missing.status_code == 404


async def test_the_log_holds_no_password_token_or_secret(stack: StackUnderTest) -> None:
    # given everything the tests above sent and received
    await asyncio.sleep(0.5)  # let the last log lines reach the file
    log = (stack.cfg.run_dir / "logs" / "user_svc.log").read_text()
    # then the service did log, but none of the secrets
    assert "user registered" in log
    leaked = [s[:6] + "..." for s in SECRETS | {ADMIN_PASSWORD} if s in log]
    assert not leaked, f"secrets in the log: {leaked}"
    assert len(SECRETS) > 10
