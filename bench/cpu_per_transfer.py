"""CPU milliseconds per completed transfer, by process, over one load generator run.

    uv run python -m bench.cpu_per_transfer --rate 300 --duration 30

Run it against a running stack (the same ``PAYSTREAM_*`` environment as the load
generator). It starts ``bench.loadgen`` (which sets up users and wallets first), reads
every process's CPU time from ``/proc`` when the transfers start and again when the load
generator has seen them all terminal, and divides by the transfers completed. Unlike a
throughput figure, which varies by +-15 % from run to run on a shared 2-core VM, CPU per
transfer moves little, so it shows what a change saved and where the budget goes
(2 cores = 2,000 ms of CPU a second: 4 ms per transfer for 500 transfers/s). Only the
stack's own processes are counted (those of its ``PAYSTREAM_RUN_DIR``), so another
stack on the machine does not add to the figures; the whole machine's line does.
"""

from __future__ import annotations

import argparse
import glob
import io
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import cast

import orjson

from bench.proc import TICKS, machine_busy_ticks, parents, processes, stack_pids, ticks_of
from infra.local.config import LocalConfig

RESULTS = Path(__file__).parent / "results"


def group_of(cmd: str) -> str:
    """A readable group for a process command line: postgres backends and the Kafka JVM
    each count as one; a ``python -m module`` process by its module."""
    if cmd.startswith("postgres"):
        return "postgres"
    if cmd.startswith("java"):
        return "kafka"
    if " -m " in cmd:
        return cmd.split(" -m ", 1)[1].split()[0]
    return cmd.split()[0] if cmd else "?"


def per_transfer(
    before: dict[int, tuple[int, str]],
    after: dict[int, tuple[int, str]],
    transfers: int,
    ticks_per_s: int = TICKS,
) -> dict[str, float]:
    """CPU ms per transfer by group, from two ``pid -> (ticks, cmd)`` snapshots."""
    spent: Counter[str] = Counter()
    for pid, (ticks, cmd) in after.items():
        delta = ticks - before.get(pid, (0, cmd))[0]
        if delta > 0:
            spent[group_of(cmd)] += delta
    return {group: ticks / ticks_per_s * 1000 / transfers for group, ticks in spent.most_common()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", default="300")
    parser.add_argument("--duration", default="30")
    parser.add_argument("--users", default="50")
    parser.add_argument("--wallets", default="2")
    args = parser.parse_args()
    loadgen = subprocess.Popen(
        [sys.executable, "-m", "bench.loadgen", "--users", args.users, "--wallets",
         args.wallets, "--rate", args.rate, "--duration", args.duration, "--skip-baselines"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    stream = cast(io.BufferedReader, loadgen.stderr)
    seen = b""
    while b"transfers offered" not in seen:  # setup (user sign-ups) is not measured
        chunk = stream.read1(4096)
        if not chunk:
            sys.exit("the load generator ended before driving any transfer")
        seen += chunk
    before, busy_before = processes(), machine_busy_ticks()
    # the load generator's own CPU: its process is gone at the end, so keep the last reading
    own = [loadgen.pid]
    start_own, last_own = ticks_of(own), [ticks_of(own)]

    def watch() -> None:
        while loadgen.poll() is None:
            last_own[0] = max(last_own[0], ticks_of(own))
            time.sleep(0.2)

    threading.Thread(target=watch, daemon=True).start()
    while stream.read1(65536):
        pass
    if loadgen.wait() != 0:
        sys.exit("the load generator failed")
    after, busy_after = processes(), machine_busy_ticks()
    ours = stack_pids(LocalConfig.from_env().run_dir, parents())
    before = {pid: v for pid, v in before.items() if pid in ours}
    after = {pid: v for pid, v in after.items() if pid in ours}
    newest = max(glob.glob(str(RESULTS / "*.json")), key=os.path.getmtime)
    result = orjson.loads(Path(newest).read_bytes())["phases"][0]
    transfers = int(result["terminal"])
    shares = per_transfer(before, after, transfers)
    shares["bench.loadgen"] = (last_own[0] - start_own) / TICKS * 1000 / transfers
    print(
        f"{transfers} transfers, {result['completed_per_s']:.0f} completed/s, "
        f"p50 {result['latency_ms']['p50']:.0f} ms"
    )
    for group, ms in sorted(shares.items(), key=lambda kv: -kv[1])[:12]:
        print(f"  {ms:6.3f} ms  {group}")
    machine = (busy_after - busy_before) / TICKS * 1000 / transfers
    print(f"  {machine:6.3f} ms  the whole machine (busy CPU time of both cores)")


if __name__ == "__main__":
    main()
