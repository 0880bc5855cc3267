"""A service's own credentials over real processes: user_svc seeds the client the local
stack made for transaction_svc, common.service_token.ServiceTokens gets and keeps its token,
and pgw_svc's provider API accepts it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import jwt
import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from common.service_token import ServiceTokens
from common.settings import Settings
from infra.local.credentials import client_secret
from infra.testing.http_server import read_request
from infra.testing.stack import StackUnderTest
from user_svc.passwords import Argon2Passwords
from user_svc.seeded_clients import ensure_seeded_clients

pytestmark = pytest.mark.integration

CLIENT = "transaction_svc"
SEEN: set[str] = set()  # every secret and token of this module; none may reach a log


@pytest.fixture(scope="module")
def started(stack: StackUnderTest) -> StackUnderTest:
    # given user_svc and pgw_svc launched as the local stack launches them
    stack.start_apps(["user_svc", "pgw_svc"])
    return stack


@pytest.fixture
def secret(started: StackUnderTest) -> str:
    """The run's secret of transaction_svc, as the launcher gave it to user_svc."""
    value = client_secret(started.cfg.run_dir, CLIENT)
    SEEN.add(value)
    return value


@pytest.fixture
async def tokens(secret: str) -> AsyncIterator[ServiceTokens]:
    held = ServiceTokens(Settings().user_svc_url, CLIENT, SecretStr(secret))
    yield held
    await held.aclose()


@pytest.fixture
async def engine(started: StackUnderTest) -> AsyncIterator[AsyncEngine]:
    db = create_async_engine(Settings().postgres_dsn)
    yield db
    await db.dispose()


async def _hash_of(engine: AsyncEngine, client_id: str) -> list[str]:
    q = text("SELECT secret_hash FROM users.service_clients WHERE client_id = :c")
    async with engine.connect() as conn:
        return [str(h) for h in (await conn.execute(q, {"c": client_id})).scalars()]


async def _grant(client_id: str, secret: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=Settings().user_svc_url, timeout=10) as users:
        data = {"grant_type": "client_credentials", "client_id": client_id}
        return await users.post("/service/token", data=data | {"client_secret": secret})


async def test_the_seeded_client_token_is_accepted_by_the_provider(tokens: ServiceTokens) -> None:
    # when transaction_svc's client asks pgw_svc for a payout by a key it never used
    async with httpx.AsyncClient(base_url=Settings().pgw_svc_url, auth=tokens) as pgw:
        r = await pgw.get("/internal/payouts", params={"idempotency_key": "x"})
    # then the token is accepted: the answer is about the payout, not the caller
    assert r.status_code == 404 and r.json()["code"] == "payout_not_found", r.text
    authorization = await tokens.authorization()
    SEEN.add(authorization.removeprefix("Bearer "))
    claims = jwt.decode(authorization.removeprefix("Bearer "), options={"verify_signature": False})
    assert claims["sub"] == CLIENT and claims["role"] == "service"
    # and without it the same request is refused
    async with httpx.AsyncClient(base_url=Settings().pgw_svc_url) as anonymous:
        r = await anonymous.get("/internal/payouts", params={"idempotency_key": "x"})
    assert r.status_code == 401, r.text


async def test_concurrent_callers_share_one_grant_until_it_is_stale(secret: str) -> None:
    # given tokens on a clock the test moves
    now = [0.0]
    held = ServiceTokens(Settings().user_svc_url, CLIENT, SecretStr(secret), clock=lambda: now[0])
    try:
        # when 20 callers ask at once
        first = await asyncio.gather(*(held.authorization() for _ in range(20)))
        # then one token was granted (each grant has its own jti) and all of them share it
        assert len(set(first)) == 1
        # when its lifetime, less the 60 s margin, has nearly passed
        claims = jwt.decode(first[0].removeprefix("Bearer "), options={"verify_signature": False})
        renew_at = claims["exp"] - claims["iat"] - 60.0
        now[0] = renew_at - 1
        assert await held.authorization() == first[0]
        now[0] = renew_at
        # then the next caller gets a new token
        renewed = await held.authorization()
        assert renewed != first[0]
        SEEN.update(a.removeprefix("Bearer ") for a in (first[0], renewed))
    finally:
        await held.aclose()


async def test_a_forgotten_token_is_replaced_and_a_stale_forget_keeps_the_new_one(
    tokens: ServiceTokens,
) -> None:
    refused = await tokens.authorization()
    tokens.forget(refused)
    replacement = await tokens.authorization()
    assert replacement != refused
    tokens.forget(refused)  # a second caller that saw the same 401
    assert await tokens.authorization() == replacement
    SEEN.update(a.removeprefix("Bearer ") for a in (refused, replacement))


async def test_a_callee_401_drops_the_token_and_the_request_is_sent_once_more(
    tokens: ServiceTokens,
) -> None:
    # given a callee that refuses the first token it sees (as after a secret change)
    seen: list[str] = []

    async def callee(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while (request := await read_request(reader)) is not None:
            seen.append(request.header("authorization"))
            status = b"401 Unauthorized" if seen[-1] == seen[0] else b"200 OK"
            writer.write(b"HTTP/1.1 %s\r\nContent-Length: 2\r\n\r\nok" % status)
        writer.close()

    server = await asyncio.start_server(callee, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        # when a request is sent with the service's tokens
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", auth=tokens) as c:
            r = await c.post("/internal/charges", json={"amount": 1})
    finally:
        server.close()
        await server.wait_closed()
    # then it went out twice, the second time with a new token, which is now the one held
    assert r.status_code == 200
    assert len(seen) == 2 and seen[0] != seen[1]
    assert await tokens.authorization() == seen[1]
    SEEN.update(a.removeprefix("Bearer ") for a in seen)


async def test_seeding_is_idempotent_races_safely_and_follows_a_new_secret(
    engine: AsyncEngine,
) -> None:
    client_id = f"seed-test-{uuid.uuid4().hex[:8]}"
    old, new = f"old-{uuid.uuid4().hex}", f"new-{uuid.uuid4().hex}"
    SEEN.update((old, new))
    passwords = Argon2Passwords()
    other = create_async_engine(Settings().postgres_dsn)  # a second instance starting too
    try:
        # when two instances seed the same client at once
        await asyncio.gather(
            ensure_seeded_clients(engine, passwords, {client_id: old}),
            ensure_seeded_clients(other, passwords, {client_id: old}),
        )
    finally:
        await other.dispose()
    # then there is one client, and its secret works
    (stored,) = await _hash_of(engine, client_id)
    assert await passwords.verify(stored, old)
    assert (await _grant(client_id, old)).status_code == 200
    # when it is seeded again with the same secret (a restart), nothing is written
    await ensure_seeded_clients(engine, passwords, {client_id: old})
    assert await _hash_of(engine, client_id) == [stored]
    # when it is seeded with a new secret, only the new one is accepted
    await ensure_seeded_clients(engine, passwords, {client_id: new})
    assert (await _grant(client_id, new)).status_code == 200
    r = await _grant(client_id, old)
    assert r.status_code == 401 and r.json()["code"] == "invalid_client", r.text


async def test_a_restarted_user_svc_keeps_the_seeded_client_as_it_was(
    started: StackUnderTest, engine: AsyncEngine, secret: str
) -> None:
    (before,) = await _hash_of(engine, CLIENT)
    started.restart_app("user_svc")
    assert await _hash_of(engine, CLIENT) == [before]
    r = await _grant(CLIENT, secret)
    assert r.status_code == 200, r.text
    SEEN.add(r.json()["access_token"])


def test_no_seeded_secret_or_token_is_logged(started: StackUnderTest) -> None:
    logs = started.cfg.run_dir / "logs"
    texts = {n: (logs / f"{n}.log").read_text(errors="replace") for n in ("user_svc", "pgw_svc")}
    assert all(texts.values())  # both processes did log something
    assert len(SEEN) > 5
    leaks = [f"{name}: {value[:6]}..." for name, t in texts.items() for value in SEEN if value in t]
    assert not leaks
