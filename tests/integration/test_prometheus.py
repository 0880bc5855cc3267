"""Prometheus scrapes a running paystream service and answers a query about it."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from common.settings import Settings
from infra.testing.prometheus import query
from infra.testing.stack import StackUnderTest

pytestmark = pytest.mark.integration


async def test_prometheus_scrapes_wallet_service(stack: StackUnderTest, settings: Settings) -> None:
    # given the wallet service running, and a few requests it answered
    stack.start_apps(["wallet_svc"])
    async with httpx.AsyncClient(base_url=settings.wallet_svc_url) as client:
        for _ in range(3):
            assert (await client.get("/ready")).status_code == 200
    # when Prometheus has scraped it (every 5 s)
    promql = 'sum(paystream_http_requests_total{job="wallet_svc",route="/ready",status="200"})'
    result: list[dict[str, object]] = []
    for _ in range(60):
        result = await query(settings.prometheus_url, promql)
        if result and float(result[0]["value"][1]) >= 3:  # type: ignore[index]
            break
        await asyncio.sleep(0.5)
    # then the query answers with what the service counted
    assert result, "Prometheus has no sample of the wallet service"
    assert float(result[0]["value"][1]) >= 3  # type: ignore[index]
    up = await query(settings.prometheus_url, 'up{job="wallet_svc"}')
    assert up and up[0]["value"][1] == "1"
