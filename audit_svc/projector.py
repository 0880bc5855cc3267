"""The audit projector: every event of the recorded topics -> one record of the audit log.

It runs inside audit_svc on the tracked consumer (``common.kafka.tracked``) with its
offsets in Mongo (``common.kafka.mongo_offsets``, collection ``audit_offsets``): a
batch's records are appended first (``MongoAuditLog.append``: idempotent by
``event_id``), its offsets after. A record that is not an envelope is dead-lettered.
It is the one writer of the chain: run one audit_svc.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer, ConsumerRecord
from pymongo.asynchronous.database import AsyncDatabase

from audit_svc.records import record_of
from audit_svc.store import OFFSETS, MongoAuditLog
from common.kafka.mongo_offsets import MongoDocument, MongoOffsets
from common.kafka.tracked import AfterCommit, Tracked, TrackedConsumer
from common.settings import Settings
from common.topics import (
    AUDIT_EVENTS,
    PAYMENT_EVENTS,
    TRANSACTION_EVENTS,
    USER_EVENTS,
    WALLET_EVENTS,
)
from contracts.envelope import Envelope

log = logging.getLogger("paystream.audit_projector")

GROUP = "audit-projector"
RECORDED = (USER_EVENTS, WALLET_EVENTS, TRANSACTION_EVENTS, PAYMENT_EVENTS, AUDIT_EVENTS)
BATCH_MAX = 2000


class AuditProjector:
    """The batch handler (``common.kafka.tracked.BatchHandler``) of the audit log (in the
    database of the units: ``MongoOffsets`` and the log share it)."""

    def __init__(self, log: MongoAuditLog) -> None:
        self.log = log  # one instance: it keeps the head between batches

    def decode(self, record: ConsumerRecord[bytes, bytes]) -> dict[str, Any]:
        return record_of(record.topic, Envelope.from_bytes(record.value or b""))

    async def apply(
        self, batch: Sequence[Tracked[dict[str, Any]]], unit: AsyncDatabase[MongoDocument]
    ) -> AfterCommit | None:
        await self.log.append([item.value for item in batch])
        return None


def audit_consumer(
    settings: Settings,
    db: AsyncDatabase[MongoDocument],
    dead_letters: AIOKafkaProducer,
    topics: Sequence[str] = RECORDED,
    group: str = GROUP,
) -> TrackedConsumer[dict[str, Any], AsyncDatabase[MongoDocument]]:
    """The tracked consumer that feeds the audit log of ``db`` (not started)."""
    return TrackedConsumer.of_group(
        settings,
        group,
        topics,
        AuditProjector(MongoAuditLog(db)),
        MongoOffsets(db[OFFSETS], group),
        dead_letters,
        batch_max=BATCH_MAX,
    )
