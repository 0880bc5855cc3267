"""Asking the stack's Prometheus (tests): what it scraped and which alerts it fires; and
reading a process's own /metrics page, as Prometheus scrapes it.

A test stack's Prometheus keeps its data in the run folder, so a query can answer with
samples of an earlier session for five minutes (the lookback); ask for a recent window
(``last_over_time(...[10s])``) or for :func:`firing`, which is the rules' state now."""

from __future__ import annotations

from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample


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


def samples_in(page: str, name: str, **labels: str) -> list[Sample]:
    """The samples named ``name`` on a /metrics ``page`` (a counter's with its suffix:
    ``x_total``) whose labels include ``labels``; each has ``labels`` and ``value``."""
    return [
        sample
        for family in text_string_to_metric_families(page)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    ]


async def scrape(base_url: str, name: str, **labels: str) -> list[Sample]:
    """:func:`samples_in` the /metrics page the process at ``base_url`` serves now."""
    async with httpx.AsyncClient(base_url=base_url, timeout=5) as client:
        resp = await client.get("/metrics")
        resp.raise_for_status()
    return samples_in(resp.text, name, **labels)
