"""The backfill of audit records written before they had ``keys`` (audit_svc/backfill.py),
on real FerretDB: a log upgraded in place (records of the earlier shape, then records of
the present one) is found by the id and type filters afterwards, still verifies, and a
second run, or a run after a crash in the middle, changes nothing more."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from bson import ObjectId
from pymongo.asynchronous.database import AsyncDatabase

from audit_svc.backfill import UPGRADE, backfill_keys
from audit_svc.chain import KEYS_ADDED, chained
from audit_svc.records import keys_of_record, record_of
from audit_svc.store import LOGS, Filters, MongoAuditLog
from common.kafka.mongo_offsets import MongoDocument
from common.mongo import make_mongo_client
from common.settings import Settings
from contracts.envelope import Envelope
from contracts.transaction import TransferRequested
from contracts.user import UserRegistered

pytestmark = pytest.mark.integration


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[AsyncDatabase[MongoDocument]]:
    client = make_mongo_client(settings.mongo_url, "it")
    db = client[f"it_audit_backfill_{uuid.uuid4().hex[:8]}"]
    await MongoAuditLog(db).ensure_indexes()
    yield db
    await client.drop_database(db.name)
    await client.close()


def _events(n: int) -> list[tuple[str, Envelope]]:
    """n transfers of one wallet, each after its user's registration."""
    out = []
    for i in range(n):
        user, tx = str(uuid.uuid4()), str(uuid.uuid4())
        registered = UserRegistered(user_id=user, email=f"u{i}@example.com",
                                    full_name="Old Record", role="user")  # fmt: skip
        out.append(("user-events", Envelope.of(registered, key=user, producer="user_svc")))
        transfer = TransferRequested(transaction_id=tx, from_wallet_id="w-old",
                                     to_wallet_id=f"w-{i}", amount=100 + i,
                                     currency="EUR", deadline=0)  # fmt: skip
        out.append(("transaction-events", Envelope.of(transfer, key=tx, producer="tx")))
    return out


async def _earlier_version_log(
    db: AsyncDatabase[MongoDocument], n: int, keys: bool = False
) -> list[tuple[str, Envelope]]:
    """What the version before ``keys`` stored: no ``keys``, a generated ``_id``, chained
    from genesis (with ``keys``: that log as the version before this one upgraded it:
    its keys given, its generated ``_id`` kept); returns the events."""
    records, events = [], _events(n)
    for seq, (topic, envelope) in enumerate(events, start=1):
        record = record_of(topic, envelope)
        del record["keys"]
        records.append({"seq": seq, **record})
    stored = [{"_id": ObjectId(), **r} for r in chained("0" * 64, records)]
    if keys:
        stored = [{**r, "keys": keys_of_record(r), KEYS_ADDED: True} for r in stored]
    await db[LOGS].insert_many(stored)
    return events


async def test_records_of_the_earlier_shape_are_found_and_still_verify(
    db: AsyncDatabase[MongoDocument],
) -> None:
    # given a log upgraded in place: 30 records of the earlier shape, then 4 of today's
    await _earlier_version_log(db, 15)
    log = MongoAuditLog(db)
    assert await log.append([record_of(t, e) for t, e in _events(2)]) == 4
    assert await log.page(Filters(wallet_id="w-old"), None, 100) != []  # today's two
    # when the backfill runs
    given = await backfill_keys(db, chunk=7)  # (several chunks)
    # then every earlier record has its keys: the filters find all of them
    assert given == 30
    by_wallet = await log.page(Filters(wallet_id="w-old"), None, 100)
    assert len(by_wallet) == 17 and all(r["type"] == "TransferRequested" for r in by_wallet)
    assert len(await log.page(Filters(type="UserRegistered"), None, 100)) == 17
    first = await db[LOGS].find_one({"seq": 1})
    assert first is not None
    first_user = first["subjects"]["user_ids"][0]
    [found] = await log.page(Filters(user_id=first_user), None, 100)
    assert found["seq"] == 1
    # and the whole chain still verifies, seq gap-free, nothing lost or doubled
    verdict = await log.verify(1, 34)
    assert (verdict.ok, verdict.checked) == (True, 34)
    assert await db[LOGS].count_documents({}) == 34
    # and a second run gives nothing more
    assert await backfill_keys(db) == 0


async def test_a_backfill_cut_short_is_finished_by_the_next_start(
    db: AsyncDatabase[MongoDocument],
) -> None:
    # given earlier records, and a backfill that crashed after setting a chunk aside,
    # upgraded, and deleting it from the log
    await _earlier_version_log(db, 5)
    aside = await db[LOGS].find({"seq": {"$lte": 4}}).to_list()
    upgraded = [{**r, "keys": keys_of_record(r), KEYS_ADDED: True} for r in aside]
    await db[UPGRADE].insert_many(upgraded)
    await db[LOGS].delete_many({"seq": {"$lte": 4}})
    # when the next start runs the backfill
    await backfill_keys(db)
    # then every record is back once, with its keys, and the chain verifies
    log = MongoAuditLog(db)
    assert sorted([d["seq"] async for d in db[LOGS].find({})]) == list(range(1, 11))
    assert await db[UPGRADE].count_documents({}) == 0
    assert await db[LOGS].count_documents({"keys": {"$exists": False}}) == 0
    assert len(await log.page(Filters(type="UserRegistered"), None, 100)) == 5
    verdict = await log.verify(1, 10)
    assert (verdict.ok, verdict.checked) == (True, 10)


async def test_a_tampered_key_of_a_backfilled_record_is_named_by_verify(
    db: AsyncDatabase[MongoDocument],
) -> None:
    # given a backfilled log
    await _earlier_version_log(db, 3)
    await backfill_keys(db)
    log = MongoAuditLog(db)
    assert (await log.verify(1, 6)).ok
    # when someone changes the keys of one (to hide it from a filter)
    await db[LOGS].update_one({"seq": 4}, {"$set": {"keys": ["type:Nothing"]}})
    # then verify names it
    verdict = await log.verify(1, 6)
    assert (verdict.ok, verdict.first_bad_seq) == (False, 4)


@pytest.mark.parametrize("keys", [False, True], ids=["before keys", "keys given"])
async def test_an_upgraded_record_is_kept_under_its_event_id_so_its_event_is_not_stored_again(
    db: AsyncDatabase[MongoDocument], keys: bool
) -> None:
    # given an earlier log: its records under generated _ids (with or without their keys)
    events = await _earlier_version_log(db, 4, keys=keys)
    # when the upgrade runs
    assert await backfill_keys(db, chunk=3) == 8
    # then each record is under its event_id, and the chain still verifies
    stored = await db[LOGS].find({}).to_list()
    assert len(stored) == 8 and all(r["_id"] == r["event_id"] for r in stored)
    log = MongoAuditLog(db)
    assert (await log.verify(1, 8)).ok
    # and when two of its events are delivered again among a new one
    new = _events(1)[1]
    again = [record_of(t, e) for t, e in (events[2], new, events[5])]
    # then only the new one is appended, after the head
    assert await log.append(again) == 1
    assert sorted([d["seq"] async for d in db[LOGS].find({})]) == list(range(1, 10))
    assert (await log.verify(1, 9)).ok


async def test_an_event_a_log_already_holds_twice_keeps_both_copies_in_the_chain(
    db: AsyncDatabase[MongoDocument],
) -> None:
    # given an earlier log (generated _ids) in which event 2 was stored again at seq 7
    # (under its event_id, by a projector after the upgrade that gave the keys)
    events = await _earlier_version_log(db, 3, keys=True)
    log = MongoAuditLog(db)
    await log.append([record_of(*events[1])])
    assert await db[LOGS].count_documents({"event_id": events[1][1].event_id}) == 2
    # when the upgrade runs
    assert await backfill_keys(db) == 5
    # then both copies stay (the chain is not broken), the others are under their ids
    assert await db[LOGS].count_documents({"event_id": events[1][1].event_id}) == 2
    assert await db[LOGS].count_documents({"_id": {"$type": "objectId"}}) == 1
    assert (await log.verify(1, 7)).ok
    # and a second start does nothing more
    assert await backfill_keys(db) == 0
