"""One poll's commands of a ``wallet-commands`` partition, decided in memory: what its
Kafka transaction sends and the wallet states it leaves once committed.

Commands are decided in their log order. An accepted debit's continuation
(``DebitWallet.then``, a transfer's credit) is the next leg of the same movement:

- when its wallet's commands go to this same partition, this decider is the one that
  would read it back, so it is decided here at once, right after its debit, and only its
  events are sent. Appending it to ``wallet-commands`` and reading it back would add a
  Kafka hop (a transaction's commit, a fetch, another transaction) to the transfer and
  nothing else. It is decided as if it had been appended right after its debit, ahead of
  any command already waiting for its wallet (a credit need not wait behind them): each
  wallet's commands are still decided by one writer, one at a time, against its state
  and the clock, and recorded in that order in ``wallet-events``, from which the states
  are rebuilt (never from the commands);
- otherwise it is appended to ``wallet-commands`` in the same transaction, for the
  partition's own decider.

Either way the second leg exists exactly when the first one committed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from aiokafka import ConsumerRecord

from common.kafka.consumer import record_context
from common.kafka.headers import Headers, dead_letter_headers, message_headers, traceparent_of
from common.metrics import DECISIONS
from common.topics import WALLET_COMMANDS, WALLET_EVENTS, dlq
from contracts.envelope import Envelope
from contracts.wallet import WalletCommand, command_envelope, decode_command
from wallet_svc.domain import WalletState, continuation, decide, evolve
from wallet_svc.wire import PRODUCER, event_envelopes

log = logging.getLogger("paystream.decider")

States = dict[str, WalletState]
Outgoing = tuple[str, bytes, bytes, Headers]  # topic, value, key, headers


@dataclass(slots=True)
class DecidedBatch:
    """What deciding a batch gives: the messages its transaction sends, in order, and the
    states of the wallets it changed (to keep only once that transaction committed)."""

    outgoing: list[Outgoing] = field(default_factory=list)
    working: States = field(default_factory=dict)


def _record(topic: str, envelope: Envelope, headers: Headers) -> Outgoing:
    """What the transaction sends for ``envelope``: keyed by its key, with its headers."""
    return (topic, envelope.to_bytes(), envelope.key.encode(), headers)


def decide_records(
    records: list[ConsumerRecord[bytes, bytes]],
    known: States,
    now: datetime,
    decided_here: Callable[[str], bool],
    group: str,
) -> DecidedBatch:
    """Decide ``records`` over the committed states ``known`` (left unchanged);
    ``decided_here(wallet_id)``: whether that wallet's commands come to this partition,
    so a continuation for it is decided in this batch. A record that cannot be read is
    dead-lettered, so it never stalls the partition."""
    batch = DecidedBatch()
    for record in records:
        traceparent = traceparent_of(record.headers)
        try:
            cause = Envelope.from_bytes(record.value)
            command = decode_command(cause.payload)
        except Exception as exc:
            log.error("undecodable command dead-lettered", extra=record_context([record], exc))
            headers = dead_letter_headers(
                record.headers, exc, record.topic, record.partition, record.offset, group
            )
            batch.outgoing.append((dlq(WALLET_COMMANDS), record.value, record.key, headers))
            DECISIONS.labels("dead_lettered", "").inc()
            continue
        next_leg: tuple[Envelope, WalletCommand] | None = (cause, command)
        while next_leg is not None:
            next_leg = _decide_one(batch, known, now, *next_leg, traceparent, decided_here)
    return batch


def _decide_one(
    batch: DecidedBatch,
    known: States,
    now: datetime,
    cause: Envelope,
    command: WalletCommand,
    traceparent: str | None,
    decided_here: Callable[[str], bool],
) -> tuple[Envelope, WalletCommand] | None:
    """Decide one command into ``batch``; returns its continuation when it is to be
    decided here too, having appended it to ``wallet-commands`` otherwise."""
    wallet_id = command.wallet_id
    state = batch.working.get(wallet_id) or known.get(wallet_id)
    events = decide(state, command, now)
    if not events:
        DECISIONS.labels("duplicate", "").inc()
        return None
    state = state or WalletState()
    for event in events:
        state = evolve(state, event)
    batch.working[wallet_id] = state
    decided = events[-1]
    DECISIONS.labels(type(decided).__name__, getattr(decided, "reason", "")).inc()
    then = continuation(command, events)
    for envelope in event_envelopes(events, cause, now):
        headers = message_headers(envelope, traceparent, chained=then is not None)
        batch.outgoing.append(_record(WALLET_EVENTS, envelope, headers))
    if then is None:
        return None
    env = command_envelope(then, PRODUCER, cause.correlation_id, cause.event_id)
    if decided_here(then.wallet_id):
        return env, then
    batch.outgoing.append(_record(WALLET_COMMANDS, env, message_headers(env, traceparent)))
    return None
