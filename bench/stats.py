"""The percentiles every bench report gives, computed one way."""

from __future__ import annotations

import statistics
from collections.abc import Iterable


def percentiles(values: Iterable[float]) -> dict[str, float]:
    """p50, p95, p99 and the mean of ``values`` (nearest rank, rounded down: the value
    below which that share of the values lie); all 0 when there are none."""
    ordered = sorted(values)
    if not ordered:
        return {"p50": 0.0, "p95": 0.0, "p99": 0.0, "mean": 0.0}

    def at(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))]

    return {"p50": at(0.50), "p95": at(0.95), "p99": at(0.99), "mean": statistics.fmean(ordered)}
