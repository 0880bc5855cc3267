"""Starting a saga: what the command API does once a money request is accepted.

The saga's first step needs nothing but the request, so the command API takes it
itself: the pending transaction is stored with the saga's first state, and the request
(``TransferRequested``, ``DepositRequested``, ... on ``transaction-events``, for
subscribers), the saga's first command (a transfer's, payment's or refund's debit on
``wallet-commands``, a deposit's charge on ``provider-commands``, a withdrawal's hold) and
its first payment event (a deposit, withdrawal, payment or refund initiated, on
``payment-events``) are
appended together. The saga worker then only reacts to the decider's answers: one
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
from common.topics import PROVIDER_COMMANDS, TRANSACTION_EVENTS, WALLET_COMMANDS
from contracts.envelope import Envelope
from contracts.ids import deterministic_id
from contracts.transaction import DepositRequested, TransferRequested, WithdrawalRequested
from transaction_svc.domain.merchant import merchant_request
from transaction_svc.domain.saga import MERCHANT, Request, react
from transaction_svc.domain.state import SagaState, saga_to_dict
from transaction_svc.outbound import PRODUCER, outbound
from transaction_svc.status import PENDING

COMMAND_TOPICS = frozenset({WALLET_COMMANDS, PROVIDER_COMMANDS})


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


def request_of(state: SagaState) -> Request:
    """The request a saga's first state was started from (to append it again). Every
    saga the command API starts has a deadline; one without is treated as expired."""
    if state.kind in MERCHANT:
        return merchant_request(state)
    common: dict[str, Any] = {
        "transaction_id": state.transaction_id,
        "amount": state.amount,
        "currency": state.currency,
        "deadline": state.deadline or 0,
    }
    if state.kind == "deposit":
        return DepositRequested(
            **common,
            wallet_id=state.to_wallet_id,
            provider=state.provider,
            payment_method_id=state.method_id,
            owner_id=state.owner_id,
            fee=state.fee,
        )
    if state.kind == "withdrawal":
        return WithdrawalRequested(
            **common,
            wallet_id=state.from_wallet_id,
            provider=state.provider,
            payout_method_id=state.method_id,
            owner_id=state.owner_id,
            fee=state.fee,
        )
    return TransferRequested(
        **common,
        from_wallet_id=state.from_wallet_id,
        to_wallet_id=state.to_wallet_id,
        fee=state.fee,
        quote_id=state.quote_id,
        to_currency=state.to_currency,
        to_amount=state.to_amount,
    )


def start(request: Request, now: datetime, correlation_id: str | None) -> Start:
    state, commands, events = react(None, request, now)
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
    messages += [outbound(m, correlation_id, envelope.event_id) for m in [*events, *commands]]
    return Start(state, saga_to_dict(state), messages)


async def append(producer: AIOKafkaProducer, start: Start, traceparent: str | None) -> None:
    """Send the request and the first events, then, once they are acknowledged, the first
    command; return once it is acknowledged too. Events first: whatever the command
    causes (the saga's next events on the same public topics and keys) comes after them
    in their partitions, even when a send is retried."""
    await append_many(producer, [start], traceparent)


async def append_many(
    producer: AIOKafkaProducer, starts: list[Start], traceparent: str | None
) -> None:
    """``append`` for many sagas at once (a batch of transfers): every request and first
    event handed to the producer, then their acknowledgements awaited together, then
    every first command the same way."""
    messages = [m for s in starts for m in s.messages]
    events = [(t, e) for t, e in messages if t not in COMMAND_TOPICS]
    commands = [(t, e) for t, e in messages if t in COMMAND_TOPICS]
    await send_envelopes(producer, events, traceparent)
    await send_envelopes(producer, commands, traceparent)
