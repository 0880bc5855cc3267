"""Load generator: money requests through the HTTP API at a fixed offered rate (open loop).

    uv run python -m bench.loadgen --users 50 --wallets 2 --rate 500 --duration 60
    uv run python -m bench.loadgen --kind deposit transfer --rate 50 200 --duration 60

Sets up users (register + login), wallets with a card each (and a bank account with
``--kind withdrawal``) and funds them by card deposits through the API, then, for each
``--rate`` and each ``--kind`` in turn (one phase each, on the same stack), offers that
many transfers, card deposits, withdrawals or wallet payments to one merchant (``--kind
payment``: a merchant with a USD wallet made in setup, each payment a new order) a second
for ``--duration`` seconds whatever
the answers' speed (an open loop: latency is not hidden by a slow server slowing the
client down). It reports per phase accepted/s, completed/s (terminal in the read model),
request-to-terminal latency percentiles, the projector's lag and the audit projector's
(sampled every 2 s during the load and after it until caught up), and, in the same run,
the raw aiokafka and raw Postgres baselines, writing everything to
``bench/results/<time>.json`` (or ``--out``). For a sample of each phase's requests it
also reports where their time went, hop by hop (``bench.timeline``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from tqdm import tqdm

from audit_svc.projector import GROUP as AUDIT_GROUP
from audit_svc.projector import RECORDED
from audit_svc.settings import AuditSettings
from audit_svc.store import OFFSETS as AUDIT_OFFSETS
from bench import timeline
from bench.baselines import kafka_baseline, postgres_baseline
from bench.stats import percentiles
from common.http1 import Http1Pool
from common.kafka.mongo_offsets import MongoOffsets
from common.mongo import make_mongo_client
from common.settings import Settings
from common.topics import WALLET_EVENTS

RESULTS = Path(__file__).parent / "results"
KINDS = ("transfer", "deposit", "withdrawal", "payment")
CARD = {"type": "card", "number": "4242424242424242", "exp_month": 12, "exp_year": 2035,
        "cvc": "123"}  # fmt: skip  # the provider's test card that always pays
BANK = {"type": "bank_account", "iban": "GB33BUKB20201555555555", "holder_name": "Bench",
        "currency": "USD"}  # fmt: skip  # a test account that is always paid out


@dataclass(frozen=True, slots=True)
class Account:
    """A funded wallet with its owner's token and payment methods."""

    token: str
    wallet: str
    card: str = ""
    bank: str = ""  # only with --kind withdrawal


# How often a sign-up or login refused as busy is sent again before the setup gives up.
BUSY_TRIES = 60


async def _hashing(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> httpx.Response:
    """POST a request that hashes a password. user_svc hashes within a bound and refuses
    what cannot start in time with 503 and ``Retry-After`` (common.cpu): such an answer
    is sent again after the wait it asks for; any other answer is raised or returned."""
    for _ in range(BUSY_TRIES):
        r = await client.post(path, json=body)
        if r.status_code != 503 or "Retry-After" not in r.headers:
            break
        await asyncio.sleep(float(r.headers["Retry-After"]))
    r.raise_for_status()
    return r


async def _user(client: httpx.AsyncClient, i: int, run: str) -> str:
    email = f"bench-{run}-{i}@example.com"
    password = f"Bench-{run}-password-{i}!"
    body = {"email": email, "password": password, "full_name": f"Bench {i}"}
    await _hashing(client, "/auth/register", body)
    r = await _hashing(client, "/auth/login", {"email": email, "password": password})
    return str(r.json()["access_token"])


async def _method(client: httpx.AsyncClient, auth: dict[str, str], body: dict[str, Any]) -> str:
    r = await client.post("/payment-methods", json=body, headers=auth)
    r.raise_for_status()
    return str(r.json()["id"])


async def _wallet(client: httpx.AsyncClient, token: str, funds: int, bank: bool) -> Account:
    auth = {"Authorization": f"Bearer {token}"}
    r = await client.post("/wallets", json={"currency": "USD"}, headers=auth)
    r.raise_for_status()
    wallet_id = str(r.json()["id"])
    method = await _method(client, auth, CARD)
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
    payout = await _method(client, auth, BANK) if bank else ""
    return Account(token, wallet_id, method, payout)


async def setup(
    client: httpx.AsyncClient, users: int, wallets: int, funds: int, bank: bool = False
) -> list[Account]:
    """Every wallet, funded, with a card (and a bank account if ``bank``)."""
    run = uuid.uuid4().hex[:6]
    tokens = await asyncio.gather(*(_user(client, i, run) for i in range(users)))
    return await asyncio.gather(
        *(_wallet(client, t, funds, bank) for t in tokens for _ in range(wallets))
    )


async def merchant(client: httpx.AsyncClient, payer: Account) -> str:
    """A merchant with a USD wallet, known to the payments API: a first payment of 1 by
    ``payer`` is asked until the merchant and its wallet are projected (user-events and
    wallet-events lag the sign-up a moment; a refused payment records nothing)."""
    run = uuid.uuid4().hex[:6]
    email, password = f"bench-shop-{run}@example.com", f"Bench-{run}-shop-password!"
    body = {"email": email, "password": password, "full_name": "Bench Shop", "role": "merchant"}
    await _hashing(client, "/auth/register", body)
    r = await _hashing(client, "/auth/login", {"email": email, "password": password})
    auth = {"Authorization": f"Bearer {r.json()['access_token']}"}
    (await client.post("/wallets", json={"currency": "USD"}, headers=auth)).raise_for_status()
    merchant_id = str((await client.get("/users/me", headers=auth)).json()["id"])
    first = {"merchant_id": merchant_id, "order_id": f"first-{run}", "amount": 1,
             "currency": "USD", "from_wallet_id": payer.wallet}  # fmt: skip
    headers = {"Authorization": f"Bearer {payer.token}", "Idempotency-Key": run}
    for _ in range(150):
        r = await client.post("/payments", json=first, headers=headers)
        if r.status_code not in (404, 422):
            break
        await asyncio.sleep(0.2)
    r.raise_for_status()
    return merchant_id


Request = tuple[str, bytes, bytes]  # (path under the API, Authorization value, JSON body)


def requests_of(
    kind: str, accounts: list[Account], amount: int, merchant_id: str = ""
) -> Callable[[], Request]:
    """What one request of ``kind`` is: a transfer between two random wallets, a card
    deposit into (a withdrawal to the bank account from) one random wallet, or a payment
    from one random wallet to ``merchant_id`` for an order of its own."""
    authed = [(b"Bearer " + a.token.encode(), a) for a in accounts]

    def transfer() -> Request:
        (auth, src), (_, dst) = random.sample(authed, 2)
        body = {"from_wallet_id": src.wallet, "to_wallet_id": dst.wallet, "amount": amount,
                "currency": "USD"}  # fmt: skip
        return "transfers", auth, orjson.dumps(body)

    def deposit() -> Request:
        auth, a = random.choice(authed)
        body = {"wallet_id": a.wallet, "amount": amount, "currency": "USD",
                "payment_method_id": a.card}  # fmt: skip
        return "deposits", auth, orjson.dumps(body)

    def withdrawal() -> Request:
        auth, a = random.choice(authed)
        body = {"wallet_id": a.wallet, "amount": amount, "currency": "USD",
                "payout_method_id": a.bank}  # fmt: skip
        return "withdrawals", auth, orjson.dumps(body)

    def payment() -> Request:
        auth, a = random.choice(authed)
        body = {"merchant_id": merchant_id, "order_id": uuid.uuid4().hex, "amount": amount,
                "currency": "USD", "from_wallet_id": a.wallet}  # fmt: skip
        return "payments", auth, orjson.dumps(body)

    kinds = {"transfer": transfer, "deposit": deposit, "withdrawal": withdrawal}
    return (kinds | {"payment": payment})[kind]


class LagProbe:
    """The consumers' lag: a topic's end offsets minus what the consumer has stored, summed
    over its partitions. The wallet projector's offsets are in Postgres; the audit
    projector's in Mongo (``MongoOffsets``), over every topic it records. One Kafka
    client, one Postgres connection and one Mongo client for the whole run (a client per
    sample would load the stack it measures)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap)
        self.conn: asyncpg.Connection | None = None
        self.mongo = make_mongo_client(settings.mongo_url, "bench-lag")
        audit_db = self.mongo[AuditSettings().audit_mongo_db]
        self.audit = MongoOffsets(audit_db[AUDIT_OFFSETS], AUDIT_GROUP)

    async def __aenter__(self) -> LagProbe:
        await self.consumer.start()
        self.conn = await asyncpg.connect(self.settings.postgres_dsn.replace("+asyncpg", ""))
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.consumer.stop()
        await self.mongo.close()
        if self.conn is not None:
            await self.conn.close()

    def partitions(self, *topics: str) -> list[TopicPartition]:
        return [TopicPartition(t, p) for t in topics for p in range(self.settings.kafka_partitions)]

    async def lag(self) -> int:
        assert self.conn is not None
        tps = self.partitions(WALLET_EVENTS)
        ends = await self.consumer.end_offsets(tps)
        rows = await self.conn.fetch(
            "SELECT partition, next_offset FROM wallets.offsets WHERE topic = $1", WALLET_EVENTS
        )
        stored = {r["partition"]: r["next_offset"] for r in rows}
        # transaction markers take offsets too, so a caught-up projector can lag by a few
        return sum(max(0, ends[tp] - stored.get(tp.partition, 0)) for tp in tps)

    async def audit_lag(self) -> int:
        """The audit projector's lag over every topic it records (a caught-up one lags
        by at most a transaction marker per partition)."""
        tps = self.partitions(*RECORDED)
        ends = await self.consumer.end_offsets(tps)
        stored = await self.audit.load(tps)
        return sum(max(0, ends[tp] - stored.get(tp, 0)) for tp in tps)


class AuditLag:
    """The audit projector's lag sampled every ``every`` s from the start of a phase's load
    until it is caught up after it (or ``limit`` s after the load)."""

    def __init__(self, probe: LagProbe, every: float = 2.0) -> None:
        self.probe, self.every = probe, every
        self.t0 = time.perf_counter()
        self.samples: list[tuple[float, int]] = []  # (s since the load began, lag)

    async def sample(self) -> int:
        lag = await self.probe.audit_lag()
        self.samples.append((round(time.perf_counter() - self.t0, 1), lag))
        return lag

    async def during(self) -> None:
        while True:
            await self.sample()
            await asyncio.sleep(self.every)

    async def after(self, load_end: float, limit: float) -> dict[str, Any]:
        """Sample until caught up; the figures of the whole phase."""
        caught_up = len(self.probe.partitions(*RECORDED))
        at_end = [lag for t, lag in self.samples if t <= load_end]
        drained_s = None
        while time.perf_counter() - self.t0 < load_end + limit:
            if await self.sample() <= caught_up:
                drained_s = round(self.samples[-1][0] - load_end, 1)
                break
            await asyncio.sleep(self.every)
        lags = [lag for _, lag in self.samples]
        return {
            "max": max(lags, default=0),
            "max_during_load": max(at_end, default=0),
            "at_load_end": at_end[-1] if at_end else 0,
            "drained_s_after_load": drained_s,
            "samples": self.samples,
        }


# The load generator wakes at most every this often and launches every transfer due by
# then: one timer wake-up for several; each is still timed from its own scheduled
# moment, so a launch up to a tick late only adds to the latency measured.
TICK_S = 0.005


async def drive(
    pool: Http1Pool,
    request: Callable[[], Request],
    rate: float,
    duration: float,
    label: str = "transfers",
    answered: dict[str, float] | None = None,
) -> tuple[dict[str, float], int, int]:
    """Offer ``rate`` requests/s; return ({tx_id: scheduled_at}, accepted, refused), and
    fill ``answered`` with {tx_id: when its 202 came} if given.

    Each request is timed from the moment the schedule says it should start, not from
    when a connection was free to send it: a client held up by a slow server does not
    hide that wait from the latency figures (no coordinated omission). A transport error
    or a timeout counts as refused, as does any answer but 202."""
    sent: dict[str, float] = {}
    accepted = refused = 0
    in_flight: set[asyncio.Task[None]] = set()

    async def one(scheduled: float) -> None:
        nonlocal accepted, refused
        path, auth, body = request()
        headers = [(b"Authorization", auth), (b"Idempotency-Key", str(uuid.uuid4()).encode())]
        try:
            status, answer = await pool.post(path, body, headers)
        except OSError:  # HttpError, TimeoutError, ConnectError (common.http1)
            refused += 1
            return
        if status == 202:
            accepted += 1
            tx_id = orjson.loads(answer)["id"]
            sent[tx_id] = scheduled
            if answered is not None:
                answered[tx_id] = time.time()
        else:
            refused += 1

    total = int(rate * duration)
    start = time.perf_counter()
    wall_start = time.time()
    with tqdm(total=total, desc=f"{label} offered", unit="tx", mininterval=1) as bar:
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
    """Wait for the sent requests to be terminal; latency = terminal time - send time."""
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
    latencies = [(r["updated_at"].timestamp() - sent[r["id"]]) * 1000 for r in rows]
    finished = [r["updated_at"].timestamp() for r in rows]
    span = (max(finished) - min(sent.values())) if finished else 0.0

    statuses: dict[str, int] = {}
    for r in rows:
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
    return {
        "terminal": len(rows),
        "statuses": statuses,
        "completed_per_s": len(rows) / span if span else 0,
        "latency_ms": percentiles(latencies),
    }


async def run_phase(
    settings: Settings,
    base: str,
    args: argparse.Namespace,
    request: Callable[[], Request],
    kind: str,
    rate: float,
    probe: LagProbe,
) -> dict[str, Any]:
    """Offer ``rate`` requests of ``kind`` a second for ``--duration`` s, wait until they
    are terminal, and report what the stack did with them."""
    lag_samples: list[int] = []

    async def sample_lag() -> None:
        while True:
            lag_samples.append(await probe.lag())
            await asyncio.sleep(2)

    sampler = asyncio.create_task(sample_lag())
    audit = AuditLag(probe)
    audit_sampler = asyncio.create_task(audit.during())
    t0 = time.perf_counter()
    pool = Http1Pool(base, max_connections=args.connections, timeout=60, retry_unsafe=True)
    try:
        answered: dict[str, float] = {}
        sent, accepted, refused = await drive(
            pool, request, rate, args.duration, f"{kind}s", answered
        )
    finally:
        await pool.close()
        audit_sampler.cancel()
        await asyncio.gather(audit_sampler, return_exceptions=True)
    offered_s = time.perf_counter() - t0
    audit_lag = audit.after(offered_s, args.drain)
    result, audit_figures = await asyncio.gather(
        completions(settings, sent, timeout=args.drain), audit_lag
    )
    sampler.cancel()
    await asyncio.gather(sampler, return_exceptions=True)
    hops = await timeline.measure(settings.postgres_dsn, sent, answered, args.timeline_sample)
    return {
        "kind": kind,
        "rate": rate,
        "offered_seconds": offered_s,
        "accepted": accepted,
        "refused": refused,
        "accepted_per_s": accepted / offered_s,
        **result,
        "projector_lag": {
            "max": max(lag_samples, default=0),
            "mean": statistics.fmean(lag_samples) if lag_samples else 0,
        },
        "audit_lag": audit_figures,
        "load_average": os.getloadavg(),  # others' work on the machine shows here
        "timeline": hops,
    }


def summary(report: dict[str, Any]) -> str:
    """One line per phase, with its ratio to the same-run transfers at its rate and to
    the raw Postgres UPDATE baseline."""
    updates = report.get("baseline_postgres", {}).get("updates_per_s")
    transfers = {
        p["rate"]: p["completed_per_s"] for p in report["phases"] if p["kind"] == "transfer"
    }
    lines = ["kind        offered  accepted/s completed/s   p50 ms   p95 ms   p99 ms  lag  "
             "vs transfers  vs PG UPDATE  audit lag max/at end/drained s"]  # fmt: skip
    for p in report["phases"]:
        ms, audit = p["latency_ms"], p["audit_lag"]
        same = transfers.get(p["rate"])
        vs_tx = f"{p['completed_per_s'] / same:.2f}" if same else "-"
        vs_pg = f"{p['completed_per_s'] / updates:.4f}" if updates else "-"
        lines.append(
            f"{p['kind']:<10} {p['rate']:>8g} {p['accepted_per_s']:>11.1f} "
            f"{p['completed_per_s']:>11.1f} {ms['p50']:>8.0f} {ms['p95']:>8.0f} "
            f"{ms['p99']:>8.0f} {p['projector_lag']['max']:>4} {vs_tx:>13} {vs_pg:>13}"
            f"  {audit['max']}/{audit['at_load_end']}/{audit['drained_s_after_load']}"
        )
        lines += timeline.summary_lines(p["timeline"])
    return "\n".join(lines)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", default=None, help="gateway /api/v1 (default: settings)")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--wallets", type=int, default=2, help="wallets per user")
    parser.add_argument("--kind", nargs="+", choices=KINDS, default=["transfer"],
                        help="what to offer; several: one phase each, per rate")  # fmt: skip
    parser.add_argument("--rate", type=float, nargs="+", default=[500],
                        help="requests offered per second; several: one phase each")  # fmt: skip
    parser.add_argument("--duration", type=float, default=60, help="seconds of each phase")
    parser.add_argument("--amount", type=int, default=1)
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--drain", type=float, default=120, help="seconds to await terminals")
    parser.add_argument("--skip-baselines", action="store_true")
    parser.add_argument("--timeline-sample", type=int, default=2000,
                        help="requests per phase followed hop by hop (bench.timeline)")  # fmt: skip
    parser.add_argument("--out", help="the report's path (default: bench/results/<time>.json)")
    args = parser.parse_args()
    settings = Settings()
    base = args.base_url or f"{settings.gateway_url}/api/v1"
    limits = httpx.Limits(
        max_connections=args.connections, max_keepalive_connections=args.connections
    )
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        print(f"setting up {args.users} users x {args.wallets} wallets ...")
        bank = "withdrawal" in args.kind
        # the provider's largest charge (pgw_max_amount) funds each wallet
        accounts = await setup(client, args.users, args.wallets, funds=10**8, bank=bank)
        shop = await merchant(client, accounts[0]) if "payment" in args.kind else ""
    phases = []
    async with LagProbe(settings) as probe:
        for rate in args.rate:
            for kind in args.kind:
                request = requests_of(kind, accounts, args.amount, shop)
                phases.append(await run_phase(settings, base, args, request, kind, rate, probe))
    report: dict[str, Any] = {"at": datetime.now(UTC).isoformat(), "args": vars(args),
                              "phases": phases}  # fmt: skip
    if not args.skip_baselines:
        print("baselines ...")
        report["baseline_kafka"] = await kafka_baseline(settings.kafka_bootstrap)
        report["baseline_postgres"] = await postgres_baseline(settings.postgres_dsn)
        for p in phases:
            updates = report["baseline_postgres"]["updates_per_s"]
            p["ratio_completed_to_pg_updates"] = p["completed_per_s"] / updates
    RESULTS.mkdir(exist_ok=True)
    out = Path(args.out) if args.out else RESULTS / f"{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    out.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    print(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode())
    print(summary(report))
    print(f"written to {out}")


if __name__ == "__main__":
    asyncio.run(main())
