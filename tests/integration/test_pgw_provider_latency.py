"""pgw_svc's configured latency: every provider API call waits it, the public API does not."""

from __future__ import annotations

import os
import time

import pytest

from infra.testing.api import register
from infra.testing.pgw import provider_callers, start_provider
from infra.testing.stack import StackUnderTest

pytestmark = pytest.mark.integration

LATENCY_MS = 400
ADMIN_EMAIL = "first.admin@pgw-latency.example.com"
ADMIN_PASSWORD = "Adm1n-Latency-Passphrase-3"  # fixed: the database outlives a session


@pytest.fixture(scope="module")
def started(stack: StackUnderTest) -> StackUnderTest:
    # given pgw_svc configured with a latency
    os.environ["PAYSTREAM_PGW_LATENCY_MS"] = str(LATENCY_MS)
    start_provider(stack, ADMIN_EMAIL, ADMIN_PASSWORD)
    return stack


async def test_each_provider_call_takes_the_configured_latency(started: StackUnderTest) -> None:
    async with provider_callers(ADMIN_EMAIL, ADMIN_PASSWORD) as callers:
        user = await register(callers.users, "payer")

        async def timed(path: str, headers: dict[str, str]) -> tuple[int, float]:
            start = time.perf_counter()
            r = await callers.pgw.get(path, headers=headers)
            return r.status_code, time.perf_counter() - start

        # when a service asks the provider, then the answer comes after the latency
        status, took = await timed("/internal/charges?idempotency_key=k", callers.service)
        assert status == 404 and took >= LATENCY_MS / 1000
        # and the public payment-methods API answers without it
        status, took = await timed("/payment-methods", user.auth)
        assert status == 200 and took < LATENCY_MS / 1000
