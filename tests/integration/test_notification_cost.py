"""What notifications cost FerretDB does not grow with the history: their claims, outcomes
and published marks are inserts, one command each for many notifications (FerretDB v1.24's
SQLite backend reads the whole collection for any find or update, even by ``_id``; an
insert is checked under the unique indexes), and a redelivery still finds them settled
and published."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.monitoring import CommandListener, CommandStartedEvent

from common.settings import Settings
from infra.testing.stack import StackUnderTest
from notification_worker import store

pytestmark = pytest.mark.integration

HISTORY = 3000


class Commands(CommandListener):
    """The names of the commands the client sent while ``on``."""

    def __init__(self) -> None:
        self.on = False
        self.names: list[str] = []

    def started(self, event: CommandStartedEvent) -> None:
        if self.on:
            self.names.append(event.command_name)

    def succeeded(self, event: Any) -> None:
        pass

    def failed(self, event: Any) -> None:
        pass


@pytest.fixture
async def mongo(stack: StackUnderTest) -> AsyncIterator[tuple[Any, Commands]]:
    commands = Commands()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        Settings().mongo_url, event_listeners=[commands]
    )
    yield client, commands
    await client.close()


async def _with_history(client: Any, n: int) -> Any:
    """A fresh notification_worker database holding ``n`` settled, published notifications."""
    db = client[f"notification_cost_{uuid.uuid4().hex[:8]}"]
    await store.ensure_indexes(db)
    for start in range(0, n, 1000):
        batch = [_settled() for _ in range(start, min(n, start + 1000))]
        await db[store.NOTIFICATIONS].insert_many(batch)
        await db[store.OUTCOMES].insert_many(
            [{"_id": d["_id"], "status": store.SENT, "attempts": 1} for d in batch]
        )
        await db[store.PUBLISHED].insert_many([{"_id": d["_id"]} for d in batch])
    return db


def _settled() -> dict[str, Any]:
    return {"_id": str(uuid.uuid4()), "event_id": str(uuid.uuid4()), "kind": "transfer_sent",
            "channel": "email", "user_id": str(uuid.uuid4()), "category": "transfers",
            "title": "You sent 12.50 EUR", "read_at": None,
            "created_at": datetime.now(UTC)}  # fmt: skip


def _key() -> dict[str, str]:
    return {"event_id": str(uuid.uuid4()), "kind": "transfer_received", "channel": "email",
            "user_id": "payee"}  # fmt: skip


FIELDS = {"category": "transfers", "title": "You received 1 EUR"}


async def _notify(db: Any, keys: list[dict[str, str]]) -> list[dict[str, Any]]:
    """The worker's store calls for a batch's notifications (claim, settle, mark
    published), as ``Notifier.apply`` makes them (its outcomes: ``Outcomes``)."""
    docs = await store.claim_many(db, [(key, FIELDS) for key in keys])
    docs = await store.settle_many(db, docs, [store.outcome(d, store.SENT, 1) for d in docs])
    await store.mark_published(db, [doc["_id"] for doc in docs])
    return docs


async def test_notifications_are_inserts_only_whatever_the_history(
    mongo: tuple[Any, Commands],
) -> None:
    """Inserts only, so the cost does not grow with the history (no timing here: speed is
    measured in bench/, never by tests)."""
    client, commands = mongo
    # given a history of 3,000 notifications
    full = await _with_history(client, HISTORY)
    try:
        # when a batch of 20 notifications is made
        commands.on = True
        await _notify(full, [_key() for _ in range(20)])
        commands.on = False
        # then it is three inserts and nothing that reads the collection
        assert commands.names == ["insert", "insert", "insert"]
        assert await full[store.NOTIFICATIONS].count_documents({}) == HISTORY + 20
    finally:
        await client.drop_database(full.name)


async def test_a_redelivered_notification_is_found_settled_and_published(
    mongo: tuple[Any, Commands],
) -> None:
    client, _ = mongo
    db = await _with_history(client, 10)
    try:
        # given a notification that was sent and published
        key = _key()
        await _notify(db, [key])
        # when its event is delivered again, in a batch with a new one
        new = _key()
        again, fresh = await store.claim_many(db, [(key, FIELDS), (new, FIELDS)])
        # then the claim finds it as it ended: sent, published, nothing to do
        assert (again["status"], again["attempts"], again["published"]) == (store.SENT, 1, True)
        assert await db[store.NOTIFICATIONS].count_documents(key) == 1
        # and the new one is claimed pending
        assert (fresh["status"], fresh["published"]) == (store.PENDING, False)
        # and a second settle keeps the first outcome, beside the new one's
        late = store.outcome(again, store.FAILED, 3, "late")
        later, settled = await store.settle_many(
            db, [again, fresh], [late, store.outcome(fresh, store.SENT, 2)]
        )
        assert (later["status"], later["attempts"]) == (store.SENT, 1)
        assert (settled["status"], settled["attempts"]) == (store.SENT, 2)
        # and the person's history shows it sent
        [shown] = [
            d for d in await store.history(db, "payee", None, 50) if d["_id"] == again["_id"]
        ]
        assert shown["status"] == store.SENT and shown["kind"] == "transfer_received"
    finally:
        await client.drop_database(db.name)
