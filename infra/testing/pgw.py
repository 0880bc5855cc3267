"""Testing pgw_svc: callers of its provider API with a service token, and the check that
it keeps no card number, CVC or IBAN in any pgw table or its log."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from common.settings import Settings
from infra.testing.api import bearer, login, service_client, service_token
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
