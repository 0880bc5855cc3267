"""Batch mode of the benchmark: transfers through ``POST /transfers/batch``, end to end.

    bench/run.sh batch --users 4 --wallets 25 --batches 20 --size 1000 --concurrency 2

Sets up funded wallets as ``bench.loadgen`` does, then sends ``--batches`` batches of
``--size`` transfers of 0.01 (each from one user's own wallets to any other wallet),
``--concurrency`` batches in flight, and waits for every transfer to be terminal. It
reports the rate the API accepted items at, the rate transfers completed end to end
(first batch sent to last transfer terminal), request-to-terminal latency, the Kafka
records written per transfer, and, in the same run, the raw baselines for as many rows:
an idempotent aiokafka produce of that many messages and Postgres inserts of that many
rows 1,000 at a time, with the ratios. Results go to ``bench/results/batch-<time>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.baselines import kafka_baseline, postgres_insert_baseline
from bench.loadgen import RESULTS, Account, completions, setup
from bench.stats import percentiles
from common.settings import Settings
from common.topics import TRANSACTION_EVENTS, WALLET_COMMANDS, WALLET_EVENTS

MONEY_TOPICS = (TRANSACTION_EVENTS, WALLET_COMMANDS, WALLET_EVENTS)


def batches_of(accounts: list[Account], count: int, size: int, run: str) -> list[tuple[str, Any]]:
    """``count`` batches of ``size`` transfers of 1, each (token, body) from one owner's
    own wallets to wallets picked at random among all the others."""
    owners: dict[str, list[str]] = {}
    for account in accounts:
        owners.setdefault(account.token, []).append(account.wallet)
    tokens = list(owners)
    every = [a.wallet for a in accounts]
    made = []
    for b in range(count):
        token = tokens[b % len(tokens)]
        items = []
        for n in range(size):
            src = random.choice(owners[token])
            dst = random.choice([w for w in random.sample(every, 2) if w != src])
            items.append({"idempotency_key": f"{run}-{b}-{n}", "from_wallet_id": src,
                          "to_wallet_id": dst, "amount": 1, "currency": "USD"})  # fmt: skip
        made.append((token, {"items": items}))
    return made


async def records(settings: Settings) -> int:
    """Records (and transaction markers) on the money topics so far."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap)
    await consumer.start()
    try:
        parts = [
            TopicPartition(t, p) for t in MONEY_TOPICS for p in range(settings.kafka_partitions)
        ]
        return sum((await consumer.end_offsets(parts)).values())
    finally:
        await consumer.stop()


async def send(
    client: httpx.AsyncClient, batches: list[tuple[str, Any]], concurrency: int
) -> tuple[dict[str, float], list[float], int]:
    """Send every batch, ``concurrency`` at a time: each accepted transfer's send time,
    each batch's answer time (ms), and the items refused."""
    sent: dict[str, float] = {}
    answer_ms: list[float] = []
    refused = 0
    slots = asyncio.Semaphore(concurrency)

    async def one(token: str, body: Any) -> None:
        nonlocal refused
        async with slots:
            at = time.time()
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            r = await client.post("/transfers/batch", content=orjson.dumps(body), headers=headers)
            answer_ms.append((time.time() - at) * 1000)
            r.raise_for_status()
            for item in r.json()["items"]:
                if item["transaction_id"]:
                    sent[item["transaction_id"]] = at
                else:
                    refused += 1

    await asyncio.gather(*(one(t, b) for t, b in batches))
    return sent, answer_ms, refused


async def run(args: argparse.Namespace) -> dict[str, Any]:
    settings = Settings()
    base = f"{settings.gateway_url}/api/v1"
    async with httpx.AsyncClient(base_url=base, timeout=300) as client:
        accounts = await setup(client, args.users, args.wallets, args.funds)
        batches = batches_of(accounts, args.batches, args.size, uuid.uuid4().hex[:6])
        before = await records(settings)
        print(f"sending {len(batches)} batches of {args.size}", flush=True)  # profile now
        t0 = time.perf_counter()
        sent, answer_ms, refused = await send(client, batches, args.concurrency)
        accept_s = time.perf_counter() - t0
    done = await completions(settings, sent, timeout=args.drain)
    written = await records(settings) - before
    rows = len(sent)
    kafka = await kafka_baseline(settings.kafka_bootstrap, max(rows, 1))
    postgres = await postgres_insert_baseline(settings.postgres_dsn, max(rows, 1))
    # terminal/s counts transfers that expired in the queue (failed or reversed) too
    span = done["terminal"] / done["completed_per_s"] if done["completed_per_s"] else 0
    completed = done["statuses"].get("completed", 0) / span if span else 0.0
    return {
        "mode": "batch",
        "at": datetime.now(UTC).isoformat(),
        "args": vars(args),
        "transfers": rows,
        "refused": refused,
        "accepted_per_s": rows / accept_s,
        "batch_answer_ms": percentiles(answer_ms),
        **done,
        "terminal_per_s": done["completed_per_s"],
        "completed_per_s": completed,
        "kafka_records_per_transfer": written / rows if rows else 0,
        "baselines": {"kafka": kafka, "postgres_inserts": postgres},
        "ratio": {
            "to_kafka_produce": completed / kafka["produce_per_s"],
            "to_postgres_inserts": completed / postgres["inserts_per_s"],
        },
        "load_average": os.getloadavg(),  # others' work on the machine shows here
    }


def summary(r: dict[str, Any]) -> str:
    lat = r["latency_ms"]
    return "\n".join(
        [
            f"{r['transfers']} transfers in {r['args']['batches']} batches of "
            f"{r['args']['size']} ({r['refused']} refused); load average {r['load_average']}",
            f"accepted by the API: {r['accepted_per_s']:.0f}/s; batch answer ms "
            f"p50 {r['batch_answer_ms']['p50']:.0f} p99 {r['batch_answer_ms']['p99']:.0f}",
            f"completed end to end: {r['completed_per_s']:.0f}/s (terminal "
            f"{r['terminal_per_s']:.0f}/s, {r['terminal']}: {r['statuses']}); latency ms "
            f"p50 {lat['p50']:.0f} p99 {lat['p99']:.0f}",
            f"Kafka records per transfer: {r['kafka_records_per_transfer']:.1f}",
            f"raw Kafka produce {r['baselines']['kafka']['produce_per_s']:.0f}/s, raw Postgres "
            f"inserts {r['baselines']['postgres_inserts']['inserts_per_s']:.0f} rows/s; ratio "
            f"{r['ratio']['to_kafka_produce']:.3f} and {r['ratio']['to_postgres_inserts']:.3f}",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=4)
    parser.add_argument("--wallets", type=int, default=25, help="per user")
    parser.add_argument("--funds", type=int, default=1_000_000)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--drain", type=float, default=600, help="seconds to wait for the ends")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    result = asyncio.run(run(args))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    out = args.out or str(RESULTS / f"batch-{stamp}.json")
    with open(out, "wb") as f:
        f.write(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    print(summary(result))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
