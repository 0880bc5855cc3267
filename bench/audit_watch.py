"""What a round of the audit chain watch costs at a log of N records: the CPU of this
process and of the Mongo server (FerretDB locally) for a walk of the whole chain with
the head read first (what each round was before ``audit_svc.chain_watch`` walked only
the new records and a slice), and for the rounds of the watch: the first (everything),
then one after ``--new`` more records (the new ones and a slice of ``--sweep`` older),
then one with nothing new (a slice).

Run on a stack's backing services (``python -m infra.local up --backing-only`` and the
``env`` it prints): ``python -m bench.audit_watch --records 60000 --mongo-pid "$(cat
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

from audit_svc.chain_watch import ChainWatch
from audit_svc.records import record_of
from audit_svc.store import MongoAuditLog
from bench.audit_ingest import events
from bench.proc import cpu_of, own_cpu
from common.mongo import make_mongo_client
from common.settings import Settings


async def run(
    settings: Settings, n: int, new: int, sweep: int, mongo_pid: int | None
) -> dict[str, Any]:
    client = make_mongo_client(settings.mongo_url, "bench")
    db = client[f"bench_watch_{uuid.uuid4().hex[:8]}"]
    log = MongoAuditLog(db)
    result: dict[str, Any] = {"records": n, "new": new, "sweep": sweep}

    async def measure(name: str, step: Callable[[], Awaitable[Any]]) -> None:
        wall, cpu, server = time.perf_counter(), own_cpu(), cpu_of(mongo_pid)
        outcome = await step()
        result[name] = {
            "outcome": str(outcome),
            "wall_s": round(time.perf_counter() - wall, 2),
            "own_cpu_s": round(own_cpu() - cpu, 2),
            "mongo_cpu_s": round(cpu_of(mongo_pid) - server, 2),
        }

    async def whole_chain() -> Any:
        head, _ = await log.head()
        return await log.verify(1, head)

    try:
        await log.ensure_indexes()
        records = [record_of("bench", e) for e in events(n + new)]
        for at in range(0, n, 2000):
            await log.append(records[at : min(at + 2000, n)])
        watch = ChainWatch(log, 300, sweep=sweep)
        await measure("whole_chain_with_head", whole_chain)
        await measure("round_first", watch.verify_once)
        await log.append(records[n:])
        await measure("round_new_and_slice", watch.verify_once)
        await measure("round_slice_only", watch.verify_once)
    finally:
        await client.drop_database(db.name)
        await client.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=60_000)
    parser.add_argument("--new", type=int, default=2_000)
    parser.add_argument("--sweep", type=int, default=10_000)
    parser.add_argument("--mongo-pid", type=int, help="the Mongo server's pid: its CPU too")
    args = parser.parse_args()
    settings = Settings(service_name="bench_audit_watch")
    outcome = run(settings, args.records, args.new, args.sweep, args.mongo_pid)
    print(json.dumps(asyncio.run(outcome)))


if __name__ == "__main__":
    main()
