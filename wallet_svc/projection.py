"""The balance projection, pure: a batch of wallet-events -> the row sets to write.

No I/O here. ``project_batch`` turns records read through the contract
(``check_envelope``: the envelope and its typed event) into set-based row lists for the
store (``wallet_svc.store``): wallets to insert, the final status/balances of touched
wallets (the last event per wallet in the batch wins, since a partition is ordered), one
entry per money event, its postings, per-shard system-account deltas and the completion
notices to publish. Offsets are the tracked consumer's (``common.kafka.tracked``), which
hands over only records not yet applied.

Entry ``amount`` is signed from the wallet's view: the wallet's own posting for events
that move the ledger (debit, credit, capture), and the movement of ``available`` for
hold events that move no money (placed: minus, released/expired: plus).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from contracts.envelope import Envelope
from contracts.wallet import (
    EVENT_TYPES,
    CommandRejected,
    CreditRejected,
    DebitRejected,
    HoldCaptured,
    HoldExpired,
    HoldPlaced,
    HoldRejected,
    HoldReleased,
    Posting,
    WalletCredited,
    WalletDebited,
    WalletEvent,
    WalletFrozen,
    WalletOpened,
    decode_event,
)

SYSTEM_PREFIX = "system:"
# events that move a balance: each is an entry and carries the balances after it
MoneyEvent = WalletDebited | WalletCredited | HoldPlaced | HoldCaptured | HoldReleased | HoldExpired
MONEY_EVENTS = frozenset(cls.__name__ for cls in MoneyEvent.__args__)
Posted = WalletDebited | WalletCredited | HoldCaptured  # money events with postings
WithReason = WalletFrozen | DebitRejected | CreditRejected | HoldRejected | CommandRejected
STATUS_EVENTS = {"WalletFrozen": "frozen", "WalletUnfrozen": "active", "WalletClosed": "closed"}


Checked = tuple[Envelope, WalletEvent | None]  # a record read through the contract


@dataclass(frozen=True, slots=True)
class Record:
    """One consumed message: where it came from, its envelope, and its event (None for a
    type this projection does not know: it changes nothing and notifies no one)."""

    partition: int
    offset: int
    envelope: Envelope
    event: WalletEvent | None


@dataclass(slots=True)
class WalletPatch:
    """The final values a batch leaves on a wallet (None = unchanged)."""

    status: str | None = None
    ledger: int | None = None
    available: int | None = None
    updated_at: datetime | None = None


@dataclass(slots=True)
class BatchRows:
    """Everything one batch writes, ready for set-based statements."""

    opened: list[tuple[str, str, str, int, datetime]] = field(default_factory=list)
    """(wallet_id, owner_id, currency, overdraft_limit, occurred_at)"""
    patches: dict[str, WalletPatch] = field(default_factory=dict)
    entries: list[tuple[str, str, str, str, int, str, int, int, datetime, int]] = field(
        default_factory=list
    )
    """(event_id, wallet_id, transaction_id, kind, amount, currency, ledger_after,
    available_after, occurred_at, shard)"""
    postings: dict[str, list[tuple[int, str, int, str]]] = field(default_factory=dict)
    """event_id -> [(seq, account, amount, currency)]"""
    notices: list[dict[str, Any]] = field(default_factory=list)


def postings_of(event: WalletEvent) -> tuple[Posting, ...]:
    return event.postings if isinstance(event, Posted) else ()


def entry_amount(event: MoneyEvent) -> int:
    """The signed amount of a money event from the wallet's view (see module doc)."""
    account = f"wallet:{event.wallet_id}"
    own = [p.amount for p in postings_of(event) if p.account == account]
    if own:
        return sum(own)
    return -event.amount if isinstance(event, HoldPlaced) else event.amount


def project_batch(records: list[Record]) -> BatchRows:
    """The row sets of one batch (records in partition order)."""
    rows = BatchRows()
    decided = {  # command ids with a non-side-effect event in the batch
        r.event.command_id
        for r in records
        if r.event is not None and not isinstance(r.event, HoldExpired)
    }
    for r in records:
        _apply(rows, r, decided)
    return rows


def _apply(rows: BatchRows, r: Record, decided: set[str]) -> None:
    event = r.event
    if event is None:
        return  # a type this projection does not know changes no balance
    kind = type(event).__name__
    wallet_id = event.wallet_id
    at = r.envelope.occurred_at
    if not (isinstance(event, HoldExpired) and event.command_id in decided):
        reason = event.reason if isinstance(event, WithReason) else None
        rows.notices.append(
            {"key": event.command_id, "type": kind, "wallet_id": wallet_id, "reason": reason}
        )
    if isinstance(event, WalletOpened):
        rows.opened.append((wallet_id, event.owner_id, event.currency, event.overdraft_limit, at))
        return
    if kind in STATUS_EVENTS:
        patch = rows.patches.setdefault(wallet_id, WalletPatch())
        patch.status = STATUS_EVENTS[kind]
        patch.updated_at = at
        return
    if not isinstance(event, MoneyEvent):
        return  # rejections change no balance
    patch = rows.patches.setdefault(wallet_id, WalletPatch())
    patch.ledger = event.ledger
    patch.available = event.available
    patch.updated_at = at
    event_id = r.envelope.event_id
    rows.entries.append(
        (
            event_id,
            wallet_id,
            event.transaction_id,
            kind,
            entry_amount(event),
            event.currency,
            patch.ledger,
            patch.available,
            at,
            r.partition,
        )
    )
    postings = postings_of(event)
    if postings:
        rows.postings[event_id] = [
            (seq, q.account, q.amount, q.currency) for seq, q in enumerate(postings)
        ]


def system_deltas(
    rows: BatchRows, inserted: set[str] | None = None
) -> dict[tuple[str, str, int], int]:
    """(account, currency, shard) -> delta of the system-account postings of the entries
    in ``inserted`` (all entries when None); the shard is the Kafka partition."""
    shard_of = {e[0]: e[9] for e in rows.entries}
    deltas: dict[tuple[str, str, int], int] = {}
    for event_id, postings in rows.postings.items():
        if inserted is not None and event_id not in inserted:
            continue
        for _seq, account, amount, currency in postings:
            if account.startswith(SYSTEM_PREFIX):
                k = (account, currency, shard_of[event_id])
                deltas[k] = deltas.get(k, 0) + amount
    return deltas


def check_envelope(raw: bytes) -> Checked:
    """The envelope of a record and its event, if it can be applied; ValueError (poison)
    when it breaks the contract (``contracts.wallet``) or names a wallet whose id is no
    UUID. An unknown type passes without an event (it changes no balance)."""
    envelope = Envelope.from_bytes(raw)
    if envelope.type not in EVENT_TYPES:
        return envelope, None
    event = decode_event(envelope.payload)
    uuid.UUID(event.wallet_id)
    return envelope, event
