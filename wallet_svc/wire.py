"""How wallet commands and events travel on Kafka: inside the common envelope.

- ``wallet-commands``: type = command class name, key = wallet_id,
  payload = ``command_to_dict(command)``.
- ``wallet-events``: type = event class name (also in the ``type`` header, with
  ``chained`` on a debit whose continuation was appended), key = wallet_id,
  payload = ``event_to_dict(event)``; the event id is derived from the command id and
  the event's position in the decision, so a re-decided command (after a crash before
  the Kafka transaction committed) yields byte-identical ids and consumers can dedupe.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from common.envelope import Envelope
from common.ids import deterministic_id
from common.kafka.producer import make_producer, send_envelopes
from common.topics import WALLET_COMMANDS
from wallet_svc.domain import (
    WalletCommand,
    WalletEvent,
    command_from_dict,
    command_to_dict,
    event_from_dict,
    event_to_dict,
)

PRODUCER = "wallet_svc"
# Kafka header on a WalletDebited whose command's continuation (``DebitWallet.then``) the
# decider appended in the same transaction: the saga need not react to it.
CHAINED = "chained"


def command_envelope(
    command: WalletCommand,
    producer: str,
    correlation_id: str | None = None,
    causation_id: str | None = None,
) -> Envelope:
    return Envelope(
        event_id=deterministic_id("command", command.command_id),
        type=type(command).__name__,
        producer=producer,
        key=command.wallet_id,
        correlation_id=correlation_id,
        causation_id=causation_id,
        payload=command_to_dict(command),
    )


def event_envelopes(
    events: list[WalletEvent], cause: Envelope, occurred_at: datetime
) -> list[Envelope]:
    """The envelopes of one decision, ids derived from the command and position."""
    return [
        Envelope.model_construct(
            event_id=deterministic_id("event", cause.event_id, str(i)),
            type=type(event).__name__,
            schema_version=1,
            occurred_at=occurred_at,
            producer=PRODUCER,
            key=event.wallet_id,
            correlation_id=cause.correlation_id or cause.event_id,
            causation_id=cause.event_id,
            payload=event_to_dict(event),
        )
        for i, event in enumerate(events)
    ]


def decode_command(envelope: Envelope) -> WalletCommand:
    return command_from_dict(envelope.payload)


def decode_event(envelope: Envelope) -> WalletEvent:
    return event_from_dict(envelope.payload)


async def send_commands(bootstrap: str, commands: Iterable[WalletCommand], source: str) -> None:
    """Append ``commands`` to ``wallet-commands`` with a one-off idempotent producer and
    wait for every acknowledgement (operators' scripts and tests; services keep theirs)."""
    producer = make_producer(bootstrap, source)
    await producer.start()
    try:
        await send_envelopes(
            producer, [(WALLET_COMMANDS, command_envelope(c, source)) for c in commands]
        )
    finally:
        await producer.stop()
