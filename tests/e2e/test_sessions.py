"""Sessions and passwords on the real stack: ending a session ends its access tokens at
the gateway and in every service, the password policy, and per-account login throttling
whatever the source address."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from common.settings import Settings
from infra.testing.api import bearer, login_pair, register
from user_svc.settings import UserSettings

pytestmark = pytest.mark.e2e

# every token checked here: through the gateway, and straight at each service
PROBES = (
    ("gateway", "gateway_url", "/api/v1/users/me"),
    ("gateway", "gateway_url", "/api/v1/wallets"),
    ("user_svc", "user_svc_url", "/users/me"),
    ("wallet_svc", "wallet_svc_url", "/wallets"),
    ("transaction_svc", "transaction_svc_url", "/transactions"),
)


@pytest.fixture
async def anywhere(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


async def _statuses(http: httpx.AsyncClient, settings: Settings, token: str) -> dict[str, int]:
    urls = [getattr(settings, url) + path for _, url, path in PROBES]
    answers = await asyncio.gather(*(http.get(url, headers=bearer(token)) for url in urls))
    return {
        f"{name} {path}": r.status_code for (name, _, path), r in zip(PROBES, answers, strict=True)
    }


async def _refused_everywhere_within(
    http: httpx.AsyncClient, settings: Settings, token: str, seconds: float
) -> float:
    """Seconds until every probe answers 401 for ``token``; fails after ``seconds``."""
    start = time.monotonic()
    while True:
        statuses = await _statuses(http, settings, token)
        took = time.monotonic() - start
        if set(statuses.values()) == {401}:
            return took
        assert took < seconds, f"still accepted after {took:.2f} s: {statuses}"
        await asyncio.sleep(0.05)


async def _accepted_everywhere(http: httpx.AsyncClient, settings: Settings, token: str) -> None:
    # also puts the token in every verifier's cache of verified tokens
    statuses = await _statuses(http, settings, token)
    assert set(statuses.values()) == {200}, statuses


async def test_logout_ends_the_sessions_access_tokens_everywhere_within_a_second(
    api: httpx.AsyncClient, anywhere: httpx.AsyncClient, settings: Settings
) -> None:
    # given a user with two sessions whose access tokens every service has accepted
    user = await register(api, "logout-all")
    ending, other = await login_pair(api, user), await login_pair(api, user)
    for pair in (ending, other):
        await _accepted_everywhere(anywhere, settings, pair["access_token"])
    # when the first session logs out
    r = await api.post(
        "/auth/logout",
        json={"refresh_token": ending["refresh_token"]},
        headers=bearer(ending["access_token"]),
    )
    assert r.status_code == 204, r.text
    # then its access token is refused by the gateway and by each service within a second
    await _refused_everywhere_within(anywhere, settings, ending["access_token"], 1.0)
    r = await anywhere.get(f"{settings.gateway_url}/api/v1/users/me",
                           headers=bearer(ending["access_token"]))  # fmt: skip
    assert r.json()["detail"] == "the session has ended", r.text
    # and the user's other session keeps working everywhere
    await _accepted_everywhere(anywhere, settings, other["access_token"])


async def test_refresh_token_reuse_ends_the_sessions_access_tokens(
    api: httpx.AsyncClient, anywhere: httpx.AsyncClient, settings: Settings
) -> None:
    # given a session rotated once, both of its access tokens accepted, and another session
    user = await register(api, "reuse-all")
    first, other = await login_pair(api, user), await login_pair(api, user)
    r = await api.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert r.status_code == 200, r.text
    second = r.json()
    for token in (first["access_token"], second["access_token"], other["access_token"]):
        await _accepted_everywhere(anywhere, settings, token)
    # when the rotated refresh token is presented again (it leaked)
    r = await api.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert r.status_code == 401 and r.json()["code"] == "refresh_token_reused", r.text
    # then every access token of that session is refused everywhere within a second
    for token in (first["access_token"], second["access_token"]):
        await _refused_everywhere_within(anywhere, settings, token, 1.0)
    # and the other session is untouched
    await _accepted_everywhere(anywhere, settings, other["access_token"])


async def test_a_common_password_is_refused_with_the_reason(api: httpx.AsyncClient) -> None:
    # when someone registers with a long but common password
    email = f"common-pw-{uuid.uuid4().hex[:8]}@example.com"
    body = {"email": email, "password": "1qaz2wsx3edc", "full_name": "C"}
    r = await api.post("/auth/register", json=body)
    # then 422 problem+json names the reason, and no account is made
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "weak_password"
    assert "must not be a commonly used password" in r.json()["reasons"], r.text
    r = await api.post("/auth/login", json={"email": body["email"], "password": body["password"]})
    assert r.status_code == 401, r.text


@pytest.fixture
async def two_addresses(settings: Settings) -> AsyncIterator[list[httpx.AsyncClient]]:
    """Two clients of the gateway, each from its own loopback source address."""
    clients = [
        httpx.AsyncClient(
            base_url=f"{settings.gateway_url}/api/v1",
            transport=httpx.AsyncHTTPTransport(local_address=address),
            timeout=10,
        )
        for address in ("127.0.0.2", "127.0.0.3")
    ]
    try:
        yield clients
    finally:
        for client in clients:
            await client.aclose()


async def _login_status(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/auth/login", json={"email": email, "password": password})


async def test_login_throttling_locks_the_account_whatever_the_source_address(
    api: httpx.AsyncClient, two_addresses: list[httpx.AsyncClient]
) -> None:
    # given an account, and failed logins on it from two source addresses in turn
    user = await register(api, "throttled")
    for i in range(UserSettings().login_max_failures):
        r = await _login_status(two_addresses[i % 2], user.email, "Not-the-password-42")
        assert r.status_code == 401, r.text
    # when the right password comes next, from either address
    for client in two_addresses:
        r = await _login_status(client, user.email, user.password)
        # then the account is locked: 429 with Retry-After, the password is not even checked
        assert r.status_code == 429, r.text
        assert r.json()["code"] == "too_many_login_attempts", r.text
        retry_after = int(r.headers["retry-after"])
        assert retry_after >= 1
    # and once the window has passed, the right password logs in again
    await asyncio.sleep(retry_after + 0.2)
    r = await _login_status(two_addresses[0], user.email, user.password)
    assert r.status_code == 200, r.text


async def test_a_successful_login_resets_the_failure_count(
    api: httpx.AsyncClient, two_addresses: list[httpx.AsyncClient]
) -> None:
    # given an account one failure short of being locked
    max_failures = UserSettings().login_max_failures
    user = await register(api, "reset")
    for i in range(max_failures - 1):
        r = await _login_status(two_addresses[i % 2], user.email, "Not-the-password-42")
        assert r.status_code == 401, r.text
    # when the owner logs in
    r = await _login_status(two_addresses[0], user.email, user.password)
    assert r.status_code == 200, r.text
    # then the count starts again: as many failures as before are answered 401, not 429
    for i in range(max_failures):
        r = await _login_status(two_addresses[1 - i % 2], user.email, "Not-the-password-42")
        assert r.status_code == 401, r.text
    r = await _login_status(two_addresses[0], user.email, user.password)
    assert r.status_code == 429, r.text
