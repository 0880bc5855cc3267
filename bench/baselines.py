"""Baselines measured in the same run as the load test, so results read as ratios.

- raw aiokafka: idempotent produce of N small messages, then consume them back;
- raw PostgreSQL: single-row UPDATEs (autocommit) from C concurrent connections;
- raw PostgreSQL inserts: N rows inserted ``batch`` at a time, one ``unnest`` statement
  each (the shape of the command API's group-committed claims; bench.batch).
"""

from __future__ import annotations

import asyncio
import time
import uuid

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic


async def kafka_baseline(bootstrap: str, messages: int = 50_000) -> dict[str, float]:
    """Messages per second for produce (acks=all, idempotent) and for consume."""
    topic = f"bench-baseline-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, 8, 1)])
    await admin.close()
    payload = b"x" * 300  # about the size of a transfer envelope
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, enable_idempotence=True, acks="all", linger_ms=5
    )
    await producer.start()
    started = time.perf_counter()
    futures = [
        await producer.send(topic, payload, key=str(i % 1000).encode()) for i in range(messages)
    ]
    await asyncio.gather(*futures)
    produce_s = time.perf_counter() - started
    await producer.stop()
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        enable_auto_commit=False,
    )
    await consumer.start()
    started = time.perf_counter()
    seen = 0
    while seen < messages:
        batch = await consumer.getmany(timeout_ms=1000, max_records=5000)
        seen += sum(len(v) for v in batch.values())
    consume_s = time.perf_counter() - started
    await consumer.stop()
    return {"produce_per_s": messages / produce_s, "consume_per_s": messages / consume_s}


async def postgres_baseline(
    dsn: str, seconds: float = 10, connections: int = 16
) -> dict[str, float]:
    """Single-row UPDATE ... WHERE id = $1 statements per second, autocommit."""
    dsn = dsn.replace("postgresql+asyncpg://", "postgresql://")
    pool = await asyncpg.create_pool(dsn, min_size=connections, max_size=connections)
    await pool.execute(
        "CREATE UNLOGGED TABLE IF NOT EXISTS public.bench_rows (id int PRIMARY KEY, n bigint)"
    )
    await pool.execute(
        "INSERT INTO public.bench_rows SELECT g, 0 FROM generate_series(1, 10000) g "
        "ON CONFLICT DO NOTHING"
    )
    await pool.execute("ALTER TABLE public.bench_rows SET LOGGED")  # durable, like real rows
    done = 0
    stop_at = time.perf_counter() + seconds

    async def worker(offset: int) -> None:
        nonlocal done
        i = offset
        async with pool.acquire() as conn:
            stmt = await conn.prepare("UPDATE public.bench_rows SET n = n + 1 WHERE id = $1")
            while time.perf_counter() < stop_at:
                await stmt.fetch(i % 10000 + 1)
                i += connections
                done += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in range(connections)))
    elapsed = time.perf_counter() - started
    await pool.execute("DROP TABLE public.bench_rows")
    await pool.close()
    return {"updates_per_s": done / elapsed}


async def postgres_insert_baseline(dsn: str, rows: int, batch: int = 1000) -> dict[str, float]:
    """Rows per second inserted ``batch`` at a time by ``INSERT ... SELECT FROM unnest``
    (autocommit, durable), each row a text id, a bigint and a 300-byte text."""
    dsn = dsn.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(dsn)
    table = f"public.bench_inserts_{uuid.uuid4().hex[:8]}"
    await conn.execute(f"CREATE TABLE {table} (id text PRIMARY KEY, n bigint, body text)")
    statement = await conn.prepare(
        f"INSERT INTO {table} SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[])"
    )
    payload = "x" * 300
    started = time.perf_counter()
    for at in range(0, rows, batch):
        ids = [str(uuid.uuid4()) for _ in range(at, min(at + batch, rows))]
        await statement.fetch(ids, list(range(len(ids))), [payload] * len(ids))
    elapsed = time.perf_counter() - started
    await conn.execute(f"DROP TABLE {table}")
    await conn.close()
    return {"inserts_per_s": rows / elapsed, "batch": batch}
