"""``python -m wallet_svc.projector``: the balance projector (wallet-events -> Postgres).

Exactly once without Kafka's help: it runs on the tracked consumer
(``common.kafka.tracked``), so each ``getmany`` batch (up to ``BATCH_MAX`` records) is one
database transaction holding the read model's set-based statements
(``PgBalanceStore.write``) and the consumed offsets (``wallets.offsets``, consumer
``balance``). The Redis balance cache is refreshed just before the commit: if the commit
is then lost, the cache shows values already committed in Kafka, and the replay rewrites
them. After the commit the projector publishes one completion notice per event on
``common.notify.WALLET_CHANNEL`` (key = command id) for the API's waiters.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import partial
from typing import Any

from aiokafka import AIOKafkaProducer, ConsumerRecord
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncConnection

from common.db import LOG_DERIVED, answers, make_engine
from common.health import ReadyCheck
from common.kafka.pg_offsets import PgOffsets
from common.kafka.producer import make_producer
from common.kafka.tracked import AfterCommit, Tracked, TrackedConsumer
from common.notify import WALLET_CHANNEL, publish_many
from common.redis import make_redis
from common.settings import Settings
from common.topics import WALLET_EVENTS
from common.worker import serve_worker
from wallet_svc import cache
from wallet_svc.projection import Checked, Record, check_envelope
from wallet_svc.store import CONSUMER, OFFSETS, PgBalanceStore

log = logging.getLogger("paystream.wallet_projector")

GROUP = "wallet-projector"
BATCH_MAX = 2000


class BalanceProjector:
    """The worker (``common.worker.Worker``) and its batch handler: decode, write, cache,
    notify."""

    def __init__(self, settings: Settings, topic: str = WALLET_EVENTS, group: str = GROUP) -> None:
        self.settings = settings
        self.topic = topic
        self.group = group
        self.checks: dict[str, ReadyCheck] = {}
        self.store = PgBalanceStore()

    async def start(self) -> None:
        s = self.settings
        # balances commit with their offsets: a lost commit is replayed (common.db)
        self.engine = make_engine(s.postgres_dsn, pool_size=2, server_settings=LOG_DERIVED)
        self.redis: Redis = make_redis(s.redis_url)
        self.dlq: AIOKafkaProducer = make_producer(s.kafka_bootstrap, client_id=s.service_name)
        await self.dlq.start()
        self.tracked = TrackedConsumer.of_group(
            s,
            self.group,
            [self.topic],
            self,
            PgOffsets(self.engine, OFFSETS, CONSUMER),
            self.dlq,
            batch_max=BATCH_MAX,
        )
        await self.tracked.start()
        self.checks.update(
            postgres=partial(answers, self.engine), redis=self.redis.ping, kafka=self._check_kafka
        )

    async def _check_kafka(self) -> None:
        await self.tracked.consumer.topics()

    async def run(self) -> None:
        await self.tracked.run()

    def decode(self, record: ConsumerRecord[bytes, bytes]) -> Checked:
        """The envelope and its event if the projection can apply it (poison otherwise)."""
        return check_envelope(record.value or b"")

    async def apply(
        self, batch: Sequence[Tracked[Checked]], unit: AsyncConnection
    ) -> AfterCommit | None:
        records = [Record(t.record.partition, t.record.offset, *t.value) for t in batch]
        applied = await self.store.write(unit, records)
        await self._refresh_cache(applied.wallets)
        if not applied.rows.notices:
            return None
        return partial(self._after_commit, applied.rows.notices)

    async def _after_commit(self, notices: list[dict[str, Any]]) -> None:
        """Keep the admin commands' answers (for retries: ``wallet_svc.cache``), then wake
        the waiters. Both are hints: a loss costs a waiting request its wait."""
        try:
            await cache.put_outcomes(self.redis, notices)
        except Exception:
            log.warning("could not keep the admin commands' answers", exc_info=True)
        await publish_many(self.redis, WALLET_CHANNEL, notices)

    async def _refresh_cache(self, wallets: dict[str, dict[str, Any]]) -> None:
        try:
            await cache.put_many(self.redis, wallets)
        except Exception:  # the cache is an optimisation; Postgres stays the answer
            log.warning("could not refresh the balance cache", exc_info=True)

    async def stop(self) -> None:
        for closer in (self.tracked.stop, self.dlq.stop, self.redis.aclose, self.engine.dispose):
            try:
                await closer()
            except Exception:
                log.warning("error while stopping", exc_info=True)


def main() -> None:
    serve_worker(BalanceProjector, Settings(service_name="wallet_projector"))


if __name__ == "__main__":
    main()
