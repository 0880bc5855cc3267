"""The notifier's batches on real FerretDB and Kafka: a batch reads its recipients and
preferences once and writes its claims, outcomes and published marks a few at a time, and
a batch redelivered after an outage in its middle still sends each notification once and
publishes each outcome once."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.structs import ConsumerRecord
from pydantic import SecretStr
from pymongo import AsyncMongoClient
from pymongo.monitoring import CommandListener, CommandStartedEvent

from common.kafka.producer import make_producer
from common.kafka.tracked import Tracked
from common.service_token import ServiceTokens
from common.settings import Settings
from common.topics import NOTIFICATION_EVENTS, TRANSACTION_EVENTS
from contracts.envelope import Envelope
from contracts.transaction import TransferCompleted
from infra.testing.kafka import read_topic
from infra.testing.stack import StackUnderTest
from notification_worker import store
from notification_worker.channels import Channel, Recipient, SimulatedProvider
from notification_worker.links import UserSvcLinks
from notification_worker.notifier import Incoming, Notifier
from notification_worker.outcomes import WRITE_EVERY, Outcomes
from notification_worker.recipients import Recipients
from notification_worker.render import Rendered
from notification_worker.settings import NotificationSettings

pytestmark = pytest.mark.integration

PEOPLE = 6


class Commands(CommandListener):
    """The names of the commands the client sent while ``on``."""

    def __init__(self) -> None:
        self.on = False
        self.names: Counter[str] = Counter()

    def started(self, event: CommandStartedEvent) -> None:
        if self.on:
            self.names[event.command_name] += 1

    def succeeded(self, event: Any) -> None:
        pass

    def failed(self, event: Any) -> None:
        pass


class Mailer:
    """The email provider's side: what it accepted, by notification id; from its
    ``fail_at``-th message on it is unreachable (an outage, as SmtpEmail raises one)."""

    name = "email"

    def __init__(self, fail_at: int | None = None) -> None:
        self.fail_at = fail_at
        self.accepted: list[str] = []

    async def send(self, notification_id: str, to: Recipient, message: Rendered) -> None:
        if self.fail_at is not None and len(self.accepted) + 1 >= self.fail_at:
            raise ConnectionError("smtp: connection refused")
        self.accepted.append(notification_id)


@pytest.fixture
async def mongo(stack: StackUnderTest) -> AsyncIterator[tuple[Any, Commands]]:
    commands = Commands()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        Settings().mongo_url, tz_aware=True, event_listeners=[commands]
    )
    db = client[f"notification_batches_{uuid.uuid4().hex[:8]}"]
    await store.ensure_indexes(db)
    for n in range(PEOPLE):
        await store.remember_user(db, f"u-{n}", f"person{n}@example.com", f"Person {n}")
        await store.remember_wallet(db, f"w-{n}", f"u-{n}")
    yield db, commands
    await client.drop_database(db.name)
    await client.close()


@pytest.fixture
async def producer(stack: StackUnderTest) -> AsyncIterator[AIOKafkaProducer]:
    producer = make_producer(Settings().kafka_bootstrap, "notification-batch-tests")
    await producer.start()
    yield producer
    await producer.stop()


def _notifier(producer: AIOKafkaProducer, email: Mailer) -> Notifier:
    s = NotificationSettings(service_name="notification-batch-tests")
    tokens = ServiceTokens(s.user_svc_url, "tests", SecretStr("unused"))  # all projected
    channels: dict[str, Channel] = {
        "email": email,
        "sms": SimulatedProvider("sms", 0),
        "push": SimulatedProvider("push", 0),
    }
    links = UserSvcLinks(s.user_svc_url, tokens, s.web_url)
    recipients = Recipients(s.user_svc_url, s.wallet_svc_url, tokens)
    return Notifier(s, channels, links, recipients, producer)


def _batch(notifier: Notifier, transfers: int) -> list[Tracked[Incoming | None]]:
    """``transfers`` completions between the projected people's wallets, as consumed."""
    batch = []
    for i in range(transfers):
        event = TransferCompleted(transaction_id=str(uuid.uuid4()),
                                  from_wallet_id=f"w-{i % PEOPLE}",
                                  to_wallet_id=f"w-{(i + 1) % PEOPLE}", amount=100 + i,
                                  currency="EUR")  # fmt: skip
        envelope = Envelope.of(event, key=event.transaction_id, producer="tests")
        record = ConsumerRecord(topic=TRANSACTION_EVENTS, partition=0, offset=i, timestamp=0,
                                timestamp_type=0, key=None, value=envelope.to_bytes(),
                                checksum=None, serialized_key_size=0, serialized_value_size=0,
                                headers=[("type", b"TransferCompleted")])  # fmt: skip
        batch.append(Tracked(record, notifier.decode(record)))
    return batch


def _event_ids(batch: list[Tracked[Incoming | None]]) -> set[str]:
    return {t.value.envelope.event_id for t in batch if t.value is not None}


async def test_a_batch_reads_its_people_once_and_writes_a_few_inserts(
    mongo: tuple[Any, Commands], producer: AIOKafkaProducer
) -> None:
    db, commands = mongo
    # given a batch of 40 transfers: 160 notifications (each side by email and push)
    email = Mailer()
    notifier = _notifier(producer, email)
    batch = _batch(notifier, 40)
    # when the notifier applies it
    commands.on = True
    await notifier.apply(batch, db)
    commands.on = False
    # then every notification is stored sent, and each mail went out once
    docs = await store.with_outcomes(db, await db[store.NOTIFICATIONS].find({}).to_list())
    assert len(docs) == 160 and {d["status"] for d in docs} == {store.SENT}
    assert sorted(email.accepted) == sorted(d["_id"] for d in docs if d["channel"] == "email")
    # and the batch cost one read each of the wallets, people and preferences, one insert
    # of the claims, one of the published marks, and its outcomes 32 at a time
    assert commands.names == {"find": 3, "insert": 2 + 160 // WRITE_EVERY}
    # and a second batch asks nothing more about the same people (remembered)
    commands.names.clear()
    commands.on = True
    await notifier.apply(_batch(notifier, 4), db)
    commands.on = False
    assert commands.names == {"find": 1, "insert": 3}  # preferences may change: read again


async def test_a_batch_redelivered_after_an_outage_mid_batch_sends_each_once(
    mongo: tuple[Any, Commands], producer: AIOKafkaProducer
) -> None:
    db, _ = mongo
    # given a batch of 20 transfers (40 mails) whose mail server goes away at the 15th
    broken = Mailer(fail_at=15)
    batch = _batch(_notifier(producer, broken), 20)
    # when the notifier applies it, fails, and the runtime applies it again
    with pytest.raises(ConnectionError):
        await _notifier(producer, broken).apply(batch, db)
    healthy = Mailer()
    await _notifier(producer, healthy).apply(batch, db)
    # then each mail went out once in all: the 14 accepted were settled, not sent again
    assert len(broken.accepted) == 14
    mailed = broken.accepted + healthy.accepted
    assert len(mailed) == len(set(mailed)) == 40
    docs = await store.with_outcomes(db, await db[store.NOTIFICATIONS].find({}).to_list())
    assert len(docs) == 80 and {d["status"] for d in docs} == {store.SENT}
    # and each outcome was published once
    ours = _event_ids(batch)
    published = await read_topic(
        Settings().kafka_bootstrap, NOTIFICATION_EVENTS,
        lambda e: e.payload["cause_event_id"] in ours,
    )  # fmt: skip
    ids = [e.payload["notification_id"] for e in published]
    assert len(ids) == len(set(ids)) == 80
    # and applied once more, it sends and publishes nothing
    again = Mailer()
    await _notifier(producer, again).apply(batch, db)
    assert again.accepted == []
    later = await read_topic(
        Settings().kafka_bootstrap, NOTIFICATION_EVENTS,
        lambda e: e.payload["cause_event_id"] in ours,
    )  # fmt: skip
    assert len(later) == 80


async def test_outcomes_are_written_at_most_write_every_at_a_time(
    mongo: tuple[Any, Commands],
) -> None:
    db, commands = mongo
    # given 10 claimed notifications and a writer of 4 at a time
    key = {"kind": "transfer_sent", "channel": "push", "user_id": "u-0"}
    fields = {"category": "transfers", "title": "t"}
    claims = [({"event_id": f"e-{n}", **key}, fields) for n in range(10)]
    docs = await store.claim_many(db, claims)
    outcomes = Outcomes(db, len(docs), every=4)
    # when every delivery ends
    commands.on = True
    settled = await asyncio.gather(
        *(outcomes.settle(doc, store.outcome(doc, store.SENT, 1)) for doc in docs)
    )
    commands.on = False
    # then they were written in three inserts (4, 4, and the last 2 when the batch ended)
    assert commands.names == {"insert": 3} and outcomes.writes == 3
    assert [d["status"] for d in settled] == [store.SENT] * 10
    stored = await store.with_outcomes(db, docs)
    assert [d["status"] for d in stored] == [store.SENT] * 10


async def test_each_person_of_a_batch_is_told_on_their_own_channels(
    mongo: tuple[Any, Commands], producer: AIOKafkaProducer
) -> None:
    db, _ = mongo
    # given one person who wants SMS and no push, and the others on the defaults
    await store.save_switches(db, "u-1", {"transfers": {"sms": True, "push": False}})
    notifier = _notifier(producer, Mailer())
    # when a batch of transfers among them all is applied
    await notifier.apply(_batch(notifier, PEOPLE), db)
    # then that person is told by email and SMS, the others by email and push
    channels: dict[str, set[str]] = {}
    async for doc in db[store.NOTIFICATIONS].find({}):
        channels.setdefault(doc["user_id"], set()).add(doc["channel"])
    assert channels.pop("u-1") == {"email", "sms"}
    assert set(channels) == {f"u-{n}" for n in range(PEOPLE) if n != 1}
    assert all(mine == {"email", "push"} for mine in channels.values())
