"""The dashboards show data: after a short load through the gateway, every panel's PromQL
(infra/grafana/panels.py, the source of the Grafana JSON) answers with at least one
number from this stack's real Prometheus, which scrapes every process and the Kafka,
Postgres and Redis exporters."""

from __future__ import annotations

import asyncio
import math

import httpx
import pytest

from common.settings import Settings
from infra.grafana.panels import DASHBOARDS
from infra.testing.api import (
    DECLINED_CARD,
    User,
    add_card,
    money_post,
    two_users,
)

pytestmark = pytest.mark.e2e


async def numbers(prom: httpx.AsyncClient, expr: str) -> list[float]:
    """The values an instant query answers now (NaN dropped: a panel shows nothing)."""
    r = await prom.get("/api/v1/query", params={"query": expr})
    assert r.status_code == 200, (expr, r.text)
    values = [float(s["value"][1]) for s in r.json()["data"]["result"]]
    return [v for v in values if not math.isnan(v)]


async def drive_load(api: httpx.AsyncClient, admin: User) -> None:
    """Deposits, transfers (one refused for want of funds), a declined card, an audit
    verification: every kind of series the panels read."""
    alice, bob, wa, wb = await two_users(api, ("dash-a", "dash-b"), 5_000)
    for amount in (100, 200, 300):
        body = {"from_wallet_id": wa, "to_wallet_id": wb, "amount": amount, "currency": "USD"}
        r = await money_post(api, alice, "/transfers", body, wait=15)
        assert r.status_code == 200 and r.json()["status"] == "completed", r.text
    overdraft = {"from_wallet_id": wb, "to_wallet_id": wa, "amount": 10_000, "currency": "USD"}
    r = await money_post(api, bob, "/transfers", overdraft, wait=15)
    assert r.json()["status"] == "failed", r.text
    card = await add_card(api, bob, DECLINED_CARD)
    declined = {"wallet_id": wb, "amount": 700, "currency": "USD", "payment_method_id": card}
    r = await money_post(api, bob, "/deposits", declined, wait=15)
    assert r.json()["status"] == "failed", r.text
    r = await api.get("/audit/verify", headers=admin.auth)
    assert r.status_code == 200 and r.json()["ok"], r.text


async def test_every_dashboard_panel_returns_data_after_a_short_load(
    api: httpx.AsyncClient, admin: User, settings: Settings
) -> None:
    # given a short load through the gateway
    await drive_load(api, admin)
    # when every panel's queries run against the stack's Prometheus (scraped every 5 s,
    # rules evaluated every 5 s; the saga worker counts sagas in flight every 30 s)
    queries = {
        (board.title, panel.title, query.expr)
        for board in DASHBOARDS
        for panel in board.panels
        for query in panel.queries
    }
    empty = set(queries)
    async with httpx.AsyncClient(base_url=settings.prometheus_url, timeout=10) as prom:
        for _ in range(60):
            for item in sorted(empty):
                if await numbers(prom, item[2]):
                    empty.discard(item)
            if not empty:
                break
            await asyncio.sleep(1)
    # then each answers with data
    assert not empty, "panels without data:\n" + "\n".join(map(str, sorted(empty)))
