"""Where each message a saga makes goes, in which envelope.

Every id is derived (a wallet command's from its command id, a provider command's from its
command id, an event's from its transaction and type), so a replayed reaction sends the
same messages again and every receiver sees a duplicate, never a second effect.
"""

from __future__ import annotations

from contracts.envelope import Envelope
from contracts.ids import deterministic_id
from contracts.payment import ChargeRefunded, PaymentEvent, RefundEvent
from contracts.provider import ProviderCommand
from contracts.topics import (
    PAYMENT_EVENTS,
    PROVIDER_COMMANDS,
    TRANSACTION_EVENTS,
    WALLET_COMMANDS,
)
from contracts.wallet import WalletCommand, command_envelope
from transaction_svc.domain.steps import SagaCommand, SagaEvent

PRODUCER = "transaction_svc"


def outbound(
    message: SagaCommand | SagaEvent, correlation_id: str | None, causation_id: str | None
) -> tuple[str, Envelope]:
    """(topic, envelope) of a saga's command or event."""
    if isinstance(message, PaymentEvent):
        return PAYMENT_EVENTS, payment_envelope(message, correlation_id, causation_id)
    if isinstance(message, ProviderCommand):
        envelope = Envelope.of(
            message,
            event_id=deterministic_id("provider-command", message.command_id),
            producer=PRODUCER,
            key=message.transaction_id,
            correlation_id=correlation_id,
            causation_id=causation_id,
        )
        return PROVIDER_COMMANDS, envelope
    if isinstance(message, WalletCommand):
        return WALLET_COMMANDS, command_envelope(message, PRODUCER, correlation_id, causation_id)
    tx = message.transaction_id
    envelope = Envelope.of(
        message,
        event_id=deterministic_id("transaction-event", tx, type(message).__name__),
        producer=PRODUCER,
        key=tx,
        correlation_id=correlation_id,
        causation_id=causation_id,
    )
    return TRANSACTION_EVENTS, envelope


def payment_envelope(
    event: PaymentEvent, correlation_id: str | None, causation_id: str | None
) -> Envelope:
    """A payment event, keyed by its payment; its id derived from the payment and type
    (each type happens once in a payment's life), and a refund's from its refund too (a
    payment may have several)."""
    parts = [event.payment_id, type(event).__name__]
    if isinstance(event, RefundEvent):
        parts.append(event.refund_id)
    elif isinstance(event, ChargeRefunded) and event.transaction_id:  # a card refund's
        parts.append(event.transaction_id)
    return Envelope.of(
        event,
        event_id=deterministic_id("payment-event", *parts),
        producer=PRODUCER,
        key=event.payment_id,
        correlation_id=correlation_id,
        causation_id=causation_id,
    )
