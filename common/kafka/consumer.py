"""A consumer loop with manual commits, bounded retries and a dead-letter topic.

At-least-once: offsets are committed only after a batch was handled (or dead-lettered),
so handlers must be idempotent. A message that still fails after the retries goes to
``<topic>.dlq`` with the error in its headers, and the loop moves on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from tenacity import (
    AsyncRetrying,
    retry_if_not_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from common.kafka.headers import dead_letter_headers
from common.metrics import EVENTS_PROCESSED
from common.topics import dlq

log = logging.getLogger("paystream.consumer")

Handler = Callable[[ConsumerRecord[bytes, bytes]], Awaitable[None]]


class PermanentError(Exception):
    """The message can never be handled (bad shape): dead-letter it without retrying."""


def make_consumer(
    bootstrap: str,
    group_id: str,
    topics: Sequence[str] = (),
    client_id: str | None = None,
    max_poll_records: int = 1000,
    fetch: dict[str, int] | None = None,
) -> AIOKafkaConsumer:
    """A ``read_committed`` consumer with auto-commit off, reading from the earliest offset.

    Without ``topics`` the caller subscribes itself (with a rebalance listener);
    ``fetch`` sets fetch sizes and waits (``Settings.fetch_tuning()``)."""
    return AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        group_id=group_id,
        client_id=client_id or group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        max_poll_records=max_poll_records,
        **(fetch or {}),
    )


class ConsumerLoop:
    """Runs ``handler`` on every message, retrying transient failures."""

    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        handler: Handler,
        dlq_producer: AIOKafkaProducer,
        service: str,
        attempts: int = 3,
        backoff: float = 0.05,
    ) -> None:
        self.consumer = consumer
        self.handler = handler
        self.dlq_producer = dlq_producer
        self.service = service
        self.attempts = attempts
        self.backoff = backoff
        self._stopping = asyncio.Event()

    async def _handle(self, record: ConsumerRecord[bytes, bytes]) -> None:
        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(self.attempts),
                wait=wait_exponential(multiplier=self.backoff, max=2),
                retry=retry_if_not_exception_type(PermanentError),
                reraise=True,
            ):
                with attempt:
                    await self.handler(record)
            EVENTS_PROCESSED.labels(self.service, record.topic, "ok").inc()
        except Exception as exc:
            await self._dead_letter(record, exc)

    async def _dead_letter(self, record: ConsumerRecord[bytes, bytes], exc: Exception) -> None:
        log.error(
            "message dead-lettered",
            extra={
                "topic": record.topic,
                "partition": record.partition,
                "offset": record.offset,
                "error": type(exc).__name__,
            },
        )
        headers = dead_letter_headers(
            record.headers, exc, record.topic, record.partition, record.offset
        )
        await self.dlq_producer.send_and_wait(
            dlq(record.topic), record.value, key=record.key, headers=headers
        )
        EVENTS_PROCESSED.labels(self.service, record.topic, "dead_lettered").inc()

    async def run_once(self, timeout_ms: int = 500) -> int:
        """Handle one ``getmany`` batch and commit it; returns the number of messages."""
        batches = await self.consumer.getmany(timeout_ms=timeout_ms, max_records=1000)
        handled = 0
        offsets: dict[TopicPartition, int] = {}
        for tp, records in batches.items():
            for record in records:
                await self._handle(record)
                handled += 1
            offsets[tp] = records[-1].offset + 1
        if offsets:
            await self.consumer.commit(offsets)
        return handled

    async def run(self) -> None:
        while not self._stopping.is_set():
            await self.run_once()

    def stop(self) -> None:
        self._stopping.set()
