"""Starting a saga: what the command API does once a money request is accepted.

The saga's first step needs nothing but the request, so the command API takes it
itself: the pending transaction is stored with the saga's first state, and the request
(``TransferRequested``/``DepositRequested`` on ``transaction-events``, for subscribers)
and the saga's first command (the debit, or a deposit's credit, on ``wallet-commands``)
are appended together. The saga worker then only reacts to the decider's answers: one
Kafka hop and one saga database transaction fewer per transfer than a worker that
started sagas from ``transaction-events``.

Appending again is always safe: the command id is derived from the transaction, so the
decider ignores a duplicate, and the request's event id is derived too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

from common.kafka.producer import send_envelopes
from common.topics import TRANSACTION_EVENTS, WALLET_COMMANDS
from contracts.envelope import Envelope
from contracts.ids import deterministic_id
from contracts.transaction import DepositRequested, TransferRequested
from contracts.wallet import command_envelope
from transaction_svc.domain.saga import react
from transaction_svc.domain.state import SagaState, saga_to_dict
from transaction_svc.status import PENDING

PRODUCER = "transaction_svc"


@dataclass(frozen=True, slots=True)
class Start:
    """A saga's first state and the messages that set it going."""

    state: SagaState
    saga: dict[str, Any]  # the state as stored (saga_to_dict)
    messages: list[tuple[str, Envelope]]  # (topic, envelope)

    def columns(self) -> dict[str, Any]:
        """The transaction row's ``saga`` (JSON text) and ``status`` columns. The status
        stays ``pending`` until the saga reacts to a wallet's answer."""
        return {"saga": orjson.dumps(self.saga).decode(), "tx_status": PENDING}


def request_of(state: SagaState) -> TransferRequested | DepositRequested:
    """The request a saga's first state was started from (to append it again). Every
    saga the command API starts has a deadline; one without is treated as expired."""
    common: dict[str, Any] = {
        "transaction_id": state.transaction_id,
        "amount": state.amount,
        "currency": state.currency,
        "deadline": state.deadline or 0,
    }
    if state.kind == "deposit":
        return DepositRequested(**common, wallet_id=state.to_wallet_id, provider=state.provider)
    return TransferRequested(
        **common,
        from_wallet_id=state.from_wallet_id,
        to_wallet_id=state.to_wallet_id,
        fee=state.fee,
    )


def start(
    request: TransferRequested | DepositRequested, now: datetime, correlation_id: str | None
) -> Start:
    state, commands, _ = react(None, request, now)
    assert state is not None  # a request always starts its saga
    tx = request.transaction_id
    envelope = Envelope.of(
        request,
        event_id=deterministic_id("request", tx),
        producer=PRODUCER,
        key=tx,
        correlation_id=correlation_id,
    )
    messages = [(TRANSACTION_EVENTS, envelope)]
    for command in commands:
        cmd = command_envelope(command, PRODUCER, correlation_id, envelope.event_id)
        messages.append((WALLET_COMMANDS, cmd))
    return Start(state, saga_to_dict(state), messages)


async def append(producer: AIOKafkaProducer, start: Start, traceparent: str | None) -> None:
    """Send the request and the first command; return once both are acknowledged."""
    await send_envelopes(producer, start.messages, traceparent)
