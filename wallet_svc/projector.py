"""``python -m wallet_svc.projector``: the balance projector (wallet-events -> Postgres).

Exactly once without Kafka's help: the consumed offsets live in ``wallets.offsets``
(consumer ``balance``) and are written in the same transaction as the read model; on
partition assignment the consumer seeks to them. Each ``getmany`` batch (up to
``BATCH_MAX`` records) is one database transaction of set-based statements. After the
commit the projector publishes one completion notice per event on
``common.notify.WALLET_CHANNEL`` (key = command id) for the API's waiters; the Redis
balance cache is refreshed just before the commit (see ``PgBalanceStore.apply``).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import asyncpg
import orjson
from aiokafka import AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from redis.asyncio import Redis

from common.app import serve
from common.db import LOG_DERIVED
from common.health import ReadyCheck
from common.kafka.consumer import make_consumer
from common.kafka.producer import make_producer
from common.metrics import EVENTS_PROCESSED
from common.notify import WALLET_CHANNEL, publish_many
from common.redis import make_redis
from common.settings import Settings
from common.topics import WALLET_EVENTS, dlq
from common.worker import worker_app
from wallet_svc import cache
from wallet_svc.projection import POISON, Record, check_envelope
from wallet_svc.store import PgBalanceStore, asyncpg_dsn

log = logging.getLogger("paystream.wallet_projector")

GROUP = "wallet-projector"
BATCH_MAX = 2000
APPLY_ATTEMPTS = 5


class _SeekToStored(ConsumerRebalanceListener):
    """On assignment, continue from the offsets stored with the read model."""

    def __init__(self, projector: BalanceProjector) -> None:
        self.projector = projector

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        return None

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        if not assigned:
            return
        stored = await self.projector.store.offsets(sorted(tp.partition for tp in assigned))
        for tp in assigned:
            self.projector.consumer.seek(tp, stored.get(tp.partition, 0))
        log.info("partitions assigned", extra={"offsets": {str(k): v for k, v in stored.items()}})


class BalanceProjector:
    """The worker (``common.worker.Worker``): consume, apply, cache, notify."""

    def __init__(self, settings: Settings, topic: str = WALLET_EVENTS, group: str = GROUP) -> None:
        self.settings = settings
        self.topic = topic
        self.group = group
        self.checks: dict[str, ReadyCheck] = {}
        self.batches = 0

    async def start(self) -> None:
        s = self.settings
        # balances commit with their offsets: a lost commit is replayed (common.db)
        self.pool: asyncpg.Pool = await asyncpg.create_pool(
            asyncpg_dsn(s.postgres_dsn), min_size=1, max_size=2, server_settings=LOG_DERIVED
        )
        self.store = PgBalanceStore(self.pool, self.topic)
        self.redis: Redis = make_redis(s.redis_url)
        self.dlq: AIOKafkaProducer = make_producer(s.kafka_bootstrap, client_id=s.service_name)
        await self.dlq.start()
        self.consumer = make_consumer(
            s.kafka_bootstrap,
            self.group,
            client_id=s.service_name,
            max_poll_records=BATCH_MAX,
            fetch=s.fetch_tuning(),
        )
        self.consumer.subscribe([self.topic], listener=_SeekToStored(self))
        await self.consumer.start()
        self.checks.update(postgres=self._check_pg, redis=self.redis.ping, kafka=self._check_kafka)

    async def _check_pg(self) -> None:
        await self.pool.fetchval("SELECT 1")

    async def _check_kafka(self) -> None:
        await self.dlq.client.fetch_all_metadata()

    async def run(self) -> None:
        while True:
            await self.run_once()

    async def run_once(self, timeout_ms: int = 500) -> int:
        """Consume and apply one batch; returns the number of records applied."""
        batches = await self.consumer.getmany(timeout_ms=timeout_ms, max_records=BATCH_MAX)
        records: list[Record] = []
        for tp, msgs in batches.items():
            for msg in msgs:
                try:
                    env = check_envelope(orjson.loads(msg.value or b""))
                except (ValueError, TypeError, orjson.JSONDecodeError) as exc:
                    await self._dead_letter(msg, exc)
                    env = {"type": POISON, "payload": {}}
                records.append(Record(tp.partition, msg.offset, env))
        if not records:
            return 0
        applied = await self._apply(records)
        if applied.rows.notices:
            try:
                await publish_many(self.redis, WALLET_CHANNEL, applied.rows.notices)
            except Exception:  # notices are hints; waiters re-read the store
                log.warning("could not publish notices", exc_info=True)
        self.batches += 1
        EVENTS_PROCESSED.labels(self.settings.service_name, self.topic, "ok").inc(len(records))
        return len(records)

    async def _apply(self, records: list[Record]) -> Any:
        for attempt in range(1, APPLY_ATTEMPTS + 1):
            try:
                return await self.store.apply(records, before_commit=self._refresh_cache)
            except (asyncpg.PostgresConnectionStatusError, OSError, asyncpg.InterfaceError):
                if attempt == APPLY_ATTEMPTS:
                    raise
                log.warning("batch failed; retrying", exc_info=True)
                await asyncio.sleep(0.2 * 2**attempt)
        raise AssertionError("unreachable")

    async def _refresh_cache(self, wallets: dict[str, dict[str, Any]]) -> None:
        try:
            await cache.put_many(self.redis, wallets)
        except Exception:  # the cache is an optimisation; Postgres stays the answer
            log.warning("could not refresh the balance cache", exc_info=True)

    async def _dead_letter(self, msg: Any, exc: Exception) -> None:
        log.error(
            "poison wallet event dead-lettered",
            extra={"partition": msg.partition, "offset": msg.offset, "error": str(exc)[:200]},
        )
        headers = [
            *(msg.headers or ()),
            ("dlq_error", f"{type(exc).__name__}: {exc}"[:500].encode()),
            ("dlq_origin", f"{msg.topic}:{msg.partition}:{msg.offset}".encode()),
        ]
        await self.dlq.send_and_wait(dlq(msg.topic), msg.value, key=msg.key, headers=headers)
        EVENTS_PROCESSED.labels(self.settings.service_name, self.topic, "dead_lettered").inc()

    async def stop(self) -> None:
        for closer in (self.consumer.stop, self.dlq.stop, self.redis.aclose, self.pool.close):
            try:
                await closer()
            except Exception:
                log.warning("error while stopping", exc_info=True)


async def make_projector(settings: Settings) -> BalanceProjector:
    return BalanceProjector(settings)


def main() -> None:
    serve(lambda s: worker_app(s, make_projector), Settings(service_name="wallet_projector"))


if __name__ == "__main__":
    main()
