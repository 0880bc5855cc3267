"""The tracked consumer: the one runtime of every consumer that writes somewhere.

A consumer's progress is tracked in the store it writes to, not in Kafka: each
``getmany`` batch is applied by a handler inside a unit of work of an ``OffsetStore``
and the batch's next offsets are written in that same unit. With Postgres
(``common.kafka.pg_offsets``) the unit is one transaction, so effects and offsets commit
together and a crash before the commit replays the batch with nothing to undo. A store
without transactions (a Mongo collection) makes its unit a plain scope: the handler's
writes must then be idempotent (keyed by ``event_id``) and the offsets are written after
them, so a crash in between replays writes that change nothing.

On assignment the consumer seeks to the stored offsets. Inside each unit the stored
offsets of the batch's partitions are read again (locked where the store can) and records
below them are dropped: an instance that still held a partition during a rebalance
cannot apply a record twice.

A record the handler's ``decode`` refuses is dead-lettered at once; a batch that still
fails after ``attempts`` tries is split in halves until the failing record is alone, and
that record goes to ``<topic>.dlq`` with the error and origin in its headers: the good
records are applied and the partition moves on. Outages (a lost connection to the store
or to Kafka) are no record's fault: they are retried until they pass, never
dead-lettered. The dead letter's headers name the consumer group; the consumer also
reads the replay topic of each of its topics and applies there the dead letters that
the operator replayed to its group (``common.kafka.replay``); one that fails again is
dead-lettered again as its original record.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from functools import partial
from typing import Any, Generic, Protocol, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import IllegalStateError
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_exponential

from common.kafka.consumer import lags, make_consumer, record_context, report_lag
from common.kafka.headers import dead_letter_headers
from common.kafka.replay import as_origin, is_replay, replayed_for
from common.metrics import CONSUMER_BATCH_SECONDS, CONSUMER_LAG, EVENTS_PROCESSED
from common.outage import is_outage
from common.settings import Settings
from common.topics import dlq, replay

log = logging.getLogger("paystream.tracked")

T = TypeVar("T")
U = TypeVar("U")
U_contra = TypeVar("U_contra", contravariant=True)
AfterCommit = Callable[[], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Tracked(Generic[T]):
    """One consumed record and what ``decode`` made of it. ``record`` is what the
    handler sees; ``fetched``, the record as read when that differs (a replayed dead
    letter, read from a replay topic: ``record`` is then its origin)."""

    record: ConsumerRecord[bytes, bytes]
    value: T
    fetched: ConsumerRecord[bytes, bytes] | None = None

    @property
    def read(self) -> ConsumerRecord[bytes, bytes]:
        """The record as read: its place is what the stored offsets count."""
        return self.fetched or self.record

    @property
    def tp(self) -> TopicPartition:
        return _tp(self.read)


class OffsetStore(Protocol[U]):
    """Where a tracked consumer keeps the next offset of each partition it consumes."""

    def unit(self) -> AbstractAsyncContextManager[U]:
        """The unit of work a batch's effects and its offsets are written in (a database
        transaction; for a store without transactions, a scope with no rollback)."""
        ...

    async def load(self, tps: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        """The stored next offsets of ``tps`` (0 for a partition never consumed)."""
        ...

    async def lock(self, unit: U, tps: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        """The stored next offsets of ``tps`` read inside ``unit``, locked until it ends
        where the store can lock."""
        ...

    async def save(self, unit: U, offsets: Mapping[TopicPartition, int]) -> None:
        """Move the stored next offsets forward (never back) inside ``unit``."""
        ...


class BatchHandler(Protocol[T, U_contra]):
    """What a tracked consumer runs: decode each record, apply a batch inside a unit."""

    def decode(self, record: ConsumerRecord[bytes, bytes]) -> T:
        """The record's value for ``apply``; raises when it can never be applied."""
        ...

    async def apply(self, batch: Sequence[Tracked[T]], unit: U_contra) -> AfterCommit | None:
        """Apply ``batch`` (in partition order) inside ``unit``; optionally return what
        to do once the unit has committed (publish notices)."""
        ...


class TrackedConsumer(ConsumerRebalanceListener, Generic[T, U]):
    """Consumes ``topics`` in batches and applies them with ``handler`` (see module doc).

    ``consumer`` comes from ``common.kafka.consumer.make_consumer`` without topics: the
    tracked consumer subscribes it with its own rebalance listener. It starts and stops
    the consumer; ``dead_letters`` (a started producer) stays the caller's."""

    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        topics: Sequence[str],
        handler: BatchHandler[T, U],
        offsets: OffsetStore[U],
        dead_letters: AIOKafkaProducer,
        service: str,
        batch_max: int = 2000,
        attempts: int = 3,
        backoff: float = 0.05,
        group: str = "",
    ) -> None:
        self.consumer = consumer
        self.group = group or service  # the lag metric's label
        self.topics = list(topics)
        self.handler = handler
        self.offsets = offsets
        self.dead_letters = dead_letters
        self.service = service
        self.batch_max = batch_max
        self.attempts = attempts
        self.backoff = backoff
        self.stored: dict[TopicPartition, int] = {}
        self._tails: dict[TopicPartition, tuple[int, int]] = {}
        self._in_flight = asyncio.Lock()

    @classmethod
    def of_group(
        cls,
        settings: Settings,
        group: str,
        topics: Sequence[str],
        handler: BatchHandler[T, U],
        offsets: OffsetStore[U],
        dead_letters: AIOKafkaProducer,
        batch_max: int = 2000,
        prompt: bool = False,
    ) -> TrackedConsumer[T, U]:
        """The tracked consumer of a service's worker: consumer group ``group`` on the
        cluster of ``settings``, fetching up to ``batch_max`` records with the fetch
        tuning of ``Settings.fetch_tuning`` (``prompt``: a request's answer waits on it),
        its client named after the service."""
        consumer = make_consumer(
            settings.kafka_bootstrap,
            group,
            client_id=settings.service_name,
            max_poll_records=batch_max,
            fetch=settings.fetch_tuning(prompt),
        )
        return cls(
            consumer,
            topics,
            handler,
            offsets,
            dead_letters,
            settings.service_name,
            batch_max=batch_max,
            group=group,
        )

    async def start(self) -> None:
        topics = [*self.topics, *(replay(t) for t in self.topics)]
        self.consumer.subscribe(topics, listener=self)
        await self.consumer.start()

    async def stop(self) -> None:
        await self.consumer.stop()

    # --- rebalance ---------------------------------------------------------------------
    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        """Let the batch in flight finish (it commits under the offsets' lock)."""
        async with self._in_flight:
            for tp in revoked:
                self.stored.pop(tp, None)
                CONSUMER_LAG.remove(self.service, self.group, tp.topic, str(tp.partition))

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        """Continue from the offsets stored with the effects, not Kafka's."""
        if not assigned:
            return
        stored = await self._retrying(
            lambda: self.offsets.load(sorted(assigned)),
            context={"partitions": sorted(f"{tp.topic}:{tp.partition}" for tp in assigned)},
        )
        for tp in assigned:
            self.consumer.seek(tp, stored.get(tp, 0))
        self.stored.update(stored)
        log.info(
            "partitions assigned",
            extra={"offsets": {f"{tp.topic}:{tp.partition}": o for tp, o in stored.items()}},
        )

    # --- the loop ----------------------------------------------------------------------
    async def run(self) -> None:
        while True:
            await self.run_once()

    async def run_once(self, timeout_ms: int = 500) -> int:
        """Fetch one batch and apply it; returns the number of records it held."""
        fetched = await self.consumer.getmany(timeout_ms=timeout_ms, max_records=self.batch_max)
        records = [r for rs in fetched.values() for r in rs]
        if records:
            async with self._in_flight:
                started = time.perf_counter()
                self._tails = await self._tails_of(fetched)
                await self._batch(records)
                CONSUMER_BATCH_SECONDS.labels(self.service).observe(time.perf_counter() - started)
        self._report_lag()
        return len(records)

    def behind(self) -> int:
        """How many records of the assigned partitions are not applied yet, as of the last
        fetch (``lags``): what the worker still has to catch up."""
        return sum(lags(self.consumer, self.stored).values())

    async def _tails_of(
        self, fetched: Mapping[TopicPartition, list[ConsumerRecord[bytes, bytes]]]
    ) -> dict[TopicPartition, tuple[int, int]]:
        """Per partition: (the offset after the batch's last record, the consumer's position).

        The position can be further: past the commit marker of a Kafka transaction, or an
        aborted one, that followed the last record (never past a record not yet returned).
        The unit holding the last record stores the position, so the stored offsets reach
        the end offset and lag reads 0 on transactional topics too."""
        tails: dict[TopicPartition, tuple[int, int]] = {}
        for tp, records in fetched.items():
            end = records[-1].offset + 1
            try:
                tails[tp] = (end, max(end, await self.consumer.position(tp)))
            except IllegalStateError:  # revoked meanwhile: its records' ends will do
                continue
        return tails

    async def _batch(self, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        decoded: list[Tracked[T] | ConsumerRecord[bytes, bytes]] = []
        for record in records:
            replayed = is_replay(record)
            if replayed and not replayed_for(record, self.group):
                decoded.append(record)  # another group's dead letter: only its offset counts
                continue
            seen = as_origin(record) if replayed else record
            try:
                decoded.append(
                    Tracked(seen, self.handler.decode(seen), record if replayed else None)
                )
            except Exception as exc:
                await self._retrying(
                    partial(self._dead_letter, record, exc), context=record_context([record])
                )
                decoded.append(record)  # only its offset counts
        await self._apply_or_split(decoded)

    async def _apply_or_split(self, part: list[Tracked[T] | ConsumerRecord[bytes, bytes]]) -> None:
        context = record_context([_record(item) for item in part])
        try:
            await self._retrying(lambda: self._commit(part), bounded=True, context=context)
        except Exception as exc:
            if len(part) == 1:
                dead = (_record(part[0]), exc)
                await self._retrying(lambda: self._commit([], dead=dead), context=context)
                return
            records = [_record(item) for item in part]
            log.warning("batch failed; splitting it", extra=record_context(records, exc))
            half = len(part) // 2
            await self._apply_or_split(part[:half])
            await self._apply_or_split(part[half:])

    async def _commit(
        self,
        part: Sequence[Tracked[T] | ConsumerRecord[bytes, bytes]],
        dead: tuple[ConsumerRecord[bytes, bytes], Exception] | None = None,
    ) -> None:
        """One unit: drop what is already stored, apply (or dead-letter), save offsets."""
        records = [_record(item) for item in part] + ([dead[0]] if dead else [])
        ends: dict[TopicPartition, int] = {}
        for r in records:
            tp = _tp(r)
            ends[tp] = max(ends.get(tp, 0), r.offset + 1)
        for tp, end in ends.items():
            tail = self._tails.get(tp)
            if tail is not None and end == tail[0]:
                ends[tp] = tail[1]
        after: AfterCommit | None = None
        async with self.offsets.unit() as unit:
            stored = await self.offsets.lock(unit, sorted(ends))
            fresh = [
                item
                for item in part
                if isinstance(item, Tracked) and item.read.offset >= stored.get(item.tp, 0)
            ]
            if fresh:
                after = await self.handler.apply(fresh, unit)
            if dead and dead[0].offset >= stored.get(_tp(dead[0]), 0):
                await self._dead_letter(*dead)
            await self.offsets.save(unit, ends)
        for tp, end in ends.items():
            self.stored[tp] = max(self.stored.get(tp, 0), end)
        for topic, n in Counter(item.record.topic for item in fresh).items():
            EVENTS_PROCESSED.labels(self.service, topic, "ok").inc(n)
        if after is not None:
            try:
                await after()
            except Exception:  # what follows a commit is a hint (notices): never replayed
                log.warning(
                    "after-commit step failed", exc_info=True, extra=record_context(records)
                )

    async def _dead_letter(self, record: ConsumerRecord[bytes, bytes], exc: Exception) -> None:
        """Send ``record`` to its topic's dead-letter topic; a replayed one as the record
        it was at its origin (it failed there again)."""
        log.error("record dead-lettered", extra=record_context([record], exc))
        origin = as_origin(record) if is_replay(record) else record
        headers = dead_letter_headers(
            origin.headers, exc, origin.topic, origin.partition, origin.offset, self.group
        )
        await self.dead_letters.send_and_wait(
            dlq(origin.topic), record.value, key=record.key, headers=headers
        )
        EVENTS_PROCESSED.labels(self.service, origin.topic, "dead_lettered").inc()

    async def _retrying(
        self,
        step: Callable[[], Awaitable[Any]],
        bounded: bool = False,
        context: Mapping[str, Any] | None = None,
    ) -> Any:
        """``step`` until it passes: outages are retried without end; with ``bounded``,
        any other error is raised after ``attempts`` tries (without: at once).
        ``context``: what the outage log line names (the records or partitions)."""

        def give_up(state: RetryCallState) -> bool:
            exc = state.outcome.exception() if state.outcome else None
            if exc is not None and is_outage(exc):
                if state.attempt_number % 10 == 0:
                    log.warning(
                        "store or Kafka unavailable; retrying",
                        exc_info=exc,
                        extra={**(context or {}), "attempts": state.attempt_number},
                    )
                return False
            return not bounded or state.attempt_number >= self.attempts

        async for attempt in AsyncRetrying(
            retry=retry_if_exception_type(Exception),
            stop=give_up,
            wait=wait_exponential(multiplier=self.backoff, max=5),
            reraise=True,
        ):
            with attempt:
                return await step()
        raise AssertionError("unreachable")

    def _report_lag(self) -> None:
        report_lag(self.consumer, self.service, self.group, self.stored)


def _record(item: Tracked[Any] | ConsumerRecord[bytes, bytes]) -> ConsumerRecord[bytes, bytes]:
    return item.read if isinstance(item, Tracked) else item


def _tp(record: ConsumerRecord[bytes, bytes]) -> TopicPartition:
    return TopicPartition(record.topic, record.partition)
