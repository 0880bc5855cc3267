"""The tracked consumer (common/kafka/tracked.py) on real Kafka and Postgres: poison is
dead-lettered and the partition moves on, a dead letter replayed to its group is applied
there once, a crash between effect and offset replays without a duplicate, a restart
continues from the stored offsets, and the lag metric is the end offset minus the stored
one.

The effect under test is deliberately NOT idempotent (a plain insert per record, no key),
so a record applied twice shows as two rows.
"""

from __future__ import annotations

import asyncio
import io
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from prometheus_client import REGISTRY
from rich.console import Console
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from common.db import make_engine
from common.kafka.consumer import make_consumer, read_records
from common.kafka.pg_offsets import PgOffsets
from common.kafka.producer import make_producer
from common.kafka.tracked import AfterCommit, Tracked, TrackedConsumer
from common.settings import Settings
from common.topics import dlq, ensure_topics, replay
from infra.ops.dlq import dlq_replay

pytestmark = pytest.mark.integration

SCHEMA = """
CREATE SCHEMA IF NOT EXISTS it_tracked;
CREATE TABLE IF NOT EXISTS it_tracked.offsets (
    consumer text, topic text, partition int, next_offset bigint NOT NULL,
    PRIMARY KEY (consumer, topic, partition));
CREATE TABLE IF NOT EXISTS it_tracked.effects (
    seq bigserial PRIMARY KEY, consumer text NOT NULL, k text NOT NULL);
"""


class Effects:
    """Decodes ``{"k": ...}`` records and inserts one row per record; ``boom`` fails."""

    def __init__(self, consumer: str) -> None:
        self.consumer = consumer
        self.pause: asyncio.Event | None = None  # set: apply stops after its effect
        self.applied = asyncio.Event()
        self.disconnects = 0  # how many times apply loses its connection after its effect

    def decode(self, record: ConsumerRecord[bytes, bytes]) -> str:
        return str(orjson.loads(record.value or b"")["k"])

    async def apply(
        self, batch: Sequence[Tracked[str]], unit: AsyncConnection
    ) -> AfterCommit | None:
        if any(item.value == "boom" for item in batch):
            raise ValueError("boom cannot be applied")
        await unit.execute(
            text("INSERT INTO it_tracked.effects (consumer, k) VALUES (:c, :k)"),
            [{"c": self.consumer, "k": item.value} for item in batch],
        )
        self.applied.set()
        if self.disconnects:
            self.disconnects -= 1
            await unit.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
        if self.pause is not None:
            await self.pause.wait()  # the effect is written, the offsets are not
        return None


@dataclass
class World:
    settings: Settings
    topic: str
    engine: AsyncEngine
    producer: AIOKafkaProducer
    group: str

    @property
    def tp(self) -> TopicPartition:
        return TopicPartition(self.topic, 0)

    @asynccontextmanager
    async def running(
        self, handler: Effects, batch_max: int = 1000
    ) -> AsyncIterator[TrackedConsumer[str, Any]]:
        """A started tracked consumer of the topic, stopped afterwards."""
        runtime = self.runtime(handler, batch_max)
        await runtime.start()
        try:
            yield runtime
        finally:
            await runtime.stop()

    def runtime(self, handler: Effects, batch_max: int = 1000) -> TrackedConsumer[str, Any]:
        consumer = make_consumer(self.settings.kafka_bootstrap, self.group)
        return TrackedConsumer(
            consumer,
            [self.topic],
            handler,
            PgOffsets(self.engine, "it_tracked.offsets", self.group),
            self.producer,
            service=self.group,
            batch_max=batch_max,
            backoff=0.01,
        )

    async def send(self, *values: object) -> None:
        for v in values:
            raw = v if isinstance(v, bytes) else orjson.dumps({"k": v})
            await self.producer.send_and_wait(self.topic, raw, key=b"k")

    async def effects(self) -> list[str]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT k FROM it_tracked.effects WHERE consumer = :c ORDER BY seq"),
                {"c": self.group},
            )
            return [r.k for r in rows]

    async def stored(self) -> int | None:
        async with self.engine.connect() as conn:
            return (
                await conn.execute(
                    text(
                        "SELECT next_offset FROM it_tracked.offsets "
                        "WHERE consumer = :c AND topic = :t AND partition = 0"
                    ),
                    {"c": self.group, "t": self.topic},
                )
            ).scalar()


@pytest.fixture
async def world(settings: Settings) -> AsyncIterator[World]:
    topic = f"it-tracked-{uuid.uuid4().hex[:8]}"
    await ensure_topics(settings.kafka_bootstrap, 1, (topic,))
    engine = make_engine(settings.postgres_dsn, pool_size=3)
    async with engine.begin() as conn:
        await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('it_tracked'))"))
        for statement in SCHEMA.split(";"):
            if statement.strip():
                await conn.execute(text(statement))
    producer = make_producer(settings.kafka_bootstrap, "it-tracked")
    await producer.start()
    try:
        yield World(settings, topic, engine, producer, f"g-{topic}")
    finally:
        await producer.stop()
        await engine.dispose()


async def _until_stored(
    runtime: TrackedConsumer[str, Any], world: World, done: Callable[[int], bool]
) -> None:
    """Run ``runtime`` batch by batch until its stored offset satisfies ``done``."""
    for _ in range(60):
        await runtime.run_once(timeout_ms=500)
        if done(await world.stored() or 0):
            return
    raise AssertionError("the tracked consumer did not get there")


async def _dead_letters(settings: Settings, topic: str) -> list[ConsumerRecord[bytes, bytes]]:
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap)
    await consumer.start()
    try:
        tp = TopicPartition(dlq(topic), 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        end = (await consumer.end_offsets([tp]))[tp]
        out: list[ConsumerRecord[bytes, bytes]] = []
        while len(out) < end:
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                out.extend(records)
        return out
    finally:
        await consumer.stop()


def _lag(world: World) -> float | None:
    return REGISTRY.get_sample_value(
        "paystream_consumer_lag",
        {"service": world.group, "group": world.group, "topic": world.topic, "partition": "0"},
    )


def _counted(service: str, topic: str, outcome: str) -> float:
    value = REGISTRY.get_sample_value(
        "paystream_events_processed_total",
        {"service": service, "topic": topic, "outcome": outcome},
    )
    return value or 0.0


async def test_poison_is_dead_lettered_and_the_partition_moves_on(
    world: World, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    # given good records around an undecodable one and one the handler always fails on
    boom = orjson.dumps({"k": "boom", "event_id": "e-boom"})
    await world.send("a", b"\xffnot json", "b", boom, "c")
    caplog.set_level(logging.WARNING, logger="paystream.tracked")
    async with world.running(Effects(world.group)) as runtime:
        # when the tracked consumer works through them
        await _until_stored(runtime, world, lambda n: n == 5)
    # then every good record is applied once, in order, and the partition moved past both
    assert await world.effects() == ["a", "b", "c"]
    # and both poison records are in the dead-letter topic with their error and origin
    dead = await _dead_letters(settings, world.topic)
    headers = [dict(r.headers) for r in dead]
    assert [r.value for r in dead] == [b"\xffnot json", boom]
    assert [h["dlq_origin"] for h in headers] == [
        f"{world.topic}:0:1".encode(),
        f"{world.topic}:0:3".encode(),
    ]
    assert headers[0]["dlq_error"].startswith(b"JSONDecodeError")
    assert headers[1]["dlq_error"] == b"ValueError: boom cannot be applied"
    assert _counted(world.group, world.topic, "dead_lettered") == 2
    assert _counted(world.group, world.topic, "ok") == 3
    # and each dead letter's log line says where the record was and why it failed
    lines = [r for r in caplog.records if r.getMessage() == "record dead-lettered"]
    assert [(r.topic, r.partition, r.offset) for r in lines] == [
        (world.topic, 0, 1),
        (world.topic, 0, 3),
    ]
    assert lines[1].error == "ValueError: boom cannot be applied"
    assert lines[1].event_id == "e-boom"


async def test_a_dead_letter_replayed_to_its_group_is_applied_there_once(
    world: World, settings: Settings
) -> None:
    # given two groups on the topic, and a database that refuses group one's row "x"
    other = replace(world, group=f"{world.group}-other")
    refusal = f"no_x_{uuid.uuid4().hex[:8]}"
    async with world.engine.begin() as conn:
        await conn.execute(text(
            f"ALTER TABLE it_tracked.effects ADD CONSTRAINT {refusal} "
            f"CHECK (NOT (consumer = '{world.group}' AND k = 'x'))"
        ))  # fmt: skip
    await world.send("a", "x", "b")
    try:
        async with world.running(Effects(world.group)) as one:
            await _until_stored(one, world, lambda n: n == 3)
    finally:
        async with world.engine.begin() as conn:  # when the cause is fixed
            await conn.execute(text(f"ALTER TABLE it_tracked.effects DROP CONSTRAINT {refusal}"))
    async with other.running(Effects(other.group)) as two:
        await _until_stored(two, other, lambda n: n == 3)
    # then "x" was dead-lettered by group one only, its group named
    (dead,) = await _dead_letters(settings, world.topic)
    assert dict(dead.headers)["dlq_group"] == world.group.encode()
    assert (await world.effects(), await other.effects()) == (["a", "b"], ["a", "x", "b"])
    # given a replay that appended it to the replay topic and was cut short there
    place = f"{dead.topic}:0:{dead.offset}".encode()
    await world.producer.send_and_wait(
        replay(world.topic), dead.value, key=dead.key,
        headers=[*dead.headers, ("dlq_replayed_from", place)],
    )  # fmt: skip
    # when the operator replays the topic's dead letters, twice
    out = io.StringIO()
    console = Console(file=out, width=500)
    assert await dlq_replay(settings.kafka_bootstrap, world.topic, console) == 0
    assert await dlq_replay(settings.kafka_bootstrap, world.topic, console) == 0
    assert "(1 of them appended there before)" in out.getvalue()
    assert "replayed 0 records" in out.getvalue()
    # and both groups run through the replay topic
    for group in (world, other):
        async with group.running(Effects(group.group)) as runtime:
            for _ in range(20):
                await runtime.run_once(timeout_ms=300)
    # then group one applied "x" once, as read at its origin; group two nothing more
    assert (await world.effects(), await other.effects()) == (["a", "b", "x"], ["a", "x", "b"])
    assert await read_records(settings.kafka_bootstrap, dlq(world.topic)) == []


async def test_a_crash_between_effect_and_offset_replays_without_a_duplicate(
    world: World,
) -> None:
    # given a consumer that stops for good after writing a batch's effects, before the
    # batch's offsets commit (the process is killed at that point)
    await world.send("a", "b", "c")
    stalled = Effects(world.group)
    stalled.pause = asyncio.Event()
    first = world.runtime(stalled)
    await first.start()
    running = asyncio.create_task(first.run())
    await asyncio.wait_for(stalled.applied.wait(), 60)
    running.cancel()
    await asyncio.gather(running, return_exceptions=True)
    await first.stop()
    assert await world.stored() in (None, 0)
    # when another consumer of the group takes over
    async with world.running(Effects(world.group)) as second:
        await _until_stored(second, world, lambda n: n == 3)
    # then each record's effect exists exactly once
    assert await world.effects() == ["a", "b", "c"]


async def test_a_restart_continues_from_the_stored_offsets(world: World) -> None:
    # given a consumer that applied three records and stopped
    await world.send("a", "b", "c")
    async with world.running(Effects(world.group)) as first:
        await _until_stored(first, world, lambda n: n == 3)
        # and Kafka holds no committed offset for the group (progress lives in Postgres)
        assert await first.consumer.committed(world.tp) is None
    # when three more arrive and a new consumer of the group starts
    await world.send("d", "e", "f")
    async with world.running(Effects(world.group)) as second:
        await _until_stored(second, world, lambda n: n == 6)
    # then it applied only the new ones: every record once
    assert await world.effects() == ["a", "b", "c", "d", "e", "f"]


async def test_lag_is_the_end_offset_minus_the_stored_offset(world: World) -> None:
    # given ten records and a consumer that takes at most four per batch
    await world.send(*[f"r{i}" for i in range(10)])
    async with world.running(Effects(world.group), batch_max=4) as runtime:
        # when it has applied its first batch
        await _until_stored(runtime, world, lambda n: n > 0)
        stored = await world.stored()
        end = (await runtime.consumer.end_offsets([world.tp]))[world.tp]
        # then the lag is what is left: end minus stored
        assert stored is not None and 0 < stored < 10 and end == 10
        assert _lag(world) == end - stored

        # and once everything is applied it is zero
        await _until_stored(runtime, world, lambda n: n == 10)
        assert _lag(world) == 0
        assert runtime.behind() == 0  # what the worker itself sees (the chain watch asks)


async def test_stored_offsets_pass_the_commit_marker_of_a_kafka_transaction(
    world: World, settings: Settings
) -> None:
    # given three records appended in one Kafka transaction (its commit marker takes the
    # offset after them)
    producer = make_producer(
        settings.kafka_bootstrap, "it-tracked-tx", transactional_id=f"it-{uuid.uuid4()}"
    )
    await producer.start()
    try:
        async with producer.transaction():
            for v in ("a", "b", "c"):
                await producer.send(world.topic, orjson.dumps({"k": v}), key=b"k")
    finally:
        await producer.stop()
    async with world.running(Effects(world.group)) as runtime:
        # when they are applied
        await _until_stored(runtime, world, lambda n: n >= 3)
        end = (await runtime.consumer.end_offsets([world.tp]))[world.tp]
    # then the stored offset is the end offset, past the marker, and nothing is lagging
    assert end == 4 and await world.stored() == 4
    assert _lag(world) == 0
    assert await world.effects() == ["a", "b", "c"]


async def test_a_lost_database_connection_is_retried_not_dead_lettered(
    world: World, settings: Settings
) -> None:
    # given a handler whose connection to Postgres is cut after its effect, six times
    await world.send("a", "b")
    cut = Effects(world.group)
    cut.disconnects = 6  # more than the tries of a batch and then of its halves
    async with world.running(cut) as runtime:
        # when the tracked consumer works through the records
        await _until_stored(runtime, world, lambda n: n == 2)
    # then they are applied once each, on a new connection, and nothing is dead-lettered
    assert cut.disconnects == 0
    assert await world.effects() == ["a", "b"]
    assert await _dead_letters(settings, world.topic) == []


async def test_a_rebalance_hands_partitions_over_without_loss_or_duplicate(
    world: World, settings: Settings
) -> None:
    # given a two-partition topic whose records one instance has applied
    two = replace(world, topic=f"{world.topic}-two", group=f"g-{world.topic}-two")
    await ensure_topics(settings.kafka_bootstrap, 2, (two.topic,))

    async def send(values: list[str]) -> None:
        for i, v in enumerate(values):
            await world.producer.send_and_wait(two.topic, orjson.dumps({"k": v}), partition=i % 2)

    async def applied(n: int) -> None:
        deadline = time.monotonic() + 60
        while len(await two.effects()) < n:
            assert time.monotonic() < deadline, "not everything was applied"
            await asyncio.sleep(0.2)

    before, after = [f"a{i}" for i in range(20)], [f"b{i}" for i in range(20)]
    await send(before)
    first, second = two.runtime(Effects(two.group)), two.runtime(Effects(two.group))
    await first.start()
    tasks = [asyncio.create_task(first.run())]
    try:
        await applied(20)
        # when a second instance joins the group (the partitions are revoked and
        # reassigned) while more records arrive
        await second.start()
        tasks.append(asyncio.create_task(second.run()))
        await send(after)
        deadline = time.monotonic() + 60
        while [len([tp for tp in c.consumer.assignment() if tp.topic == two.topic])
               for c in (first, second)] != [1, 1]:  # fmt: skip
            assert time.monotonic() < deadline, "the second instance got no partition"
            await asyncio.sleep(0.2)
        await applied(40)
        await asyncio.sleep(1)  # time for a duplicate to show, if there were one
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await first.stop()
        await second.stop()
    # then every record was applied exactly once (the new owner of a partition went on
    # from its stored offset)
    assert sorted(await two.effects()) == sorted(before + after)
