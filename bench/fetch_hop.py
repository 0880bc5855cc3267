"""One Kafka hop's latency by fetch tuning: produce a record every 20 ms, measure how long
until a ``read_committed`` consumer holds it, with the batched consumers' tuning, the
prompt ones' (``Settings.fetch_tuning``) and Kafka's default (``fetch_min_bytes`` 1),
from plain and transactional producers.

    uv run python -m bench.fetch_hop            # against the stack of PAYSTREAM_* settings

Each case uses a topic of its own (8 partitions), left behind as ``bench-hop-*``.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench.stats import percentiles
from common.settings import Settings


async def _hop(
    bootstrap: str, tuning: dict[str, int], transactional: bool, count: int
) -> list[float]:
    topic = f"bench-hop-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 8, 1)])
    finally:
        await admin.close()
    extra = {"transactional_id": topic} if transactional else {}
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=2, **extra)
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=topic,
        isolation_level="read_committed",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        **tuning,
    )
    await producer.start()
    await consumer.start()
    await asyncio.sleep(3)  # the group joined and the partitions assigned
    waits: list[float] = []

    async def consume() -> None:
        while len(waits) < count:
            batches = await consumer.getmany(timeout_ms=500)
            now = time.time()
            for records in batches.values():
                waits.extend((now - float(r.value or b"0")) * 1000 for r in records)

    reader = asyncio.create_task(consume())
    try:
        for i in range(count):
            value, key = str(time.time()).encode(), str(i).encode()
            if transactional:
                async with producer.transaction():
                    await producer.send(topic, value, key=key)
            else:
                await producer.send(topic, value, key=key)
            await asyncio.sleep(0.02)
        await asyncio.wait_for(reader, 30)
    finally:
        await consumer.stop()
        await producer.stop()
    return waits


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=200)
    args = parser.parse_args()
    settings = Settings()
    tunings = {
        "batched": settings.fetch_tuning(),
        "prompt": settings.fetch_tuning(prompt=True),
        "min_bytes 1": {
            "fetch_max_wait_ms": settings.kafka_fetch_max_wait_ms,
            "fetch_min_bytes": 1,
        },
    }
    print("tuning                              producer        p50 ms  p95 ms  p99 ms")
    for name, tuning in tunings.items():
        shown = f"{name} ({tuning['fetch_max_wait_ms']} ms, {tuning['fetch_min_bytes']} B)"
        for transactional in (False, True):
            waits = await _hop(settings.kafka_bootstrap, tuning, transactional, args.records)
            kind = "transactional" if transactional else "plain"
            got = percentiles(waits)
            cells = "  ".join(f"{got[q]:6.1f}" for q in ("p50", "p95", "p99"))
            print(f"{shown:<34}  {kind:<13}  {cells}")


if __name__ == "__main__":
    asyncio.run(main())
