"""The balance projector on real Kafka/Postgres/Redis: exactly once through a kill -9, the
verifier's replay equals the read model (and notices a corrupted row), and the wallet API.

Events are made by the real decider core (``decide``) and travel as real envelopes
(``event_envelopes``) in Kafka transactions. Wallet ids are unique per test, so assertions
are scoped to them; the verifier is global and runs when the projector is quiescent.
"""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
import uvicorn
from aiokafka import AIOKafkaProducer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from fastapi import FastAPI
from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncEngine

from common.db import make_engine
from common.kafka.headers import message_headers
from common.kafka.producer import make_producer, send_envelope
from common.redis import make_redis
from common.settings import Settings
from common.topics import WALLET_COMMANDS, WALLET_EVENTS
from contracts.wallet import (
    CreditWallet,
    DebitWallet,
    FreezeWallet,
    OpenWallet,
    PlaceHold,
    ReleaseHold,
    WalletCommand,
    command_envelope,
)
from infra.local.procs import kill9
from infra.local.stack import start_app
from infra.testing.stack import StackUnderTest
from wallet_svc import cache
from wallet_svc.domain import (
    WalletState,
    decide,
    evolve,
)
from wallet_svc.verify import verify
from wallet_svc.wire import event_envelopes

pytestmark = pytest.mark.integration


class Ledger:
    """Decides commands with the real domain core and sends the events as the decider would."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self.producer = producer
        self.states: dict[str, WalletState] = {}
        self.money_events: dict[str, int] = {}
        self.system: dict[str, int] = {}

    def decide(self, command: WalletCommand) -> list[Any]:
        state = self.states.get(command.wallet_id)
        events = decide(state, command, datetime.now(UTC))
        for e in events:
            state = evolve(state or WalletState(), e)
            if getattr(e, "ledger", None) is not None:
                self.money_events[e.wallet_id] = self.money_events.get(e.wallet_id, 0) + 1
            for p in getattr(e, "postings", ()):
                if p.account.startswith("system:"):
                    self.system[p.account] = self.system.get(p.account, 0) + p.amount
        if state is not None:
            self.states[command.wallet_id] = state
        return event_envelopes(events, command_envelope(command, "test"), datetime.now(UTC))

    async def send(self, commands: list[WalletCommand], abort: bool = False) -> None:
        """Decide ``commands`` and append their events in one Kafka transaction."""
        saved = dict(self.states), dict(self.money_events), dict(self.system)
        envelopes = [env for c in commands for env in self.decide(c)]
        await self.producer.begin_transaction()
        for env in envelopes:
            await self.producer.send(
                WALLET_EVENTS, env.to_bytes(), key=env.key.encode(), headers=message_headers(env)
            )
        if abort:
            await self.producer.abort_transaction()
            self.states, self.money_events, self.system = saved
        else:
            await self.producer.commit_transaction()


@pytest.fixture(scope="module")
async def projector(stack: StackUnderTest) -> StackUnderTest:
    stack.start_apps(["wallet_projector"])
    return stack


@pytest.fixture
async def ledger(settings: Settings) -> AsyncIterator[Ledger]:
    producer = make_producer(
        settings.kafka_bootstrap, "it-ledger", transactional_id=f"it-ledger-{uuid.uuid4()}"
    )
    await producer.start()
    try:
        yield Ledger(producer)
    finally:
        await producer.stop()


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(settings.postgres_dsn, pool_size=2)
    try:
        yield engine
    finally:
        await engine.dispose()


async def _select(db: AsyncEngine, sql: str, **params: Any) -> list[Row[Any]]:
    async with db.connect() as conn:
        return list(await conn.execute(text(sql), params))


async def _update(db: AsyncEngine, sql: str, **params: Any) -> None:
    async with db.begin() as conn:
        await conn.execute(text(sql), params)


def _new_wallets(n: int, currency: str = "USD", owner: str = "owner-1") -> list[OpenWallet]:
    ids = [str(uuid.uuid4()) for _ in range(n)]
    return [
        OpenWallet(command_id=f"open:{w}", wallet_id=w, owner_id=owner, currency=currency)
        for w in ids
    ]


async def _wait_for(check: Any, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


async def _rows(db: AsyncEngine, ids: list[str]) -> dict[str, tuple[int, int, str]]:
    rows = await _select(
        db,
        "SELECT id, ledger, available, status FROM wallets.wallets "
        "WHERE id = ANY(CAST(:ids AS uuid[]))",
        ids=ids,
    )
    return {str(r.id): (r.ledger, r.available, r.status) for r in rows}


def _expected(ledger: Ledger, ids: list[str]) -> dict[str, tuple[int, int, str]]:
    return {
        w: (ledger.states[w].ledger, ledger.states[w].available, ledger.states[w].status.value)
        for w in ids
    }


async def _entry_counts(db: AsyncEngine, ids: list[str]) -> dict[str, int]:
    rows = await _select(
        db,
        "SELECT wallet_id, count(*) AS n, count(DISTINCT event_id) AS d FROM wallets.entries "
        "WHERE wallet_id = ANY(CAST(:ids AS uuid[])) GROUP BY wallet_id",
        ids=ids,
    )
    assert all(r.n == r.d for r in rows), "an event was entered twice"
    return {str(r.wallet_id): r.n for r in rows}


async def _system_balance(db: AsyncEngine, account: str) -> int:
    rows = await _select(
        db,
        "SELECT coalesce(sum(balance), 0) FROM wallets.system_balances WHERE account = :a",
        a=account,
    )
    return int(rows[0][0])


async def test_batch_is_projected_with_entries_postings_system_shards_and_cache(
    projector: StackUnderTest, ledger: Ledger, db: AsyncEngine, settings: Settings
) -> None:
    # given wallets credited from a per-test settlement account, debited, held and frozen
    settle, transit = f"system:settlement:{uuid.uuid4()}", f"system:in_transit:{uuid.uuid4()}"
    opens = _new_wallets(6)
    ids = [o.wallet_id for o in opens]
    far = int(time.time() * 1000) + 3_600_000
    commands: list[WalletCommand] = [*opens]
    for i, w in enumerate(ids):
        commands.append(
            CreditWallet(
                command_id=f"c:{w}",
                wallet_id=w,
                transaction_id=f"t{i}",
                amount=1000 + i,
                currency="USD",
                counter_account=settle,
            )
        )
        commands.append(
            DebitWallet(
                command_id=f"d:{w}",
                wallet_id=w,
                transaction_id=f"u{i}",
                amount=250,
                currency="USD",
                counter_account=transit,
            )
        )
        commands.append(
            PlaceHold(
                command_id=f"h:{w}",
                wallet_id=w,
                hold_id=f"h{i}",
                amount=100,
                currency="USD",
                expires_at=far,
            )
        )
        commands.append(
            DebitWallet(
                command_id=f"x:{w}",
                wallet_id=w,
                transaction_id="x",
                amount=10**9,
                currency="USD",
                counter_account=transit,
            )
        )
    commands.append(ReleaseHold(command_id=f"r:{ids[0]}", wallet_id=ids[0], hold_id="h0"))
    commands.append(FreezeWallet(command_id=f"f:{ids[1]}", wallet_id=ids[1], reason="test"))
    # when they are appended in two transactions, plus one aborted transaction
    await ledger.send(commands[: len(commands) // 2])
    await ledger.send(commands[len(commands) // 2 :])
    await ledger.send(
        [CreditWallet(command_id=f"ab:{w}", wallet_id=w, transaction_id="ab", amount=7,
                      currency="USD", counter_account=settle) for w in ids],
        abort=True,
    )  # fmt: skip
    expected = _expected(ledger, ids)

    async def projected() -> bool:
        return await _rows(db, ids) == expected

    await _wait_for(projected, "the read model")
    # then balances, statuses and the held amounts are the domain's (aborted credits absent)
    assert expected[ids[0]] == (750, 750, "active")
    assert expected[ids[1]] == (751, 651, "frozen")
    # and there is one entry per money event, each with its balanced postings
    assert await _entry_counts(db, ids) == {w: ledger.money_events[w] for w in ids}
    bad = await _select(
        db,
        "SELECT p.event_id FROM wallets.postings p "
        "JOIN wallets.entries e USING (event_id) WHERE e.wallet_id = ANY(CAST(:ids AS uuid[])) "
        "GROUP BY p.event_id HAVING sum(p.amount) <> 0",
        ids=ids,
    )
    assert bad == []
    # and system accounts are sharded deltas that sum to the log's balances
    assert (
        await _system_balance(db, settle)
        == ledger.system[settle]
        == -sum(1000 + i for i in range(6))
    )
    assert await _system_balance(db, transit) == ledger.system[transit] == 6 * 250
    # and the Redis cache holds the same balances
    redis = make_redis(settings.redis_url)
    try:
        for w in ids:
            doc = await cache.get(redis, w)
            assert doc is not None
            assert (doc["ledger"], doc["available"], doc["status"]) == expected[w]
            assert doc["currency"] == "USD" and doc["owner_id"] == "owner-1"
    finally:
        await redis.aclose()
    # and the ledger verifies
    report = await verify(settings, wait=60)
    assert report.ok, report.format()


async def test_kill_9_mid_stream_loses_and_duplicates_nothing(
    projector: StackUnderTest, ledger: Ledger, db: AsyncEngine, settings: Settings
) -> None:
    # given a stream of ~2,400 events for 40 wallets appended in many small transactions
    settle = f"system:settlement:{uuid.uuid4()}"
    opens = _new_wallets(40, currency="EUR")
    ids = [o.wallet_id for o in opens]
    await ledger.send(list(opens))
    rounds = 60

    async def produce() -> None:
        for r in range(rounds):
            batch: list[WalletCommand] = []
            for w in ids:
                if r % 3 == 2:
                    batch.append(DebitWallet(command_id=f"d{r}:{w}", wallet_id=w,
                                             transaction_id=f"t{r}", amount=7, currency="EUR",
                                             counter_account=settle))  # fmt: skip
                else:
                    batch.append(CreditWallet(command_id=f"c{r}:{w}", wallet_id=w,
                                              transaction_id=f"t{r}", amount=10 + r,
                                              currency="EUR", counter_account=settle))  # fmt: skip
            await ledger.send(batch)
            await asyncio.sleep(0.02)

    producing = asyncio.create_task(produce())

    async def some_projected() -> bool:
        return sum((await _entry_counts(db, ids)).values()) > 200

    # when the projector is killed -9 while the stream flows, and restarted
    await _wait_for(some_projected, "the first entries")
    kill9("wallet_projector", projector.cfg.run_dir)
    await asyncio.sleep(1.0)
    await asyncio.to_thread(start_app, projector.cfg, "wallet_projector")
    await producing
    expected = _expected(ledger, ids)

    async def caught_up() -> bool:
        return await _rows(db, ids) == expected

    await _wait_for(caught_up, "the restarted projector", timeout=120)
    # then every event was entered exactly once and the system account balances
    assert await _entry_counts(db, ids) == {w: rounds for w in ids}
    assert await _system_balance(db, settle) == ledger.system[settle]
    # and the replay of the whole log equals the read model
    report = await verify(settings, wait=60)
    assert report.ok, report.format()
    assert report.replay_checksum == report.read_model_checksum


async def test_verifier_notices_a_corrupted_read_model_row(
    projector: StackUnderTest, ledger: Ledger, db: AsyncEngine, settings: Settings
) -> None:
    # given a projected wallet with money
    opens = _new_wallets(1)
    w = opens[0].wallet_id
    credit = CreditWallet(
        command_id=f"c:{w}", wallet_id=w, transaction_id="t", amount=500, currency="USD",
        counter_account="system:settlement:sim",
    )  # fmt: skip
    await ledger.send([opens[0], credit])

    async def projected() -> bool:
        return await _rows(db, [w]) == {w: (500, 500, "active")}

    await _wait_for(projected, "the wallet")
    # when its row is corrupted behind the projector's back
    await _update(db, "UPDATE wallets.wallets SET ledger = ledger + 1 WHERE id = :w", w=w)
    try:
        report = await verify(settings, wait=30)
        # then the verifier fails, naming the wallet
        assert not report.ok
        assert report.replay_checksum != report.read_model_checksum
        assert any(w in p for p in report.problems), report.format()
    finally:
        await _update(db, "UPDATE wallets.wallets SET ledger = ledger - 1 WHERE id = :w", w=w)
    # and once repaired it passes again
    assert (await verify(settings, wait=30)).ok


# ---------------------------------------------------------------- the HTTP API


class Tokens:
    """An Ed25519 key whose JWKS is served where wallet_svc expects user_svc's."""

    def __init__(self) -> None:
        self.key = Ed25519PrivateKey.generate()
        raw = self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        x = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        self.jwks = {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "it-k1",
                               "alg": "EdDSA", "use": "sig"}]}  # fmt: skip

    def token(self, settings: Settings, subject: str, role: str = "user") -> dict[str, str]:
        now = int(time.time())
        claims = {"iss": settings.jwt_issuer, "aud": settings.jwt_audience, "sub": subject,
                  "role": role, "typ": "access", "iat": now, "exp": now + 600}  # fmt: skip
        token = jwt.encode(claims, self.key, algorithm="EdDSA", headers={"kid": "it-k1"})
        return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
async def api(projector: StackUnderTest, settings: Settings) -> AsyncIterator[tuple[str, Tokens]]:
    tokens = Tokens()
    jwks_app = FastAPI()
    jwks_app.get("/.well-known/jwks.json")(lambda: tokens.jwks)
    port = int(settings.user_svc_url.rsplit(":", 1)[1])
    server = uvicorn.Server(
        uvicorn.Config(jwks_app, host="127.0.0.1", port=port, log_level="warning")
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    await asyncio.to_thread(projector.start_apps, ["wallet_decider", "wallet_svc"])
    try:
        yield settings.wallet_svc_url, tokens
    finally:
        server.should_exit = True
        await serving


async def test_wallet_api_open_read_entries_and_admin_actions(
    api: tuple[str, Tokens], settings: Settings
) -> None:
    base, tokens = api
    alice, bob = f"alice-{uuid.uuid4()}", f"bob-{uuid.uuid4()}"
    a, b = tokens.token(settings, alice), tokens.token(settings, bob)
    admin = tokens.token(settings, "root", "admin")
    auditor = tokens.token(settings, "aud", "auditor")
    async with httpx.AsyncClient(base_url=base, timeout=20) as http:
        # no token, bad currency, overdraft by a user
        assert (await http.post("/wallets", json={"currency": "USD"})).status_code == 401
        r = await http.post("/wallets", json={"currency": "XYZ"}, headers=a)
        assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
        r = await http.post("/wallets", json={"currency": "USD", "overdraft_limit": 5}, headers=a)
        assert r.status_code == 403
        # given alice opens a wallet with an Idempotency-Key
        key = {**a, "Idempotency-Key": str(uuid.uuid4())}
        r = await http.post("/wallets", json={"currency": "USD"}, headers=key)
        assert r.status_code == 201, r.text
        wallet = r.json()
        wid = wallet["id"]
        assert wallet["owner_id"] == alice and wallet["status"] == "active"
        assert wallet["balance"] == {"ledger": 0, "available": 0}
        # then a replay answers the same wallet and another body with that key is a 409
        r = await http.post("/wallets", json={"currency": "USD"}, headers=key)
        assert r.status_code == 201 and r.json()["id"] == wid
        r = await http.post("/wallets", json={"currency": "EUR"}, headers=key)
        assert r.status_code == 409 and r.json()["code"] == "idempotency_key_reused"
        second = (await http.post("/wallets", json={"currency": "JPY"}, headers=a)).json()
        # and alice sees hers (two pages of one), bob sees none of them, admin sees it
        page1 = (await http.get("/wallets", params={"limit": 1}, headers=a)).json()
        assert len(page1["items"]) == 1 and page1["next_cursor"]
        page2 = (
            await http.get("/wallets", params={"limit": 1, "cursor": page1["next_cursor"]},
                           headers=a)
        ).json()  # fmt: skip
        assert {page1["items"][0]["id"], page2["items"][0]["id"]} == {wid, second["id"]}
        assert (await http.get("/wallets", headers=b)).json()["items"] == []
        assert (await http.get(f"/wallets/{wid}", headers=b)).status_code == 404
        assert (await http.get(f"/wallets/{wid}", headers=admin)).json()["owner_id"] == alice
        listed = (await http.get("/wallets", params={"owner_id": alice}, headers=admin)).json()
        assert {w["id"] for w in listed["items"]} == {wid, second["id"]}

        # when money arrives through the decider
        before = datetime.now(UTC)
        await asyncio.sleep(0.05)
        producer = make_producer(settings.kafka_bootstrap, "it-api")
        await producer.start()
        try:
            credit = CreditWallet(command_id=f"c:{wid}", wallet_id=wid, transaction_id="t-api",
                                  amount=2550, currency="USD",
                                  counter_account="system:settlement:sim")  # fmt: skip
            await send_envelope(producer, WALLET_COMMANDS, command_envelope(credit, "test"))
        finally:
            await producer.stop()

        async def credited() -> bool:
            r = await http.get(f"/wallets/{wid}", headers=a)
            return bool(r.json()["balance"] == {"ledger": 2550, "available": 2550})

        await _wait_for(credited, "the credit")
        # then the entries show it with postings, to the owner and an auditor, not to bob
        entries = (await http.get(f"/wallets/{wid}/entries", headers=auditor)).json()
        assert [(e["kind"], e["amount"], e["ledger_after"]) for e in entries["items"]] == [
            ("WalletCredited", 2550, 2550)
        ]
        assert sum(p["amount"] for p in entries["items"][0]["postings"]) == 0
        assert (await http.get(f"/wallets/{wid}/entries", headers=b)).status_code == 404
        at = await http.get(f"/wallets/{wid}/entries", params={"as_of": before.isoformat()},
                            headers=a)  # fmt: skip
        assert at.json()["balance"] == {"ledger": 0, "available": 0}
        later = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
        at = await http.get(f"/wallets/{wid}/entries", params={"as_of": later}, headers=a)
        assert at.json()["balance"] == {"ledger": 2550, "available": 2550}

        # and closing with money is refused by the decider; freezing is for admins
        r = await http.post(f"/wallets/{wid}/close", headers=a)
        assert r.status_code == 409 and r.json()["code"] == "not_zero_balance", r.text
        assert (await http.post(f"/wallets/{wid}/freeze", headers=a)).status_code == 403
        r = await http.post(f"/wallets/{wid}/freeze", json={"reason": "kyc"}, headers=admin)
        assert r.status_code == 200 and r.json()["status"] == "frozen", r.text
        r = await http.post(f"/wallets/{wid}/freeze", headers=admin)
        assert r.status_code == 409 and r.json()["code"] == "wallet_frozen"
        r = await http.post(f"/wallets/{wid}/unfreeze", headers=admin)
        assert r.status_code == 200 and r.json()["status"] == "active"
        # and a command retried with its Idempotency-Key gets the first answer at once
        # (the decider ignores the duplicate without a word; the retry must not wait for it)
        for code, status in ((200, "frozen"), (409, "wallet_frozen")):
            keyed = {**admin, "Idempotency-Key": str(uuid.uuid4()), "Prefer": "wait=10"}
            answers = []
            for _ in range(2):
                started = time.monotonic()
                r = await http.post(f"/wallets/{wid}/freeze", headers=keyed)
                answers.append((r.status_code, r.json()["status" if r.is_success else "code"]))
                assert time.monotonic() - started < 3, "waited for a notice that never comes"
            assert answers == [(code, status)] * 2
        r = await http.post(f"/wallets/{wid}/unfreeze", headers=admin)
        assert r.status_code == 200 and r.json()["status"] == "active"
        # and an empty wallet is closed by its owner
        r = await http.post(f"/wallets/{second['id']}/close", headers=a)
        assert r.status_code == 200 and r.json()["status"] == "closed", r.text
        assert (await http.post(f"/wallets/{uuid.uuid4()}/close", headers=a)).status_code == 404
        ready = await http.get("/ready")
        assert ready.status_code == 200
        assert set(ready.json()["checks"]) >= {"postgres", "kafka", "redis"}
