"""Load generator: transfers through the HTTP API at a fixed offered rate (open loop).

    uv run python -m bench.loadgen --users 50 --wallets 2 --rate 500 --duration 60

Sets up users (register + login), wallets and deposits through the API, then offers
``--rate`` transfers a second for ``--duration`` seconds whatever the answers' speed
(an open loop: latency is not hidden by a slow server slowing the client down). It
reports accepted/s, completed/s (terminal in the read model), request-to-terminal
latency percentiles, the projector's lag, and, in the same run, the raw aiokafka and
raw Postgres baselines, writing everything to ``bench/results/<time>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from tqdm import tqdm

from bench.baselines import kafka_baseline, postgres_baseline
from common.http1 import Http1Pool
from common.settings import Settings
from common.topics import WALLET_EVENTS

RESULTS = Path(__file__).parent / "results"


async def _user(client: httpx.AsyncClient, i: int, run: str) -> str:
    email = f"bench-{run}-{i}@example.com"
    password = f"Bench-{run}-password-{i}!"
    r = await client.post(
        "/auth/register", json={"email": email, "password": password, "full_name": f"Bench {i}"}
    )
    r.raise_for_status()
    r = await client.post("/auth/login", json={"email": email, "password": password})
    r.raise_for_status()
    return str(r.json()["access_token"])


async def _wallet(client: httpx.AsyncClient, token: str, funds: int) -> str:
    auth = {"Authorization": f"Bearer {token}"}
    r = await client.post("/wallets", json={"currency": "USD"}, headers=auth)
    r.raise_for_status()
    wallet_id = str(r.json()["id"])
    card = {"type": "card", "number": "4242424242424242", "exp_month": 12, "exp_year": 2035,
            "cvc": "123"}  # fmt: skip
    r = await client.post("/payment-methods", json=card, headers=auth)
    r.raise_for_status()
    method = str(r.json()["id"])
    for _ in range(50):  # the command API learns of new wallets from wallet-events
        r = await client.post(
            "/deposits",
            json={
                "wallet_id": wallet_id,
                "amount": funds,
                "currency": "USD",
                "payment_method_id": method,
            },
            headers={**auth, "Idempotency-Key": str(uuid.uuid4()), "Prefer": "wait=10"},
        )
        if r.status_code != 404:
            break
        await asyncio.sleep(0.2)
    r.raise_for_status()
    return wallet_id


async def setup(
    client: httpx.AsyncClient, users: int, wallets: int, funds: int
) -> list[tuple[str, str]]:
    """(token, wallet_id) for every wallet, funded."""
    run = uuid.uuid4().hex[:6]
    tokens = await asyncio.gather(*(_user(client, i, run) for i in range(users)))
    pairs = [(t, w) for t in tokens for _ in range(wallets) for w in [""]]
    ids = await asyncio.gather(*(_wallet(client, t, funds) for t, _ in pairs))
    return [(t, w) for (t, _), w in zip(pairs, ids, strict=True)]


class LagProbe:
    """The projector's lag: ``wallet-events`` end offsets minus what the projector has
    stored, summed. One Kafka client and one Postgres connection for the whole run (a
    client per sample would load the stack it measures)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap)
        self.conn: asyncpg.Connection | None = None

    async def __aenter__(self) -> LagProbe:
        await self.consumer.start()
        self.conn = await asyncpg.connect(self.settings.postgres_dsn.replace("+asyncpg", ""))
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.consumer.stop()
        if self.conn is not None:
            await self.conn.close()

    async def lag(self) -> int:
        assert self.conn is not None
        tps = [TopicPartition(WALLET_EVENTS, p) for p in range(self.settings.kafka_partitions)]
        ends = await self.consumer.end_offsets(tps)
        rows = await self.conn.fetch(
            "SELECT partition, next_offset FROM wallets.offsets WHERE topic = $1", WALLET_EVENTS
        )
        stored = {r["partition"]: r["next_offset"] for r in rows}
        # transaction markers take offsets too, so a caught-up projector can lag by a few
        return sum(max(0, ends[tp] - stored.get(tp.partition, 0)) for tp in tps)


# The load generator wakes at most every this often and launches every transfer due by
# then: one timer wake-up for several; each is still timed from its own scheduled
# moment, so a launch up to a tick late only adds to the latency measured.
TICK_S = 0.005


async def drive(
    pool: Http1Pool,
    wallets: list[tuple[str, str]],
    rate: float,
    duration: float,
    amount: int,
) -> tuple[dict[str, float], int, int]:
    """Offer ``rate`` transfers/s; return ({tx_id: scheduled_at}, accepted, refused).

    Each transfer is timed from the moment the schedule says it should start, not from
    when a connection was free to send it: a client held up by a slow server does not
    hide that wait from the latency figures (no coordinated omission). A transport error
    or a timeout counts as refused, as does any answer but 202."""
    sent: dict[str, float] = {}
    accepted = refused = 0
    in_flight: set[asyncio.Task[None]] = set()
    authed = [(b"Bearer " + token.encode(), wallet) for token, wallet in wallets]

    async def one(scheduled: float) -> None:
        nonlocal accepted, refused
        (auth, src), (_, dst) = random.sample(authed, 2)
        body = orjson.dumps(
            {"from_wallet_id": src, "to_wallet_id": dst, "amount": amount, "currency": "USD"}
        )
        headers = [(b"Authorization", auth), (b"Idempotency-Key", str(uuid.uuid4()).encode())]
        try:
            status, answer = await pool.post("transfers", body, headers)
        except OSError:  # HttpError, TimeoutError, ConnectError (common.http1)
            refused += 1
            return
        if status == 202:
            accepted += 1
            sent[orjson.loads(answer)["id"]] = scheduled
        else:
            refused += 1

    total = int(rate * duration)
    start = time.perf_counter()
    wall_start = time.time()
    with tqdm(total=total, desc="transfers offered", unit="tx", mininterval=1) as bar:
        for i in range(total):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:  # never early; those due meanwhile go with it
                await asyncio.sleep(max(delay, TICK_S))
            task = asyncio.create_task(one(wall_start + i / rate))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
            bar.update(1)
        await asyncio.gather(*in_flight)
    return sent, accepted, refused


async def completions(settings: Settings, sent: dict[str, float], timeout: float) -> dict[str, Any]:
    """Wait for the sent transfers to be terminal; latency = terminal time - send time."""
    conn = await asyncpg.connect(settings.postgres_dsn.replace("+asyncpg", ""))
    ids = list(sent)
    deadline = time.time() + timeout
    try:
        while True:
            rows = await conn.fetch(
                "SELECT id, status, updated_at FROM transactions.transactions "
                "WHERE id = ANY($1::text[]) AND status IN "
                "('completed', 'failed', 'reversed', 'reversal_failed')",
                ids,
            )
            if len(rows) == len(ids) or time.time() > deadline:
                break
            await asyncio.sleep(1)
    finally:
        await conn.close()
    latencies = sorted(r["updated_at"].timestamp() - sent[r["id"]] for r in rows)
    finished = [r["updated_at"].timestamp() for r in rows]
    span = (max(finished) - min(sent.values())) if finished else 0.0

    def pct(p: float) -> float:
        return (
            latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else 0.0
        )

    statuses: dict[str, int] = {}
    for r in rows:
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
    return {
        "terminal": len(rows),
        "statuses": statuses,
        "completed_per_s": len(rows) / span if span else 0,
        "latency_ms": {
            "p50": pct(0.50),
            "p95": pct(0.95),
            "p99": pct(0.99),
            "mean": statistics.fmean(latencies) * 1000 if latencies else 0.0,
        },
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", default=None, help="gateway /api/v1 (default: settings)")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--wallets", type=int, default=2, help="wallets per user")
    parser.add_argument("--rate", type=float, default=500, help="transfers offered per second")
    parser.add_argument("--duration", type=float, default=60)
    parser.add_argument("--amount", type=int, default=1)
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--skip-baselines", action="store_true")
    args = parser.parse_args()
    settings = Settings()
    base = args.base_url or f"{settings.gateway_url}/api/v1"
    limits = httpx.Limits(
        max_connections=args.connections, max_keepalive_connections=args.connections
    )
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        print(f"setting up {args.users} users x {args.wallets} wallets ...")
        wallets = await setup(client, args.users, args.wallets, funds=10**9)
        lag_samples: list[int] = []
        async with LagProbe(settings) as probe:

            async def sample_lag() -> None:
                while True:
                    lag_samples.append(await probe.lag())
                    await asyncio.sleep(2)

            sampler = asyncio.create_task(sample_lag())
            t0 = time.perf_counter()
            pool = Http1Pool(base, max_connections=args.connections, timeout=60, retry_unsafe=True)
            try:
                sent, accepted, refused = await drive(
                    pool, wallets, args.rate, args.duration, args.amount
                )
            finally:
                await pool.close()
            offered_s = time.perf_counter() - t0
            result = await completions(settings, sent, timeout=120)
            sampler.cancel()
            await asyncio.gather(sampler, return_exceptions=True)
    report: dict[str, Any] = {
        "at": datetime.now(UTC).isoformat(),
        "args": vars(args),
        "offered_seconds": offered_s,
        "accepted": accepted,
        "refused": refused,
        "accepted_per_s": accepted / offered_s,
        **result,
        "projector_lag": {
            "max": max(lag_samples, default=0),
            "mean": statistics.fmean(lag_samples) if lag_samples else 0,
        },
    }
    if not args.skip_baselines:
        print("baselines ...")
        report["baseline_kafka"] = await kafka_baseline(settings.kafka_bootstrap)
        report["baseline_postgres"] = await postgres_baseline(settings.postgres_dsn)
        report["ratio_completed_to_pg_updates"] = (
            report["completed_per_s"] / report["baseline_postgres"]["updates_per_s"]
        )
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    out.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    print(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode())
    print(f"written to {out}")


if __name__ == "__main__":
    asyncio.run(main())
