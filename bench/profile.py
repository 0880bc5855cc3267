"""Where the CPU goes while a load runs: CPU share per process, and py-spy per service.

    uv run python -m bench.profile --seconds 8            # every running paystream process
    uv run python -m bench.profile --seconds 8 gateway transaction_svc

Run it while `bench.loadgen` drives the stack (same PAYSTREAM_* environment). It samples
every process of the machine from /proc over the window (so the broker, Postgres and the
load generator show up too), records each named paystream process with
``py-spy record -f raw`` at the same time, and prints, per process, the frames with the
most samples (own and cumulative). Raw profiles stay in ``bench/results/profile-*/``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from bench.loadgen import RESULTS
from bench.proc import TICKS, processes

SERVICES = (
    "gateway",
    "user_svc",
    "wallet_svc",
    "transaction_svc",
    "wallet_svc.decider_worker",
    "wallet_svc.projector",
    "transaction_svc.saga_worker",
    "transaction_svc.provider_worker",
    "pgw_svc",
)
NOISE = ("runpy", "uvicorn/main", "Runner.run", "asyncio_run", "_run_once", "run_forever")


def _service_pids(names: list[str]) -> dict[str, int]:
    pids = {}
    for pid, (_, cmd) in processes().items():
        for name in names:
            if cmd.endswith(f"-m {name}"):
                pids[name] = pid
    return pids


def summarise(raw: Path, top: int) -> list[str]:
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        samples += n
        frames = stack.split(";")
        own[frames[-1]] += n
        for frame in set(frames):
            if not any(x in frame for x in NOISE):
                total[frame] += n
    if not samples:
        return ["  (no samples)"]
    lines = [f"  {samples} samples; own:"]
    lines += [f"  {c / samples:6.1%}  {f[:110]}" for f, c in own.most_common(top)]
    lines.append("  cumulative:")
    lines += [f"  {c / samples:6.1%}  {f[:110]}" for f, c in total.most_common(top * 2)]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("services", nargs="*", default=list(SERVICES))
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--rate", type=int, default=100, help="py-spy samples per second")
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args()
    out = RESULTS / f"profile-{datetime.now(UTC):%Y%m%dT%H%M%S}"
    out.mkdir(parents=True)
    pids = _service_pids(args.services)
    before, started = processes(), time.monotonic()
    spies = {}
    for name, pid in pids.items():
        command = ["py-spy", "record", "-p", str(pid), "-d", str(int(args.seconds))]
        command += ["-r", str(args.rate), "-f", "raw", "-o", str(out / f"{name}.txt")]
        spies[name] = subprocess.Popen(
            [*command, "--nonblocking"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
    time.sleep(args.seconds)
    after, elapsed = processes(), time.monotonic() - started
    for spy in spies.values():
        spy.wait()
    shares = sorted(
        (
            ((after[p][0] - before[p][0]) / TICKS / elapsed, after[p][1])
            for p in after.keys() & before.keys()
        ),
        reverse=True,
    )
    print(f"CPU over {elapsed:.1f} s (% of one core; {os.cpu_count()} cores):")
    for share, cmd in shares[:15]:
        if share >= 0.005:
            print(f"  {share:6.1%}  {cmd}")
    for name in pids:
        print(f"\n{name} (py-spy, {args.rate}/s):")
        print("\n".join(summarise(out / f"{name}.txt", args.top)))
    print(f"\nraw profiles in {out}")


if __name__ == "__main__":
    main()
