"""Testing pgw_svc: callers of its provider API with a service token, a payer with stored
payment methods, and the check that it keeps no card number, CVC or IBAN in any pgw
table or its log."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from common.settings import Settings
from infra.testing.api import User, bearer, login, register, service_client, service_token
from infra.testing.stack import StackUnderTest


def start_provider(stack: StackUnderTest, admin_email: str, admin_password: str) -> None:
    """Start user_svc (with this first admin, who creates service clients) and pgw_svc."""
    os.environ["PAYSTREAM_ADMIN_EMAIL"] = admin_email
    os.environ["PAYSTREAM_ADMIN_PASSWORD"] = admin_password
    stack.start_apps(["user_svc", "pgw_svc"])


@dataclass
class ProviderCallers:
    users: httpx.AsyncClient  # user_svc
    pgw: httpx.AsyncClient  # pgw_svc
    service: dict[str, str]  # the Authorization header of a new service client's token


@asynccontextmanager
async def provider_callers(admin_email: str, admin_password: str) -> AsyncIterator[ProviderCallers]:
    """Clients of user_svc and pgw_svc, and a service token as the money services hold one."""
    settings = Settings()
    async with (
        httpx.AsyncClient(base_url=settings.user_svc_url, timeout=10) as users,
        httpx.AsyncClient(base_url=settings.pgw_svc_url, timeout=10) as pgw,
    ):
        admin = await login(users, admin_email, admin_password)
        token = await service_token(users, await service_client(users, admin, ["payments"]))
        yield ProviderCallers(users, pgw, bearer(token))


CARD = {"type": "card", "exp_month": 12, "exp_year": 2030, "cvc": "123"}


@dataclass
class Payer:
    """A user with payment methods, and a service client's headers to call the provider."""

    pgw: httpx.AsyncClient
    owner: User
    owner_id: str
    service: dict[str, str]
    methods: dict[str, str]  # method name -> id

    def headers(self, key: str | None = None) -> dict[str, str]:
        return {**self.service, "Idempotency-Key": key or uuid.uuid4().hex}

    def charge(self, method: str, amount: int = 1000, **extra: Any) -> dict[str, Any]:
        """A charge (or payout) body for the named method, in USD unless ``extra`` says."""
        body = {"owner_id": self.owner_id, "payment_method_id": self.methods[method]}
        return body | {"amount": amount, "currency": "USD"} | extra

    async def post(self, path: str, body: dict[str, Any], key: str | None = None) -> httpx.Response:
        return await self.pgw.post(path, json=body, headers=self.headers(key))


async def payer(callers: ProviderCallers, cards: dict[str, str], ibans: dict[str, str]) -> Payer:
    """A new user with a card per ``cards`` entry and an account per ``ibans`` entry
    (named ``payout_<name>``)."""
    owner = await register(callers.users, "payer")
    bodies = {name: {**CARD, "number": number} for name, number in cards.items()} | {
        f"payout_{name}": {"type": "bank_account", "iban": iban, "holder_name": "Payer"}
        for name, iban in ibans.items()
    }
    methods = {}
    for name, body in bodies.items():
        r = await callers.pgw.post("/payment-methods", json=body, headers=owner.auth)
        assert r.status_code == 201, r.text
        methods[name] = r.json()["id"]
    owner_id = owner.id
    return Payer(callers.pgw, owner, owner_id, callers.service, methods)


_TABLES = text("SELECT table_name FROM information_schema.tables WHERE table_schema = 'pgw'")


async def pgw_rows(dsn: str) -> dict[str, list[dict[str, object]]]:
    """Every row of every table in schema ``pgw``, by table."""
    engine = create_async_engine(dsn)
    try:
        async with engine.connect() as conn:
            names = [str(n) for n in (await conn.execute(_TABLES)).scalars()]
            return {
                name: [dict(r) for r in (await conn.execute(text(f'SELECT * FROM pgw."{name}"')))
                       .mappings()]
                for name in names
            }  # fmt: skip
    finally:
        await engine.dispose()


def assert_kept_nowhere(secrets: tuple[str, ...], rows: dict[str, list[dict[str, object]]],
                        run_dir: Path) -> None:  # fmt: skip
    """No secret in any stored value nor in any line pgw_svc logged (which is not empty)."""
    stored = " ".join(str(v) for table in rows.values() for row in table for v in row.values())
    assert not [s for s in secrets if s in stored]
    log = (run_dir / "logs" / "pgw_svc.log").read_text(errors="replace")
    assert log, "pgw_svc logged nothing"
    assert not [s for s in secrets if s in log]
    assert "cvc" not in log.lower()
