"""pgw_svc's configured latency: every provider API call waits it, the public API does not."""

from __future__ import annotations

import os
import time

import httpx
import pytest

from common.settings import Settings
from infra.testing.api import login, register, service_client, service_token
from infra.testing.stack import StackUnderTest

pytestmark = pytest.mark.integration

LATENCY_MS = 400
ADMIN_EMAIL = "first.admin@pgw-latency.example.com"
ADMIN_PASSWORD = "Adm1n-Latency-Passphrase-3"  # fixed: the database outlives a session


@pytest.fixture(scope="module")
def started(stack: StackUnderTest) -> StackUnderTest:
    # given pgw_svc configured with a latency
    os.environ["PAYSTREAM_PGW_LATENCY_MS"] = str(LATENCY_MS)
    os.environ["PAYSTREAM_ADMIN_EMAIL"] = ADMIN_EMAIL
    os.environ["PAYSTREAM_ADMIN_PASSWORD"] = ADMIN_PASSWORD
    stack.start_apps(["user_svc", "pgw_svc"])
    return stack


async def test_each_provider_call_takes_the_configured_latency(started: StackUnderTest) -> None:
    settings = Settings()
    async with (
        httpx.AsyncClient(base_url=settings.user_svc_url, timeout=10) as users,
        httpx.AsyncClient(base_url=settings.pgw_svc_url, timeout=10) as pgw,
    ):
        admin = await login(users, ADMIN_EMAIL, ADMIN_PASSWORD)
        token = await service_token(users, await service_client(users, admin, ["payments"]))
        user = await register(users, "payer")

        async def timed(path: str, headers: dict[str, str]) -> tuple[int, float]:
            start = time.perf_counter()
            r = await pgw.get(path, headers=headers)
            return r.status_code, time.perf_counter() - start

        # when a service asks the provider, then the answer comes after the latency
        status, took = await timed("/internal/charges?idempotency_key=k", {
            "Authorization": f"Bearer {token}"})  # fmt: skip
        assert status == 404 and took >= LATENCY_MS / 1000
        # and the public payment-methods API answers without it
        status, took = await timed("/payment-methods", user.auth)
        assert status == 200 and took < LATENCY_MS / 1000
