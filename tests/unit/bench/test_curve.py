"""bench.curve: the latency-throughput points of a load generator report, and the PNG."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.curve import curve_data, draw, points, series
from bench.timeline import hop_latencies


def phase(kind: str, rate: float, completed: float, p99: float) -> dict[str, Any]:
    return {
        "kind": kind,
        "rate": rate,
        "accepted_per_s": rate,
        "completed_per_s": completed,
        "terminal": int(completed * 10),
        "latency_ms": {"p50": p99 / 4, "p95": p99 / 2, "p99": p99, "mean": p99 / 3},
        "timeline": {"sampled": 1, "hops": hop_latencies([{"sent": 0.0, "terminal": p99 / 1000}])},
    }


REPORT = {
    "at": "2026-12-01T21:00:00+00:00",
    "args": {"duration": 60.0},
    "baseline_postgres": {"updates_per_s": 2500.0},
    "phases": [
        phase("transfer", 250, 248.0, 900.0),
        phase("deposit", 50, 49.0, 5000.0),  # another kind: not on the transfers' curve
        phase("transfer", 50, 50.0, 120.0),
        phase("transfer", 520, 470.5, 8000.0),
    ],
}


def test_the_curve_has_one_point_per_transfer_phase_by_offered_rate() -> None:
    pts = points(REPORT)
    assert [p["offered_per_s"] for p in pts] == [50, 250, 520]
    assert pts[2] == {
        "offered_per_s": 520,
        "accepted_per_s": 520,
        "completed_per_s": 470.5,
        "terminal": 4705,
        "p50_ms": 2000.0,
        "p95_ms": 4000.0,
        "p99_ms": 8000.0,
    }


def test_the_plotted_series_are_the_points_columns_in_rate_order() -> None:
    s = series(points(REPORT))
    assert s["offered_per_s"] == [50, 250, 520]
    assert s["completed_per_s"] == [50.0, 248.0, 470.5]
    assert s["p99_ms"] == [120.0, 900.0, 8000.0]
    assert s["p50_ms"] == [30.0, 225.0, 2000.0]


def test_the_curve_s_json_holds_the_points_each_rate_s_hops_and_the_baselines() -> None:
    curve = curve_data(REPORT)
    assert curve["points"] == points(REPORT)
    assert list(curve["hops_ms"]) == ["250", "50", "520"]  # the transfer phases, as run
    assert curve["hops_ms"]["520"]["sent -> terminal"] == {"p50": 8000.0, "p99": 8000.0}
    assert curve["hops_ms"]["50"]["accepted -> debited"] == {"p50": 0.0, "p99": 0.0}  # no points
    assert curve["baselines"] == {"kafka": None, "postgres": {"updates_per_s": 2500.0}}
    assert curve["duration_s"] == 60.0


def test_the_curve_is_drawn_as_a_png(tmp_path: Path) -> None:
    png = tmp_path / "curve.png"
    draw(points(REPORT), png, "test")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
