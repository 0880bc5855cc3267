"""The audit projector and log on real Kafka and FerretDB: one record per event with a
gap-free seq, masked and chained; a replay after a crash adds nothing; a record edited or
deleted directly in Mongo is named by verify, and by the background chain watch within
its interval; the filters find by subject."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from prometheus_client import REGISTRY
from pymongo.asynchronous.database import AsyncDatabase

from audit_svc.chain import Verdict
from audit_svc.chain_watch import ChainWatch
from audit_svc.projector import audit_consumer
from audit_svc.records import record_of
from audit_svc.store import LOGS, OFFSETS, Filters, MongoAuditLog
from common.kafka.mongo_offsets import MongoDocument, MongoOffsets
from common.kafka.producer import make_producer, send_envelope
from common.mongo import make_mongo_client, scans_every_filter
from common.settings import Settings
from common.topics import ensure_topics
from common.worker import running
from contracts.envelope import Envelope
from contracts.transaction import TransferRequested
from contracts.user import UserRegistered

pytestmark = pytest.mark.integration


@dataclass
class World:
    settings: Settings
    topics: tuple[str, str]  # (users, transactions)
    db: AsyncDatabase[MongoDocument]
    producer: AIOKafkaProducer

    @property
    def log(self) -> MongoAuditLog:
        return MongoAuditLog(self.db)

    async def project(self, until_records: int) -> None:
        """Run the audit projector of the topics until the log holds ``until_records``
        and every partition's offsets are stored."""
        group = f"g-{self.topics[0]}"
        tracked = audit_consumer(self.settings, self.db, self.producer, self.topics, group)
        partitions = [TopicPartition(topic, 0) for topic in self.topics]
        await tracked.start()
        try:
            for _ in range(60):
                await tracked.run_once(timeout_ms=500)
                done = await MongoOffsets(self.db[OFFSETS], group).load(partitions)
                if await self.records() == until_records and len(done) == len(partitions):
                    return
            raise AssertionError("the audit projector did not get there")
        finally:
            await tracked.stop()

    async def records(self) -> int:
        return await self.db[LOGS].count_documents({})

    async def seqs(self) -> list[int]:
        return [d["seq"] async for d in self.db[LOGS].find({}).sort("seq", 1)]

    async def edit_amount(self, seq: int) -> None:
        """Change the amount in record ``seq``'s data directly in Mongo (stored as its JSON
        text: ``records.as_stored``), as someone tampering with the log would."""
        doc = await self.db[LOGS].find_one({"seq": seq})
        assert doc is not None and isinstance(doc["data"], str)
        edited = orjson.dumps(orjson.loads(doc["data"]) | {"amount": 1}).decode()
        await self.db[LOGS].update_one({"seq": seq}, {"$set": {"data": edited}})


@pytest.fixture
async def world(settings: Settings) -> AsyncIterator[World]:
    suffix = uuid.uuid4().hex[:8]
    topics = (f"it-audit-users-{suffix}", f"it-audit-tx-{suffix}")
    await ensure_topics(settings.kafka_bootstrap, 1, topics)
    client = make_mongo_client(settings.mongo_url, "it")
    db = client[f"it_audit_{suffix}"]
    await MongoAuditLog(db).ensure_indexes()
    producer = make_producer(settings.kafka_bootstrap, "it-audit")
    await producer.start()
    try:
        yield World(settings, topics, db, producer)
    finally:
        await producer.stop()
        await client.drop_database(db.name)
        await client.close()


async def _publish(world: World, users: int, transfers: int) -> list[Envelope]:
    sent = []
    for i in range(users):
        user = UserRegistered(user_id=f"u-{i}", email=f"ada{i}@example.com",
                              full_name="Ada Lovelace", role="user")  # fmt: skip
        sent.append((world.topics[0], Envelope.of(user, key=f"u-{i}", producer="user_svc")))
    for i in range(transfers):
        tx = TransferRequested(transaction_id=f"t-{i}", from_wallet_id="w-a", to_wallet_id="w-b",
                               amount=100 + i, currency="USD", deadline=0)  # fmt: skip
        sent.append((world.topics[1], Envelope.of(tx, key=f"t-{i}", producer="transaction_svc")))
    for topic, envelope in sent:
        await send_envelope(world.producer, topic, envelope)
    return [e for _, e in sent]


async def test_each_event_becomes_one_masked_chained_record(world: World) -> None:
    # given three registrations and four transfers on two topics
    await _publish(world, users=3, transfers=4)
    # when the projector has consumed them
    await world.project(until_records=7)
    # then the log holds one record each, numbered 1..7, chained, masked
    assert await world.seqs() == [1, 2, 3, 4, 5, 6, 7]
    verdict = await world.log.verify(1, 7)
    assert (verdict.ok, verdict.checked, verdict.first_bad_seq) == (True, 7, None)
    users = await world.log.page(Filters(type="UserRegistered"), None, 10)
    assert {u["data"]["email"] for u in users} == {"a***@example.com"}
    assert {u["data"]["full_name"] for u in users} == {"A. L."}
    # and the filters find by subject and actor, newest first
    by_wallet = await world.log.page(Filters(wallet_id="w-b"), None, 10)
    assert [r["data"]["amount"] for r in by_wallet] == [103, 102, 101, 100]
    by_user = await world.log.page(Filters(user_id="u-1", actor_id="u-1"), None, 10)
    assert [r["type"] for r in by_user] == ["UserRegistered"]


async def test_a_replay_after_a_crash_adds_nothing(world: World) -> None:
    # given a projected log of five records
    await _publish(world, users=2, transfers=3)
    await world.project(until_records=5)
    before = [d async for d in world.db[LOGS].find({}, {"_id": False}).sort("seq", 1)]
    # when a crash is simulated after the last two records were written but before any
    # offsets were (the offsets are gone, and so are records 4 and 5 of a half-done batch)
    await world.db[OFFSETS].delete_many({})
    await world.db[LOGS].delete_many({"seq": {"$gt": 3}})
    # and the projector replays every topic from the start
    await world.project(until_records=5)
    # then the log is what it was: same seqs, same records, same hashes
    after = [d async for d in world.db[LOGS].find({}, {"_id": False}).sort("seq", 1)]
    assert after == before
    assert (await world.log.verify(1, 5)).ok


async def test_an_edited_record_is_named_by_verify(world: World) -> None:
    # given a chained log of six records
    await _publish(world, users=2, transfers=4)
    await world.project(until_records=6)
    # when someone edits the amount of record 4 directly in Mongo
    await world.edit_amount(4)
    # then verify names record 4, having checked the three before it
    verdict = await world.log.verify(1, 6)
    assert (verdict.ok, verdict.checked, verdict.first_bad_seq) == (False, 3, 4)
    # and a range after it is intact, a range from it is not
    assert (await world.log.verify(5, 6)).ok
    assert (await world.log.verify(4, 6)).first_bad_seq == 4


async def test_a_deleted_record_is_reported_as_the_gap(world: World) -> None:
    # given a chained log of five records
    await _publish(world, users=1, transfers=4)
    await world.project(until_records=5)
    # when record 3 is deleted directly in Mongo
    await world.db[LOGS].delete_one({"seq": 3})
    # then verify reports the gap at 3
    verdict = await world.log.verify(1, 5)
    assert (verdict.ok, verdict.checked, verdict.first_bad_seq) == (False, 2, 3)


async def test_a_page_continues_below_the_last_seq(world: World) -> None:
    await _publish(world, users=1, transfers=5)
    await world.project(until_records=6)
    first: list[dict[str, Any]] = await world.log.page(Filters(), None, 2)
    rest = await world.log.page(Filters(), first[-1]["seq"], 10)
    assert [r["seq"] for r in first + rest] == [6, 5, 4, 3, 2, 1]


async def test_a_restart_makes_the_indexes_again_without_harm(world: World) -> None:
    # given the indexes made at the first start, an index per filter of an earlier
    # version, and the search indexes a version before this one made on FerretDB too
    await world.db[LOGS].create_index([("type", 1), ("seq", 1)], name="type_seq")
    await world.db[LOGS].create_index([("keys", 1), ("seq", 1)], name="keys_seq")
    # when audit_svc starts again (on FerretDB v1, which scans for every filter)
    assert await scans_every_filter(world.db)
    await world.log.ensure_indexes()
    # then only the unique seq is left besides _id: the others served no query there
    names = {ix["name"] async for ix in await world.db[LOGS].list_indexes()}
    assert names == {"_id_", "seq"}
    # and the filters still find by subject and type
    await _publish(world, users=1, transfers=2)
    await world.project(until_records=3)
    assert (
        len(await world.log.page(Filters(wallet_id="w-b", type="TransferRequested"), None, 9)) == 2
    )


async def test_an_old_event_sent_again_among_new_ones_adds_only_the_new(world: World) -> None:
    # given a log of four records
    sent = await _publish(world, users=1, transfers=3)
    await world.project(until_records=4)
    old = await world.log.page(Filters(), None, 10)
    # when a batch holds a new event, an old one resent by its producer, and another new
    # one (by a fresh writer, whose head is read from the store)
    new = await _publish(world, users=0, transfers=5)
    records = [record_of(world.topics[1], e) for e in (new[3], sent[1], new[4])]
    added = await MongoAuditLog(world.db).append(records)
    # then the two new events follow the old head, the chain holds, nothing is twice
    assert added == 2 and await world.seqs() == [1, 2, 3, 4, 5, 6]
    assert (await world.log.verify(1, 6)).ok
    assert await world.db[LOGS].count_documents({"event_id": sent[1].event_id}) == 1
    assert await world.log.page(Filters(), 5, 10) == old  # the first four untouched


def _verified(database: str) -> tuple[float | None, ...]:
    """(ok, checked, chain length) as the watch exported them for ``database``."""
    return tuple(
        REGISTRY.get_sample_value(name, {"database": database})
        for name in (
            "paystream_audit_verify_ok",
            "paystream_audit_verify_checked",
            "paystream_audit_chain_length",
        )
    )


async def _until_verified(database: str, want: tuple[float, ...], within: float) -> None:
    deadline = time.monotonic() + within
    while _verified(database) != want:
        assert time.monotonic() < deadline, f"{_verified(database)} is not {want} after {within} s"
        await asyncio.sleep(0.05)


async def test_the_chain_watch_sees_a_tampered_record_within_its_interval(world: World) -> None:
    # given a projected log of five records, and the chain watch every half second
    await _publish(world, users=2, transfers=3)
    await world.project(until_records=5)
    interval = 0.5
    async with running(ChainWatch(world.log, interval), "audit-chain-watch"):
        # then it exports an intact chain of five, without anyone asking
        await _until_verified(world.db.name, (1, 5, 5), within=10)
        verified_at = REGISTRY.get_sample_value(
            "paystream_audit_verify_timestamp_seconds", {"database": world.db.name}
        )
        # when record 3 is edited directly in Mongo
        await world.edit_amount(3)
        # then within the interval (and the walk's time) the gauge says broken at 3
        await _until_verified(world.db.name, (0, 2, 5), within=interval + 2)
        later = REGISTRY.get_sample_value(
            "paystream_audit_verify_timestamp_seconds", {"database": world.db.name}
        )
        assert verified_at is not None and later is not None and later > verified_at


async def test_each_round_of_the_chain_watch_walks_the_new_records_and_a_slice_of_the_old(
    world: World,
) -> None:
    # given a projected log of ten records, and a watch that re-walks three old ones a round
    await _publish(world, users=2, transfers=8)
    await world.project(until_records=10)
    watch = ChainWatch(world.log, 60, sweep=3)
    assert await watch.verify_once() == Verdict(True, 10, None)  # the first round: all
    # when two more are appended, the next round walks old 1-3 and the new 11-12 only
    await _publish(world, users=0, transfers=2)
    await world.project(until_records=12)
    assert await watch.verify_once() == Verdict(True, 5, None)
    # and when record 8, walked intact twice already, is edited directly in Mongo
    await world.edit_amount(8)
    # then the round whose slice holds it names it (4-6 first, then 7-9), and the next
    # rounds still do
    assert await watch.verify_once() == Verdict(True, 3, None)
    assert await watch.verify_once() == Verdict(False, 1, 8)
    assert await watch.verify_once() == Verdict(False, 1, 8)
    assert _verified(world.db.name) == (0, 1, 12)


async def test_the_chain_watch_sees_records_removed_from_the_end(world: World) -> None:
    # given a log of six records walked intact by the watch
    await _publish(world, users=1, transfers=5)
    await world.project(until_records=6)
    watch = ChainWatch(world.log, 60, sweep=100)
    assert (await watch.verify_once()).ok
    # when the last two are deleted directly in Mongo
    await world.db[LOGS].delete_many({"seq": {"$gte": 5}})
    # then the next round reports the gap where they were
    assert await watch.verify_once() == Verdict(False, 4, 5)
