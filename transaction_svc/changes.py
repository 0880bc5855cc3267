"""Publishing an admin's change (of fees, limits, exchange rates) on ``transaction-events``.

Called inside the database transaction that makes the change, before its commit: the
event is sent and acknowledged first, so a change that could not be published is not
made (503 ``event_log_unavailable``) and the audit log misses none.
"""

from __future__ import annotations

from aiokafka.errors import KafkaError
from fastapi import Request

from common.errors import Problem
from common.kafka.producer import send_envelopes
from common.topics import TRANSACTION_EVENTS
from contracts.envelope import Envelope
from contracts.message import Message
from transaction_svc.deps import TransactionApp
from transaction_svc.outbound import PRODUCER


async def publish_change(app: TransactionApp, request: Request, change: Message, key: str) -> None:
    """Send ``change`` (keyed by what changed) and wait for Kafka's acknowledgement."""
    envelope = Envelope.of(
        change, producer=PRODUCER, key=key, correlation_id=request.state.correlation_id
    )
    try:
        await send_envelopes(
            app.producer, [(TRANSACTION_EVENTS, envelope)], request.state.traceparent
        )
    except KafkaError:
        raise Problem(503, "event_log_unavailable", "the change cannot be published") from None
