"""How the decider's events travel on Kafka: inside the contract envelope.

- ``wallet-commands``: ``contracts.wallet.command_envelope`` (type = command class name,
  key = wallet_id).
- ``wallet-events``: type = event class name (also in the ``type`` header, with
  ``chained`` on a debit whose continuation was appended or decided with it), key =
  wallet_id; the event id is derived from the command id and the event's position in
  the decision, so a re-decided command (after a crash before the Kafka transaction
  committed) yields byte-identical ids and consumers can dedupe.
"""

from __future__ import annotations

from datetime import datetime

from contracts.envelope import Envelope
from contracts.ids import deterministic_id
from contracts.wallet import WalletEvent

PRODUCER = "wallet_svc"


def event_envelopes(
    events: list[WalletEvent], cause: Envelope, occurred_at: datetime
) -> list[Envelope]:
    """The envelopes of one decision, ids derived from the command and position."""
    return [
        Envelope.of(
            event,
            event_id=deterministic_id("event", cause.event_id, str(i)),
            occurred_at=occurred_at,
            producer=PRODUCER,
            key=event.wallet_id,
            correlation_id=cause.correlation_id or cause.event_id,
            causation_id=cause.event_id,
        )
        for i, event in enumerate(events)
    ]
