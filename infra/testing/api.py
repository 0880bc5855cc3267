"""A small client of the public API, for e2e and chaos tests and the load generator."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt

TERMINAL = {"completed", "failed", "reversed", "reversal_failed", "cancelled"}
GOOD_CARD = "4242424242424242"  # the provider's test card that always pays
GOOD_IBAN = "GB33BUKB20201555555555"  # the provider's test bank account that always pays out
DECLINED_CARD = "4000000000000002"  # the provider's test card that is always declined
ASYNC_CARD = "4000000000003220"  # the provider's test card whose charge it decides later
CLOSED_IBAN = "GB94BARC10201530093459"  # the provider's test account that is closed: never paid
# the first admin, configured for user_svc by the test stack (as production configures it)
ADMIN_EMAIL = "admin@paystream.dev"
ADMIN_PASSWORD = "Guard-the-ledger-2026"


def bearer(token: str) -> dict[str, str]:
    """The Authorization header that carries ``token``."""
    return {"Authorization": f"Bearer {token}"}


@dataclass
class User:
    email: str
    password: str
    token: str
    cards: dict[str, str] = field(default_factory=dict)  # card number -> payment method id

    @property
    def auth(self) -> dict[str, str]:
        return bearer(self.token)

    @property
    def id(self) -> str:
        """The user's id: the subject of its access token."""
        return str(jwt.decode(self.token, options={"verify_signature": False})["sub"])


async def register(api: httpx.AsyncClient, name: str, role: str | None = None) -> User:
    email = f"{name}-{uuid.uuid4().hex[:8]}@example.com"
    password = f"Correct-horse-{uuid.uuid4().hex[:6]}"
    body: dict[str, Any] = {"email": email, "password": password, "full_name": name.title()}
    if role:
        body["role"] = role
    r = await api.post("/auth/register", json=body)
    assert r.status_code == 201, r.text
    return await login(api, email, password)


async def login_pair(api: httpx.AsyncClient, user: User) -> dict[str, Any]:
    """The whole answer of a new login of ``user`` (its access and refresh tokens)."""
    r = await api.post("/auth/login", json={"email": user.email, "password": user.password})
    assert r.status_code == 200, r.text
    return dict(r.json())


async def login(api: httpx.AsyncClient, email: str, password: str) -> User:
    r = await api.post("/auth/login", json={"email": email, "password": password})
    assert r.status_code == 200, r.text
    return User(email, password, r.json()["access_token"])


async def service_client(api: httpx.AsyncClient, admin: User, scopes: list[str]) -> dict[str, Any]:
    """A new service client, created by the admin (its secret is in the answer, once)."""
    body = {"name": f"svc-{uuid.uuid4().hex[:6]}", "scopes": scopes}
    r = await api.post("/admin/service-clients", json=body, headers=admin.auth)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def service_token(api: httpx.AsyncClient, client: dict[str, Any]) -> str:
    """A client-credentials access token (role ``service``) of ``client``."""
    r = await api.post(
        "/service/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client["client_id"],
            "client_secret": client["client_secret"],
        },
    )
    assert r.status_code == 200, r.text
    assert jwt.decode(r.json()["access_token"], options={"verify_signature": False})["role"] == (
        "service"
    )
    return str(r.json()["access_token"])


async def open_wallet(api: httpx.AsyncClient, user: User, currency: str = "USD") -> str:
    r = await api.post("/wallets", json={"currency": currency}, headers=user.auth)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def money_post(
    api: httpx.AsyncClient,
    user: User,
    path: str,
    body: dict[str, Any],
    key: str | None = None,
    wait: int = 0,
) -> httpx.Response:
    """POST a money command with an Idempotency-Key; a dropped connection is retried with
    the same key, as a real client does."""
    headers = {**user.auth, "Idempotency-Key": key or str(uuid.uuid4())}
    if wait:
        headers["Prefer"] = f"wait={wait}"
    for _ in range(20):
        try:
            return await api.post(path, json=body, headers=headers)
        except httpx.TransportError:
            await asyncio.sleep(0.2)
    return await api.post(path, json=body, headers=headers)


async def pay_merchant(
    api: httpx.AsyncClient, payer: User, body: dict[str, Any], wait: int = 15
) -> httpx.Response:
    """``POST /payments`` once transaction_svc knows the merchant and its wallet: both are
    projected from the logs (user-events, wallet-events) and lag registration by a moment,
    and a refused payment records nothing, so it is asked again under the same key."""
    key = str(uuid.uuid4())
    for _ in range(150):
        r = await money_post(api, payer, "/payments", body, key=key, wait=wait)
        if r.json().get("code") not in ("merchant_not_found", "merchant_currency_unsupported"):
            return r
        await asyncio.sleep(0.2)
    return r


async def add_card(api: httpx.AsyncClient, user: User, number: str = GOOD_CARD) -> str:
    """The id of ``user``'s card ``number`` (registered once, then remembered)."""
    if number not in user.cards:
        body = {"type": "card", "number": number, "exp_month": 12, "exp_year": 2035, "cvc": "123"}
        r = await api.post("/payment-methods", json=body, headers=user.auth)
        assert r.status_code == 201, r.text
        user.cards[number] = str(r.json()["id"])
    return user.cards[number]


async def add_bank_account(
    api: httpx.AsyncClient, user: User, iban: str = GOOD_IBAN, currency: str = "USD"
) -> str:
    """The id of a new bank account of ``user`` that pays out in ``currency``."""
    body = {
        "type": "bank_account",
        "iban": iban,
        "holder_name": "Test Holder",
        "currency": currency,
    }
    r = await api.post("/payment-methods", json=body, headers=user.auth)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def deposit(
    api: httpx.AsyncClient, user: User, wallet: str, amount: int, currency: str = "USD"
) -> dict[str, Any]:
    """A completed card deposit (the provider's always-paying test card)."""
    card = await add_card(api, user)
    body = {"wallet_id": wallet, "amount": amount, "currency": currency, "payment_method_id": card}
    r = await money_post(api, user, "/deposits", body, wait=15)
    assert r.status_code == 200 and r.json()["status"] == "completed", r.text
    return dict(r.json())


async def funded_user(
    api: httpx.AsyncClient, name: str, funds: int, currency: str = "USD"
) -> tuple[User, str, str]:
    """A new user with two wallets in ``currency``, the first holding ``funds``: the user
    and the two wallet ids."""
    user = await register(api, name)
    src, dst = await open_wallet(api, user, currency), await open_wallet(api, user, currency)
    if funds:
        await deposit(api, user, src, funds, currency)
    return user, src, dst


async def two_users(
    api: httpx.AsyncClient, names: tuple[str, str], funds: int, currency: str = "USD"
) -> tuple[User, User, str, str]:
    """Two new users with a wallet each in ``currency``, the first's holding ``funds``: the
    users, then their wallet ids."""
    first, second = await register(api, names[0]), await register(api, names[1])
    wa, wb = await open_wallet(api, first, currency), await open_wallet(api, second, currency)
    await deposit(api, first, wa, funds, currency)
    return first, second, wa, wb


async def funded_wallets(
    api: httpx.AsyncClient, names: tuple[str, str], count: int, funds: int
) -> list[tuple[User, str]]:
    """``count`` new USD wallets holding ``funds`` each, owned in turn by two new users
    named after ``names``: each wallet with its owner."""
    users = [await register(api, name) for name in names]
    wallets = []
    for i in range(count):
        user = users[i % len(users)]
        wallet = await open_wallet(api, user)
        await deposit(api, user, wallet, funds)
        wallets.append((user, wallet))
    return wallets


async def transaction(api: httpx.AsyncClient, user: User, tx: str) -> dict[str, Any]:
    r = await api.get(f"/transactions/{tx}", headers=user.auth)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def until_terminal(
    api: httpx.AsyncClient, user: User, tx: str, timeout: float = 60
) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        body = await transaction(api, user, tx)
        if body["status"] in TERMINAL:
            return body
        assert asyncio.get_running_loop().time() < deadline, f"{tx} stuck in {body['status']}"
        await asyncio.sleep(0.2)


async def balance(api: httpx.AsyncClient, user: User, wallet: str) -> dict[str, int]:
    r = await api.get(f"/wallets/{wallet}", headers=user.auth)
    assert r.status_code == 200, r.text
    return dict(r.json()["balance"])


async def ledger_total(api: httpx.AsyncClient, wallets: list[tuple[User, str]]) -> int:
    """The ledger balances of ``wallets`` (each with its owner) added up."""
    return sum([(await balance(api, user, wallet))["ledger"] for user, wallet in wallets])


async def settled_balance(
    api: httpx.AsyncClient,
    user: User,
    wallet: str,
    ledger: int,
    timeout: float = 30,
    available: int | None = None,
) -> dict[str, int]:
    """The wallet's balance once the read model shows ``ledger`` (and ``available``, if
    given): projections lag a bit."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        b = await balance(api, user, wallet)
        settled = b["ledger"] == ledger and available in (None, b["available"])
        if settled or asyncio.get_running_loop().time() > deadline:
            return b
        await asyncio.sleep(0.2)
