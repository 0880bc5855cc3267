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
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from common.settings import Settings
from common.topics import USER_EVENTS
from contracts.envelope import Envelope
from infra.local.config import LocalConfig
from infra.local.credentials import client_secret
from infra.testing.stack import StackUnderTest
from user_svc.settings import UserSettings

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


async def _service_token(http: httpx.AsyncClient, client_id: str) -> str:
    """A token of the run's seeded client ``client_id`` (as the launcher configured it)."""
    secret = client_secret(LocalConfig.from_env().run_dir, client_id)
    SECRETS.add(secret)
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    resp = await http.post("/service/token", data=form)
    assert resp.status_code == 200, resp.text
    return str(_remember(resp.json())["access_token"])


async def _link_token(http: httpx.AsyncClient, request_id: str, purpose: str) -> str:
    """The one-time token notification_worker would mail for ``request_id``."""
    token = await _service_token(http, "notification_worker")
    resp = await http.post("/internal/email-links", json={"request_id": request_id},
                           headers=_bearer(token))  # fmt: skip
    assert resp.status_code == 200, resp.text
    assert resp.json()["purpose"] == purpose
    return str(_remember(resp.json())["token"])


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

    # when the verification email request is read from Kafka (it holds no token), the
    # mailer's link fetched for it and its token confirmed
    events = await _events_of(user["id"], {"UserRegistered", "EmailVerificationRequested"})
    requested = events["EmailVerificationRequested"].payload
    assert "token" not in requested and requested["expires_in"] == 86400
    token = await _link_token(http, requested["request_id"], "verify_email")
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
    # (its access token says the email is verified: the claim money services read)
    assert jwt.decode(pair["access_token"], options={"verify_signature": False})["ev"] is True
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


async def _refused(http: httpx.AsyncClient, access_token: str) -> bool:
    """Whether user_svc refuses the token within two seconds (revocation travels by Redis)."""
    for _ in range(20):
        if (await http.get("/users/me", headers=_bearer(access_token))).status_code == 401:
            return True
        await asyncio.sleep(0.1)
    return False


async def test_email_links_are_made_for_the_mailer_only(http: httpx.AsyncClient) -> None:
    # given a new account's verification request
    user = await _register(http)
    events = await _events_of(user["id"], {"EmailVerificationRequested"})
    request_id = events["EmailVerificationRequested"].payload["request_id"]

    # then another service client, and unknown or malformed requests, get nothing
    other = await _service_token(http, "transaction_svc")
    denied = await http.post(
        "/internal/email-links", json={"request_id": request_id}, headers=_bearer(other)
    )
    assert (denied.status_code, denied.json()["code"]) == (403, "forbidden")
    mailer = await _service_token(http, "notification_worker")
    for unknown in (str(uuid.uuid4()), "not-a-uuid"):
        resp = await http.post(
            "/internal/email-links", json={"request_id": unknown}, headers=_bearer(mailer)
        )
        assert (resp.status_code, resp.json()["code"]) == (404, "email_request_not_found")
    person = await _login(http, user["email"])
    assert jwt.decode(person["access_token"], options={"verify_signature": False})["ev"] is False
    as_user = await http.post(
        "/internal/email-links",
        json={"request_id": request_id},
        headers=_bearer(person["access_token"]),
    )
    assert as_user.status_code == 403

    # when the link is made twice (a redelivery), only the latest token works
    first = await _link_token(http, request_id, "verify_email")
    latest = await _link_token(http, request_id, "verify_email")
    stale = await http.post("/auth/verify-email", json={"token": first})
    assert (stale.status_code, stale.json()["code"]) == (400, "invalid_token")
    assert (await http.post("/auth/verify-email", json={"token": latest})).status_code == 200
    # and a used request makes no more links
    used = await http.post(
        "/internal/email-links", json={"request_id": request_id}, headers=_bearer(mailer)
    )
    assert used.status_code == 404


async def test_forgot_and_reset_end_every_session(http: httpx.AsyncClient) -> None:
    # given an account signed in twice
    user = await _register(http)
    sessions = [await _login(http, user["email"]) for _ in range(2)]

    # when a reset is asked for it, and for an email nobody has: both 202
    for email in (user["email"], f"nobody-{uuid.uuid4().hex[:8]}@example.com", "not-an-email"):
        resp = await http.post("/auth/password/forgot", json={"email": email})
        assert resp.status_code == 202, resp.text
    events = await _events_of(user["id"], {"PasswordResetRequested"})
    requested = events["PasswordResetRequested"].payload
    assert "token" not in requested and requested["expires_in"] == 30 * 60
    token = await _link_token(http, requested["request_id"], "reset_password")

    # then a weak new password is refused and changes nothing (the token still works)
    weak = await http.post("/auth/password/reset", json={"token": token, "new_password": "abc"})
    assert (weak.status_code, weak.json()["code"]) == (422, "weak_password")
    assert not await _refused(http, sessions[0]["access_token"])

    # when the token sets a new password
    new_password = "Reset-Horse-" + uuid.uuid4().hex[:8]
    SECRETS.add(new_password)
    done = await http.post(
        "/auth/password/reset", json={"token": token, "new_password": new_password}
    )
    assert done.status_code == 204, done.text

    # then every session has ended: access tokens refused, refresh tokens dead
    for session in sessions:
        assert await _refused(http, session["access_token"])
        dead = await http.post("/auth/refresh", json={"refresh_token": session["refresh_token"]})
        assert dead.status_code == 401
    # and only the new password logs in; the token cannot be used again
    old = await http.post("/auth/login", json={"email": user["email"], "password": PASSWORD})
    assert old.status_code == 401
    await _login(http, user["email"], new_password)
    again = await http.post(
        "/auth/password/reset", json={"token": token, "new_password": "Other-" + new_password}
    )
    assert (again.status_code, again.json()["code"]) == (400, "invalid_token")
    changed = await _events_of(user["id"], {"PasswordChanged"})
    assert changed["PasswordChanged"].payload["how"] == "reset"


async def test_reset_requests_are_limited_per_account_without_telling_who_exists(
    http: httpx.AsyncClient,
) -> None:
    # given an account, and an email nobody has
    user = await _register(http)
    nobody = f"nobody-{uuid.uuid4().hex[:8]}@example.com"
    limit = UserSettings().password_reset_max_requests
    # when a reset is asked for each twice the limit and once more
    for email in [user["email"], nobody] * (2 * limit + 1):
        resp = await http.post("/auth/password/forgot", json={"email": email})
        # then every answer is the same 202, over the limit too
        assert (resp.status_code, resp.json()) == (202, FORGOT_ACCEPTED)
    # and the account got only the limit's worth of reset requests (mails)
    assert await _reset_requests_settled(user["id"]) == limit


FORGOT_ACCEPTED = {"detail": "if an account has this email, a reset link is on its way"}


async def _reset_requests_settled(user_id: str) -> int:
    """The account's reset requests once their number stopped changing (they are made
    after the answers, in the background)."""
    engine = create_async_engine(Settings().postgres_dsn)
    counts: list[int] = []
    try:
        while len(counts) < 4 or len(set(counts[-4:])) > 1:
            async with engine.connect() as conn:
                counts.append(
                    await conn.scalar(
                        text(
                            "SELECT count(*) FROM users.email_tokens"
                            " WHERE user_id = :u AND purpose = 'reset_password'"
                        ),
                        {"u": uuid.UUID(user_id)},
                    )
                )
            await asyncio.sleep(0.25)
    finally:
        await engine.dispose()
    return counts[-1]


async def test_an_expired_reset_token_changes_nothing(http: httpx.AsyncClient) -> None:
    # given a reset link whose request has expired
    user = await _register(http)
    assert (await http.post("/auth/password/forgot", json={"email": user["email"]})).is_success
    events = await _events_of(user["id"], {"PasswordResetRequested"})
    request_id = events["PasswordResetRequested"].payload["request_id"]
    token = await _link_token(http, request_id, "reset_password")
    engine = create_async_engine(Settings().postgres_dsn)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "UPDATE users.email_tokens SET expires_at = now() - interval '1 second'"
                    " WHERE request_id = :r"
                ),
                {"r": uuid.UUID(request_id)},
            )
    finally:
        await engine.dispose()
    # when it is used, then 400 and the old password still logs in
    resp = await http.post(
        "/auth/password/reset",
        json={"token": token, "new_password": "Late-Horse-" + uuid.uuid4().hex},
    )
    assert (resp.status_code, resp.json()["code"]) == (400, "invalid_token")
    await _login(http, user["email"])


async def test_change_password_checks_the_current_one_and_ends_sessions(
    http: httpx.AsyncClient,
) -> None:
    # given an account signed in twice
    user = await _register(http)
    this, other = await _login(http, user["email"]), await _login(http, user["email"])
    new_password = "Changed-Horse-" + uuid.uuid4().hex[:8]
    SECRETS.add(new_password)

    # then a wrong current password and a weak new one are refused, changing nothing
    wrong = await http.post(
        "/auth/password/change",
        headers=_bearer(this["access_token"]),
        json={"current_password": PASSWORD + "x", "new_password": new_password},
    )
    assert (wrong.status_code, wrong.json()["code"]) == (403, "wrong_password")
    weak = await http.post(
        "/auth/password/change",
        headers=_bearer(this["access_token"]),
        json={"current_password": PASSWORD, "new_password": "abc"},
    )
    assert (weak.status_code, weak.json()["code"]) == (422, "weak_password")
    assert not await _refused(http, other["access_token"])
    anonymous = await http.post(
        "/auth/password/change", json={"current_password": PASSWORD, "new_password": new_password}
    )
    assert anonymous.status_code == 401

    # when the password is changed
    done = await http.post(
        "/auth/password/change",
        headers=_bearer(this["access_token"]),
        json={"current_password": PASSWORD, "new_password": new_password},
    )
    assert done.status_code == 204, done.text

    # then both sessions, this one too, have ended and the new password logs in
    assert await _refused(http, this["access_token"])
    assert await _refused(http, other["access_token"])
    await _login(http, user["email"], new_password)
    changed = await _events_of(user["id"], {"PasswordChanged"})
    assert changed["PasswordChanged"].payload["how"] == "change"


async def test_the_log_holds_no_password_token_or_secret(stack: StackUnderTest) -> None:
    # given everything the tests above sent and received
    await asyncio.sleep(0.5)  # let the last log lines reach the file
    log = (stack.cfg.run_dir / "logs" / "user_svc.log").read_text()
    # then the service did log, but none of the secrets
    assert "user registered" in log
    leaked = [s[:6] + "..." for s in SECRETS | {ADMIN_PASSWORD} if s in log]
    assert not leaked, f"secrets in the log: {leaked}"
    assert len(SECRETS) > 10
