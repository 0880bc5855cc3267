"""Asking the stack's Prometheus (tests): what it scraped and which alerts it fires.

A test stack's Prometheus keeps its data in the run folder, so a query can answer with
samples of an earlier session for five minutes (the lookback); ask for a recent window
(``last_over_time(...[10s])``) or for :func:`firing`, which is the rules' state now."""

from __future__ import annotations

from typing import Any

import httpx


async def query(prometheus_url: str, promql: str) -> list[dict[str, Any]]:
    """The instant vector ``promql`` answers now: each item's ``metric`` (its labels) and
    ``value`` (``[time, "number"]``)."""
    async with httpx.AsyncClient(base_url=prometheus_url, timeout=5) as client:
        resp = await client.get("/api/v1/query", params={"query": promql})
        resp.raise_for_status()
        result: list[dict[str, Any]] = resp.json()["data"]["result"]
        return result


async def firing(prometheus_url: str, alertname: str) -> list[dict[str, Any]]:
    """The alerts named ``alertname`` that this Prometheus's rules fire now, each with
    its ``labels`` and ``annotations``."""
    async with httpx.AsyncClient(base_url=prometheus_url, timeout=5) as client:
        resp = await client.get("/api/v1/alerts")
        resp.raise_for_status()
        alerts: list[dict[str, Any]] = resp.json()["data"]["alerts"]
    return [
        a for a in alerts if a["labels"].get("alertname") == alertname and a["state"] == "firing"
    ]
