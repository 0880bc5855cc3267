"""CPU per idempotency claim, in the same run: the claim statement through SQLAlchemy's
execution (``store.insert_claims``: ``conn.execute(text(...))`` in autocommit, the style
of every other statement) vs the same statement as SQLAlchemy compiled it, on the asyncpg
driver connection under SQLAlchemy's pool (``store.insert_on_driver``, what the command
API's group-committed claims run).

    uv run python -m bench.claim_cost --claims 3000 --concurrency 1 4 50 --repeat 5

Needs a migrated Postgres (``PAYSTREAM_POSTGRES_DSN``, e.g. after ``make up`` or
``python -m infra.local up --backing-only``). Both paths are driven the way the command
API drives them: for each ``--concurrency``, that many requests at a time through a
``GroupCall`` (two statements in flight, the claims queued meanwhile go together in the
next one), each request a fresh key. Prints ``time.process_time()`` of this process per
claim, in µs: the median of ``--repeat`` rounds, the two paths alternating, each after a
warm-up; and the mean number of claims per statement. The rows it writes belong to owners named
``bench-claim-*``, carry no saga (so a running saga worker's sweep passes them by) and are
deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import partial

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from common.batching import GroupCall
from common.db import make_engine
from common.settings import Settings
from transaction_svc import store

Insert = Callable[[list[store.ClaimRequest]], Awaitable[set[str]]]


def requests(owner: str, n: int) -> list[store.ClaimRequest]:
    """``n`` transfer claims with fresh keys, as the command API builds them."""
    now = datetime.now(UTC)
    out = []
    for i in range(n):
        tx = str(uuid.uuid4())
        row = {
            "id": tx, "kind": "transfer", "tx_status": "pending", "owner_id": owner,
            "from_wallet_id": str(uuid.uuid4()), "to_wallet_id": str(uuid.uuid4()),
            "amount": 100 + i, "currency": "USD", "fee": 0, "description": None,
            "saga": None, "created_at": now,
        }  # fmt: skip
        out.append(store.ClaimRequest(str(uuid.uuid4()), "h" * 64, 202, {"id": tx}, row))
    return out


def through_sqlalchemy(engine: AsyncEngine) -> Insert:
    async def insert(batch: list[store.ClaimRequest]) -> set[str]:
        async with store.autocommit(engine) as conn:
            return await store.insert_claims(conn, batch)

    return insert


async def measure(
    insert: Insert, claims: list[store.ClaimRequest], concurrency: int
) -> tuple[float, float]:
    """(µs of this process's CPU per claim, mean claims per statement)."""
    statements = 0

    async def handle(batch: list[store.ClaimRequest]) -> list[bool]:
        nonlocal statements
        statements += 1
        taken = await insert(batch)
        return [r.row["id"] in taken for r in batch]

    group: GroupCall[store.ClaimRequest, bool] = GroupCall(handle, 2, 500)
    queue = iter(claims)

    async def worker() -> None:
        for request in queue:
            assert await group(request)

    t0 = time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return (time.process_time() - t0) / len(claims) * 1e6, len(claims) / statements


async def compare(
    engine: AsyncEngine, owner: str, claims: int, concurrency: int, repeat: int
) -> None:
    """Print both paths' median CPU per claim at ``concurrency``."""
    paths: dict[str, Insert] = {
        "sqlalchemy": through_sqlalchemy(engine),
        "driver": partial(store.insert_on_driver, engine),
    }
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in paths}
    for insert in paths.values():  # warm-up: connections, prepared statements
        await measure(insert, requests(owner, 500), concurrency)
    for _ in range(repeat):
        for name, insert in paths.items():
            runs[name].append(await measure(insert, requests(owner, claims), concurrency))
    for name, rounds in runs.items():
        shown = " ".join(f"{cpu:.0f}" for cpu, _ in rounds)
        batch = statistics.mean(b for _, b in rounds)
        print(
            f"concurrency {concurrency:3}  {name:10} {statistics.median(c for c, _ in rounds):6.1f}"
            f" µs CPU/claim  (rounds: {shown}; {batch:.1f} claims/statement)"
        )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--claims", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 50])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    engine = make_engine(Settings(service_name="bench_claim_cost").postgres_dsn)
    owner = f"bench-claim-{uuid.uuid4()}"
    try:
        for concurrency in args.concurrency:
            await compare(engine, owner, args.claims, concurrency, args.repeat)
    finally:
        async with engine.begin() as conn:
            for table in ("transactions", "idempotency"):
                await conn.execute(
                    text(f"DELETE FROM transactions.{table} WHERE owner_id = :o"), {"o": owner}
                )
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
