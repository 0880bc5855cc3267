"""The move of the audit log into its own database (audit_svc/own_database.py), on real
FerretDB: a log kept beside the notifications by an earlier version arrives whole (every
record as stored, the offsets, the upgrade marks), still verifies, and the projector
appends after its head; the shared database keeps only what is not the log's; a move cut
short by a crash is finished by the next start, and a moved log is never moved again."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from aiokafka import TopicPartition
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from audit_svc.backfill import DONE, UPGRADED
from audit_svc.chain import GENESIS
from audit_svc.own_database import MOVED, move_log
from audit_svc.projector import GROUP
from audit_svc.records import record_of
from audit_svc.store import LOGS, OFFSETS, MongoAuditLog
from common.kafka.mongo_offsets import MongoDocument, MongoOffsets
from common.mongo import make_mongo_client
from common.settings import Settings
from contracts.envelope import Envelope
from contracts.transaction import TransferRequested

pytestmark = pytest.mark.integration

NOT_THE_LOGS = "notifications"  # what the shared database also holds
OFFSET = TopicPartition("transaction-events", 0)


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[AsyncMongoClient[MongoDocument]]:
    client = make_mongo_client(settings.mongo_url, "it")
    yield client
    await client.close()


@pytest.fixture
async def dbs(
    client: AsyncMongoClient[MongoDocument],
) -> AsyncIterator[tuple[AsyncDatabase[MongoDocument], AsyncDatabase[MongoDocument]]]:
    suffix = uuid.uuid4().hex[:8]
    shared, own = client[f"it_shared_{suffix}"], client[f"it_audit_{suffix}"]
    yield shared, own
    await client.drop_database(shared.name)
    await client.drop_database(own.name)


def _records(n: int, start: int = 0) -> list[dict[str, object]]:
    out = []
    for i in range(start, start + n):
        tx = TransferRequested(transaction_id=f"t-{i}", from_wallet_id="w-a", to_wallet_id="w-b",
                               amount=100 + i, currency="EUR", deadline=0)  # fmt: skip
        envelope = Envelope.of(tx, key=f"t-{i}", producer="transaction_svc")
        out.append(record_of("transaction-events", envelope))
    return out


async def _earlier_version(shared: AsyncDatabase[MongoDocument], n: int) -> list[MongoDocument]:
    """The log as the version before kept it in the shared database, beside a
    notification; its stored records."""
    log = MongoAuditLog(shared)
    await log.ensure_indexes()
    assert await log.append(_records(n)) == n
    await MongoOffsets(shared[OFFSETS], GROUP).save(shared, {OFFSET: n})
    await shared[DONE].insert_one({"_id": UPGRADED, "records": 0})
    await shared[NOT_THE_LOGS].insert_one({"_id": "n-1", "kind": "transfer_sent"})
    return await shared[LOGS].find({}).sort("seq", 1).to_list()


async def _own_log(own: AsyncDatabase[MongoDocument]) -> MongoAuditLog:
    log = MongoAuditLog(own)
    await log.ensure_indexes()  # as audit_svc starts: the indexes first, then the move
    return log


async def _arrived_whole(
    own: AsyncDatabase[MongoDocument],
    shared: AsyncDatabase[MongoDocument],
    before: list[MongoDocument],
) -> None:
    """Every record of ``before`` is in ``own`` once, as it was stored, its chain verifies,
    its offsets came along, and ``shared`` keeps what was not the log's."""
    assert await own[LOGS].find({}).sort("seq", 1).to_list() == before
    verdict = await MongoAuditLog(own).verify(1, len(before))
    assert (verdict.ok, verdict.checked, verdict.first_bad_seq) == (True, len(before), None)
    assert await MongoOffsets(own[OFFSETS], GROUP).load([OFFSET]) == {OFFSET: len(before)}
    assert set(await shared.list_collection_names()) == {NOT_THE_LOGS}


async def test_the_log_arrives_whole_and_goes_on_there(
    dbs: tuple[AsyncDatabase[MongoDocument], AsyncDatabase[MongoDocument]],
) -> None:
    shared, own = dbs
    # given a log of 25 records, its offsets and its upgrade mark in the shared database
    before = await _earlier_version(shared, 25)
    log = await _own_log(own)
    # when it is moved (in chunks of 10)
    copied = await move_log(shared, own, chunk=10)
    # then every record is there as it was stored, the chain verifies, the offsets and
    # the upgrade mark came along, and the shared database keeps the notifications only
    assert copied == 25 + 1 + 1  # the records, the offsets, the upgrade mark
    await _arrived_whole(own, shared, before)
    assert await own[DONE].find_one({"_id": UPGRADED}) is not None
    # and the projector appends after the moved head: the chain goes on unbroken
    assert await log.append(_records(3, start=25)) == 3
    verdict = await log.verify(1, 28)
    assert (verdict.ok, verdict.checked, verdict.first_bad_seq) == (True, 28, None)
    # and a later start moves nothing again
    assert await move_log(shared, own) == 0
    assert await own[LOGS].count_documents({}) == 28


async def test_a_move_cut_short_is_finished_by_the_next_start(
    dbs: tuple[AsyncDatabase[MongoDocument], AsyncDatabase[MongoDocument]],
) -> None:
    shared, own = dbs
    # given a move that crashed after copying 12 of 20 records (no mark, nothing dropped)
    before = await _earlier_version(shared, 20)
    await _own_log(own)
    await own[LOGS].insert_many(before[:12])
    assert await own[DONE].find_one({"_id": MOVED}) is None
    # when the next start moves the log
    await move_log(shared, own, chunk=7)
    # then each record is there once, the chain whole, the old collections gone
    await _arrived_whole(own, shared, before)


async def test_a_start_that_crashed_after_the_mark_drops_what_is_left(
    dbs: tuple[AsyncDatabase[MongoDocument], AsyncDatabase[MongoDocument]],
) -> None:
    shared, own = dbs
    # given a moved log whose old collections a crash left in the shared database
    before = await _earlier_version(shared, 5)
    await _own_log(own)
    await move_log(shared, own)
    await shared[LOGS].insert_many(before)
    await MongoOffsets(shared[OFFSETS], GROUP).save(shared, {OFFSET: 5})
    # when the next start runs the move
    copied = await move_log(shared, own)
    # then nothing is copied again and the old collections are gone
    assert copied == 0
    assert await own[LOGS].count_documents({}) == 5
    assert set(await shared.list_collection_names()) == {NOT_THE_LOGS}


async def test_a_new_install_has_nothing_to_move(
    dbs: tuple[AsyncDatabase[MongoDocument], AsyncDatabase[MongoDocument]],
) -> None:
    shared, own = dbs
    # given nothing of the log in the shared database
    await shared[NOT_THE_LOGS].insert_one({"_id": "n-1"})
    log = await _own_log(own)
    # when the move runs, then it copies nothing, marks the log moved, and leaves the rest
    assert await move_log(shared, own) == 0
    assert await own[DONE].find_one({"_id": MOVED}) is not None
    assert await shared[NOT_THE_LOGS].count_documents({}) == 1
    assert await log.head() == (0, GENESIS)
