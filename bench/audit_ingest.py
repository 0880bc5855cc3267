"""Audit log ingest: events per second into the Mongo store (FerretDB locally), against a
raw ``insert_many`` baseline in the same run.

Three phases on one fresh database, each over the same N events (a mix of transfers'
transaction and wallet events and registrations, as the money path makes them):

- ``raw_insert_many``: the records, already built in the stored shape (``records.as_stored``),
  inserted with ``insert_many`` in batches of ``--batch`` (no index but ``_id``, no chain):
  what the store takes at best;
- ``append``: the same records through ``MongoAuditLog.append`` in batches of ``--batch``
  (the indexes, the head, the chain);
- ``projector``: the envelopes published to a fresh topic, then the audit projector
  (tracked consumer, decode, mask, chain, append, offsets) from when every envelope is
  on the topic until every record is stored.

Besides events per second, each phase's CPU per event: this process's, and with
``--mongo-pid`` the Mongo server's (read from /proc). On a shared machine the CPU per
event is what to compare; the rates move with the other load.

Run on a stack's backing services (``python -m infra.local up --backing-only`` and the
``env`` it prints): ``python -m bench.audit_ingest --events 20000 --mongo-pid "$(cat
$PAYSTREAM_RUN_DIR/pids/mongo.pid)"``. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from audit_svc.projector import audit_consumer
from audit_svc.records import as_stored, record_of
from audit_svc.store import MongoAuditLog
from bench.proc import cpu_of, own_cpu
from common.kafka.producer import make_producer, send_envelopes
from common.mongo import make_mongo_client
from common.settings import Settings
from common.topics import ensure_topics
from contracts.envelope import Envelope
from contracts.message import Message
from contracts.transaction import TransferCompleted, TransferRequested
from contracts.user import UserRegistered
from contracts.wallet import Posting, WalletDebited


def events(n: int) -> list[Envelope]:
    """``n`` envelopes: per transfer a request, a debit and a completion; every tenth a
    registration (with an email and a name to mask)."""
    out: list[Envelope] = []
    i = 0
    while len(out) < n:
        tx, wa, wb = f"t-{i}", f"w-{i % 500}", f"w-{(i + 1) % 500}"
        posting = (Posting(account=wa, amount=-2550, currency="USD"),
                   Posting(account="system:in_transit", amount=2550, currency="USD"))  # fmt: skip
        messages: list[tuple[Message, str, str]] = [
            (TransferRequested(transaction_id=tx, from_wallet_id=wa, to_wallet_id=wb,
                               amount=2550, currency="USD", deadline=0), tx, "transaction_svc"),
            (WalletDebited(command_id=f"{tx}:debit", wallet_id=wa, transaction_id=tx,
                           amount=2550, currency="USD", counter_account="system:in_transit",
                           postings=posting, ledger=10_000, available=10_000), wa,
             "wallet_decider"),
            (TransferCompleted(transaction_id=tx, from_wallet_id=wa, to_wallet_id=wb,
                               amount=2550, currency="USD"), tx, "transaction_svc"),
        ]  # fmt: skip
        if i % 10 == 0:
            user = UserRegistered(user_id=f"u-{i}", email=f"ada{i}@example.com",
                                  full_name="Ada Lovelace", role="user")  # fmt: skip
            messages.append((user, f"u-{i}", "user_svc"))
        out += [Envelope.of(m, key=key, producer=p) for m, key, p in messages]
        i += 1
    return out[:n]


async def run(settings: Settings, n: int, batch: int, mongo_pid: int | None) -> dict[str, Any]:
    envelopes = events(n)
    records = [record_of("bench", e) for e in envelopes]
    client = make_mongo_client(settings.mongo_url, "bench")
    db = client[f"bench_audit_{uuid.uuid4().hex[:8]}"]
    result: dict[str, Any] = {"events": n, "batch": batch}

    async def phase(name: str, step: Callable[[Callable[[], None]], Awaitable[None]]) -> None:
        """Run ``step`` and record its events/s and CPU per event, counted from when the
        step calls ``start`` (after its set-up)."""
        mark: list[float] = []

        def start() -> None:
            mark[:] = [time.perf_counter(), own_cpu(), cpu_of(mongo_pid)]

        start()
        await step(start)
        started, cpu, server = mark
        result[f"{name}_per_s"] = round(n / (time.perf_counter() - started))
        result[f"{name}_cpu_us"] = round((own_cpu() - cpu) / n * 1e6, 1)
        if mongo_pid is not None:
            result[f"{name}_mongo_cpu_us"] = round((cpu_of(mongo_pid) - server) / n * 1e6, 1)

    async def raw(start: Callable[[], None]) -> None:
        for at in range(0, n, batch):
            await db["raw"].insert_many([as_stored(r) for r in records[at : at + batch]])

    appended = MongoAuditLog(client[f"{db.name}_append"])

    async def append(start: Callable[[], None]) -> None:
        for at in range(0, n, batch):
            await appended.append(records[at : at + batch])

    try:
        await phase("raw_insert_many", raw)
        await appended.ensure_indexes()
        await phase("append", append)
        await client.drop_database(f"{db.name}_append")
        await phase("projector", lambda start: _project(settings, db, envelopes, start))
        log = MongoAuditLog(db)
        verdict = await log.verify(1, n + 1)  # the warm-up event and the n
        result["projected_chain_ok"] = verdict.ok and verdict.checked == n + 1
    finally:
        await client.drop_database(db.name)
        await client.close()
    result["append_vs_raw"] = round(result["append_per_s"] / result["raw_insert_many_per_s"], 3)
    result["projector_vs_raw"] = round(
        result["projector_per_s"] / result["raw_insert_many_per_s"], 3
    )
    return result


async def _project(
    settings: Settings, db: Any, envelopes: list[Envelope], start: Callable[[], None]
) -> None:
    """The projector makes every envelope a record; ``start`` is called once its group is
    joined (a warm-up event is projected first) and every envelope is on the topic."""
    topic = f"bench-audit-{uuid.uuid4().hex[:8]}"
    await ensure_topics(settings.kafka_bootstrap, settings.kafka_partitions, (topic,))
    producer = make_producer(settings.kafka_bootstrap, "bench-audit")
    await producer.start()
    warm_up = events(1)[0]
    try:
        await MongoAuditLog(db).ensure_indexes()
        tracked = audit_consumer(settings, db, producer, (topic,), f"g-{topic}")
        await tracked.start()
        try:
            await send_envelopes(producer, [(topic, warm_up)])
            while not await tracked.run_once(timeout_ms=1000):
                pass
            await send_envelopes(producer, [(topic, e) for e in envelopes])
            start()
            done = 0
            while done < len(envelopes):
                done += await tracked.run_once(timeout_ms=200)
        finally:
            await tracked.stop()
    finally:
        await producer.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--mongo-pid", type=int, help="the Mongo server's pid: its CPU too")
    args = parser.parse_args()
    settings = Settings(service_name="bench_audit")
    print(json.dumps(asyncio.run(run(settings, args.events, args.batch, args.mongo_pid))))


if __name__ == "__main__":
    main()
