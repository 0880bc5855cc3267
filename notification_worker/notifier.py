"""The notifier: the tracked consumer's batch handler that turns events into
notifications and delivers them.

Per batch: projections first (``UserRegistered`` -> who a user is, ``WalletOpened`` ->
who owns a wallet; a miss is asked of its owner service, ``recipients``), then each
event's intents (``catalogue``; one per event, kind and recipient, so an event
redelivered within the batch is made once), each on the channels the recipient's
preferences allow; the batch's recipients and preferences are read once for all of it.
Its deliveries are claimed together, in one insert under the unique index on (event,
kind, channel, user), then made up to ``CONCURRENCY`` at a time, each tried up to
``delivery_attempts`` times with exponential backoff and settled as sent or failed (the
outcomes written ``outcomes.WRITE_EVERY`` to an insert); then the outcomes are published
on ``notification-events`` (once: a published mark, and an event id derived from the
notification). A redelivered event finds its notifications settled and sends nothing
again. Each step is an insert (``store``: claims, outcomes, published marks), so what a
notification costs FerretDB does not grow with the history, and a few commands serve a
whole batch.

A delivery the provider kept refusing fails the batch after everything else in it was
done: the runtime retries (settled deliveries are skipped), splits the batch, and
dead-letters the event whose delivery failed. A lost connection (SMTP, user_svc, Mongo,
Kafka) is an outage: the outcomes of what ended are written and published, the runtime
retries until it passes, and the delivery stays pending. Only a crash between a
provider's acceptance and the write of the outcome can send a message twice: at most the
deliveries of the batch whose outcomes were still waiting for their write
(``outcomes``); the mail's Message-ID is the same both times.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer, ConsumerRecord
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from common.kafka.headers import message_type, traceparent_of
from common.kafka.mongo_offsets import MongoDocument
from common.kafka.producer import queue_envelope
from common.kafka.tracked import AfterCommit, Tracked
from common.metrics import NOTIFICATIONS
from common.topics import (
    NOTIFICATION_EVENTS,
    PAYMENT_EVENTS,
    TRANSACTION_EVENTS,
    USER_EVENTS,
    WALLET_EVENTS,
)
from contracts.envelope import Envelope
from contracts.notification import NotificationFailed, NotificationSent
from contracts.payment import decode_payment_event
from contracts.transaction import decode_transaction_event
from contracts.user import UserRegistered, decode_user_event
from contracts.wallet.events import WalletOpened, decode_event
from notification_worker import store
from notification_worker.catalogue import Intent, intents
from notification_worker.channels import Channel, ProviderRefused, Recipient
from notification_worker.links import LinkUnavailable, UserSvcLinks
from notification_worker.outcomes import Outcomes
from notification_worker.preferences import channels_for
from notification_worker.recipients import Recipients
from notification_worker.render import channels_of, render, subject
from notification_worker.settings import NotificationSettings

log = logging.getLogger("paystream.notifier")

# the message types the worker reads (others are skipped by their header, unparsed)
WANTED: dict[str, frozenset[str]] = {
    USER_EVENTS: frozenset(
        {"UserRegistered", "EmailVerificationRequested", "PasswordResetRequested",
         "PasswordChanged"}
    ),
    WALLET_EVENTS: frozenset({"WalletOpened"}),
    TRANSACTION_EVENTS: frozenset(
        {"TransferCompleted", "TransferFailed", "TransferReversed", "TransferReversalFailed",
         "DepositCompleted", "DepositFailed", "WithdrawalCompleted", "WithdrawalFailed",
         "WithdrawalDebitFailed", "ScheduledRunFailed", "SchedulePaused"}
    ),
    PAYMENT_EVENTS: frozenset({"PaymentCompleted", "PaymentFailed", "RefundCompleted"}),
}  # fmt: skip
DECODERS = {
    USER_EVENTS: decode_user_event,
    WALLET_EVENTS: decode_event,
    TRANSACTION_EVENTS: decode_transaction_event,
    PAYMENT_EVENTS: decode_payment_event,
}
# versions that are read and let pass: a v1 verification request carried its token on
# Kafka (the design this replaced); its link is not mailed
CONCURRENCY = 16  # notifications of one batch made at once (Mongo round trips overlap)
PASSED_OVER = frozenset({("EmailVerificationRequested", 1)})
OUTCOME_IDS = uuid.UUID("6f1d2a4e-0c57-4a8e-9a43-5b0e7c2d9f10")  # namespace of event ids


@dataclass(frozen=True, slots=True)
class Incoming:
    topic: str
    envelope: Envelope
    event: Any
    traceparent: str | None


@dataclass(frozen=True, slots=True)
class Delivery:
    """One notification of a batch: what it tells whom on which channel, its claim."""

    item: Incoming
    intent: Intent
    channel: str
    to: Recipient
    context: dict[str, Any]
    key: dict[str, str]  # the claim's unique key (store.KEY)
    fields: dict[str, Any]  # the claim's other fields


class DeliveryFailed(Exception):
    """A provider kept refusing a delivery: the event goes to the DLQ."""


class Notifier:
    """``common.kafka.tracked.BatchHandler`` of notification_worker (unit: the Mongo db)."""

    def __init__(
        self,
        settings: NotificationSettings,
        channels: Mapping[str, Channel],
        links: UserSvcLinks,
        recipients: Recipients,
        producer: AIOKafkaProducer,
    ) -> None:
        self.settings = settings
        self.channels = channels
        self.links = links
        self.recipients = recipients
        self.producer = producer
        self._slots = asyncio.Semaphore(CONCURRENCY)

    def decode(self, record: ConsumerRecord[bytes, bytes]) -> Incoming | None:
        if message_type(record.headers) not in WANTED.get(record.topic, frozenset()):
            return None
        envelope = Envelope.from_bytes(record.value or b"")
        if (envelope.type, envelope.schema_version) in PASSED_OVER:
            return None
        event = DECODERS[record.topic](envelope.payload)
        return Incoming(record.topic, envelope, event, traceparent_of(record.headers))

    async def apply(
        self, batch: Sequence[Tracked[Incoming | None]], unit: store.Db
    ) -> AfterCommit | None:
        incoming = [t.value for t in batch if t.value is not None]
        for item in incoming:
            await self._project(unit, item.event)
        # One notification per (event, kind, recipient) of the batch: a redelivered event
        # in the same batch is made once (its claims would meet in one insert).
        todo: dict[tuple[str, str, str | None, str | None], tuple[Incoming, Intent]] = {}
        for item in incoming:
            for intent in intents(item.topic, item.event):
                key = (item.envelope.event_id, intent.kind, intent.user_id, intent.wallet_id)
                todo.setdefault(key, (item, intent))
        deliveries = await self._planned(unit, list(todo.values()))
        docs = await store.claim_many(unit, [(d.key, d.fields) for d in deliveries])
        # the pending ones delivered concurrently (no order among them), their outcomes
        # written a few at a time (``outcomes``); an outage leaves its delivery pending
        # and fails the batch once the others ended and what was settled is published
        pending = [i for i, doc in enumerate(docs) if doc["status"] == store.PENDING]
        outcomes = Outcomes(unit, len(pending))
        ended = await asyncio.gather(
            *(self._bounded(outcomes, docs[i], deliveries[i]) for i in pending),
            return_exceptions=True,
        )
        outage: BaseException | None = None
        for i, result in zip(pending, ended, strict=True):
            if isinstance(result, BaseException):
                outage = outage or result
            else:
                docs[i] = result
        settled = [(doc, d) for doc, d in zip(docs, deliveries, strict=True)
                   if doc["status"] != store.PENDING]  # fmt: skip
        await self._publish(unit, [(doc, d.item) for doc, d in settled if not doc["published"]])
        if outage is not None:
            raise outage
        failed = [f"{d.intent.kind} by {d.channel}: {doc.get('error')}"
                  for doc, d in settled if doc.get("dead_letter")]  # fmt: skip
        if failed:
            raise DeliveryFailed("; ".join(failed))
        return None

    async def _project(self, db: store.Db, event: Any) -> None:
        if isinstance(event, UserRegistered):
            await store.remember_user(db, event.user_id, event.email, event.full_name)
        elif isinstance(event, WalletOpened):
            await store.remember_wallet(db, event.wallet_id, event.owner_id)

    async def _planned(
        self, db: store.Db, todo: Sequence[tuple[Incoming, Intent]]
    ) -> list[Delivery]:
        """Each notification of ``todo`` on each channel its recipient's preferences allow;
        the recipients and their preferences read once for the whole batch."""
        owners = await self.recipients.owners_of(
            db, {n.wallet_id for _, n in todo if n.user_id is None and n.wallet_id is not None}
        )
        user_ids = [n.user_id or owners.get(n.wallet_id or "") for _, n in todo]
        contacts = await self.recipients.contacts(db, {u for u in user_ids if u})
        stored = await store.stored_preferences_of(db, contacts.keys())
        planned: dict[tuple[str, ...], Delivery] = {}
        for (item, intent), user_id in zip(todo, user_ids, strict=True):
            to = contacts.get(user_id) if user_id else None
            if user_id is None or to is None:  # its owner service does not know it either
                extra = {"kind": intent.kind, "event_id": item.envelope.event_id}
                log.warning("recipient unknown; notification skipped", extra=extra)
                continue
            context = {**intent.context, "full_name": to.full_name, "email": to.email,
                       "category": intent.category}  # fmt: skip
            title = subject(intent.kind, {**context, "link": ""})
            for channel in channels_for(intent.category, stored.get(user_id)):
                if channel not in channels_of(intent.kind):
                    continue
                key = {"event_id": item.envelope.event_id, "kind": intent.kind,
                       "channel": channel, "user_id": user_id}  # fmt: skip
                fields = {"category": intent.category, "title": title}
                delivery = Delivery(item, intent, channel, to, context, key, fields)
                planned.setdefault(tuple(key.values()), delivery)  # one claim per key
        return list(planned.values())

    async def _bounded(
        self, outcomes: Outcomes, doc: MongoDocument, delivery: Delivery
    ) -> MongoDocument:
        """Deliver ``doc`` (pending) within the batch's bound; ``doc`` settled."""
        try:
            async with self._slots:
                outcome = await self._deliver(doc, delivery)
        except BaseException:
            await outcomes.left_pending()
            raise
        return await outcomes.settle(doc, outcome)

    async def _deliver(self, doc: MongoDocument, d: Delivery) -> MongoDocument:
        """Send ``doc`` on its channel, retrying refusals; how it ended (``store.outcome``)."""
        intent, channel, context = d.intent, d.channel, d.context
        if intent.link_request is not None:
            try:
                context = {**context, "link": await self.links.link(intent.link_request)}
            except LinkUnavailable:
                NOTIFICATIONS.labels(channel, intent.kind, "link_unavailable").inc()
                return store.outcome(doc, store.FAILED, 0, "link_unavailable")
        message = render(intent.kind, channel, context)
        tries = 0
        try:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception_type(ProviderRefused),
                stop=stop_after_attempt(self.settings.delivery_attempts),
                wait=wait_exponential(multiplier=self.settings.delivery_backoff_s, max=5),
                reraise=True,
            ):
                with attempt:
                    tries += 1
                    await self.channels[channel].send(doc["_id"], d.to, message)
        except ProviderRefused as exc:
            log.warning("delivery failed", extra={"notification_id": doc["_id"],
                        "channel": channel, "attempts": tries, "error": str(exc)})  # fmt: skip
            NOTIFICATIONS.labels(channel, intent.kind, "failed").inc()
            return store.outcome(doc, store.FAILED, tries, str(exc), dead_letter=True)
        NOTIFICATIONS.labels(channel, intent.kind, "sent").inc()
        return store.outcome(doc, store.SENT, tries)

    async def _publish(
        self, db: store.Db, settled: Sequence[tuple[MongoDocument, Incoming]]
    ) -> None:
        """Put the outcomes of ``settled`` on ``notification-events`` (every send awaited
        together), then mark them published in one insert."""
        if not settled:
            return
        sent = [await queue_envelope(self.producer, NOTIFICATION_EVENTS,
                                     self._envelope(doc, item), item.traceparent)
                for doc, item in settled]  # fmt: skip
        await asyncio.gather(*sent)
        await store.mark_published(db, [doc["_id"] for doc, _ in settled])

    def _envelope(self, doc: MongoDocument, item: Incoming) -> Envelope:
        common = {"notification_id": doc["_id"], "user_id": doc["user_id"], "kind": doc["kind"],
                  "category": doc["category"], "channel": doc["channel"],
                  "cause_event_id": doc["event_id"]}  # fmt: skip
        message = (
            NotificationSent(**common)
            if doc["status"] == store.SENT
            else NotificationFailed(**common, reason=str(doc.get("error")))
        )
        return Envelope.of(
            message, key=doc["user_id"], producer=self.settings.service_name,
            event_id=str(uuid.uuid5(OUTCOME_IDS, f"{doc['_id']}:{doc['status']}")),
            correlation_id=item.envelope.correlation_id or item.envelope.event_id,
            causation_id=item.envelope.event_id,
        )  # fmt: skip
