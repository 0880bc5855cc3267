"""The latency-throughput curve of a load generator report, as JSON and as a PNG.

    bench/curve.sh --duration 60          # the load at each of RATES, then this
    uv run python -m bench.curve bench/results/curve-<time>.json [--png PATH]

Reads the report ``bench.loadgen --out`` wrote (one transfer phase per offered rate) and
writes, beside it (``<report>.curve.json``, ``<report>.curve.png``), per offered rate the
completed/s and the request-to-terminal p50/p95/p99, drawn against the issue's goals.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson
from matplotlib.figure import Figure

RATES = (50, 100, 250, 400, 520)  # offered transfers/s the curve is measured at
GOALS_P99_MS = {50: 100, 250: 250, 400: 1000}  # offered/s -> p99 goal (issue 15)


def points(report: Mapping[str, Any], kind: str = "transfer") -> list[dict[str, float]]:
    """One point per ``kind`` phase, by offered rate."""
    out = []
    for p in report["phases"]:
        if p["kind"] != kind:
            continue
        ms = p["latency_ms"]
        out.append(
            {
                "offered_per_s": p["rate"],
                "accepted_per_s": p["accepted_per_s"],
                "completed_per_s": p["completed_per_s"],
                "terminal": p["terminal"],
                "p50_ms": ms["p50"],
                "p95_ms": ms["p95"],
                "p99_ms": ms["p99"],
            }
        )
    return sorted(out, key=lambda q: q["offered_per_s"])


def curve_data(report: Mapping[str, Any]) -> dict[str, Any]:
    """What ``<report>.curve.json`` holds: the points, each rate's per-hop p50 and p99
    (``bench.timeline``: where the time goes as the load grows) and the report's same-run
    baselines."""
    hops = {
        f"{p['rate']:g}": {
            name: {"p50": h["p50"], "p99": h["p99"]} for name, h in p["timeline"]["hops"].items()
        }
        for p in report["phases"]
        if p["kind"] == "transfer"
    }
    return {
        "at": report["at"],
        "duration_s": report["args"]["duration"],
        "points": points(report),
        "hops_ms": hops,
        "baselines": {
            "kafka": report.get("baseline_kafka"),
            "postgres": report.get("baseline_postgres"),
        },
    }


def series(pts: Sequence[Mapping[str, float]]) -> dict[str, list[float]]:
    """What the plot draws: the offered rates (x), completed/s and each percentile."""
    keys = ("offered_per_s", "completed_per_s", "p50_ms", "p95_ms", "p99_ms")
    return {k: [q[k] for q in pts] for k in keys}


def draw(pts: Sequence[Mapping[str, float]], png: Path, title: str) -> None:
    """Latency percentiles (log scale) and completed/s against the offered rate."""
    s = series(pts)
    fig = Figure(figsize=(11, 4.5), layout="tight")  # no pyplot: no display, no global state
    lat, thr = fig.subplots(1, 2)
    for key, style in (("p50_ms", "o-"), ("p95_ms", "s-"), ("p99_ms", "^-")):
        lat.plot(s["offered_per_s"], s[key], style, label=key.removesuffix("_ms"))
    goals = sorted(GOALS_P99_MS.items())
    lat.plot([g[0] for g in goals], [g[1] for g in goals], "rx", markersize=10,
             label="p99 goal")  # fmt: skip
    lat.set(xlabel="offered transfers/s", ylabel="request to terminal, ms", yscale="log")
    lat.grid(True, which="both", alpha=0.3)
    lat.legend()
    top = max(s["offered_per_s"], default=1)
    thr.plot([0, top], [0, top], ":", color="grey", label="completed = offered")
    thr.plot(s["offered_per_s"], s["completed_per_s"], "o-", label="completed/s")
    thr.set(xlabel="offered transfers/s", ylabel="completed transfers/s")
    thr.grid(True, alpha=0.3)
    thr.legend()
    fig.suptitle(title)
    fig.savefig(png, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("report", type=Path, help="a bench.loadgen report (JSON)")
    parser.add_argument("--png", type=Path, help="where to draw (default: beside the report)")
    args = parser.parse_args()
    curve = curve_data(orjson.loads(args.report.read_bytes()))
    base = args.report.with_suffix("")
    data = base.with_suffix(".curve.json")
    data.write_bytes(orjson.dumps(curve, option=orjson.OPT_INDENT_2))
    png = args.png or base.with_suffix(".curve.png")
    title = f"paystream transfers, {curve['duration_s']:g} s per rate, {curve['at'][:16]}"
    draw(curve["points"], png, title)
    print("offered/s  completed/s   p50 ms   p95 ms   p99 ms")
    for q in curve["points"]:
        print(
            f"{q['offered_per_s']:>9g} {q['completed_per_s']:>12.1f} {q['p50_ms']:>8.0f} "
            f"{q['p95_ms']:>8.0f} {q['p99_ms']:>8.0f}"
        )
    rates = "  ".join(f"{r + '/s':>11}" for r in curve["hops_ms"])
    print(f"  {'per hop p50/p99 ms':<24} {rates}")
    for name in next(iter(curve["hops_ms"].values()), {}):
        cells = [f"{h[name]['p50']:.0f}/{h[name]['p99']:.0f}" for h in curve["hops_ms"].values()]
        print(f"  {name:<24} " + "  ".join(f"{c:>11}" for c in cells))
    print(f"written to {data} and {png}")


if __name__ == "__main__":
    main()
