"""The balance projection, pure: a batch of wallet-events -> the row sets to write.

No I/O here. ``project_batch`` turns decoded envelopes (dicts as they travel on Kafka)
into set-based row lists for the store (``wallet_svc.store``): wallets to insert, the final
status/balances of touched wallets (the last event per wallet in the batch wins, since a
partition is ordered), one entry per money event, its postings, per-shard system-account
deltas and the completion notices to publish. Offsets are the tracked consumer's
(``common.kafka.tracked``), which hands over only records not yet applied.

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
from contracts.wallet import EVENT_TYPES, decode_event

SYSTEM_PREFIX = "system:"
MONEY_EVENTS = frozenset(
    {"WalletDebited", "WalletCredited", "HoldPlaced", "HoldCaptured", "HoldReleased", "HoldExpired"}
)
STATUS_EVENTS = {"WalletFrozen": "frozen", "WalletUnfrozen": "active", "WalletClosed": "closed"}
REJECTIONS = frozenset({"DebitRejected", "CreditRejected", "HoldRejected", "CommandRejected"})


@dataclass(frozen=True, slots=True)
class Record:
    """One consumed message: where it came from and its envelope as a dict."""

    partition: int
    offset: int
    envelope: dict[str, Any]


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


def occurred_at(envelope: dict[str, Any]) -> datetime:
    value = envelope["occurred_at"]
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def entry_amount(kind: str, payload: dict[str, Any]) -> int:
    """The signed amount of a money event from the wallet's view (see module doc)."""
    account = f"wallet:{payload['wallet_id']}"
    postings = payload.get("postings") or ()
    own = [p["amount"] for p in postings if p["account"] == account]
    if own:
        return int(sum(own))
    amount = int(payload.get("amount", 0))
    return -amount if kind == "HoldPlaced" else amount


def project_batch(records: list[Record]) -> BatchRows:
    """The row sets of one batch (records in partition order)."""
    rows = BatchRows()
    decided: set[str] = set()  # command ids with a non-side-effect event in the batch
    for r in records:
        if r.envelope["type"] != "HoldExpired":
            decided.add(str(r.envelope["payload"].get("command_id")))
    for r in records:
        _apply(rows, r, decided)
    return rows


def _apply(rows: BatchRows, r: Record, decided: set[str]) -> None:
    env = r.envelope
    kind = env["type"]
    p = env["payload"]
    wallet_id = str(p.get("wallet_id") or env["key"])
    at = occurred_at(env)
    command_id = p.get("command_id")
    if not (kind == "HoldExpired" and command_id in decided):
        notice = {"key": command_id, "type": kind, "wallet_id": wallet_id}
        notice["reason"] = p.get("reason")
        rows.notices.append(notice)
    if kind == "WalletOpened":
        rows.opened.append(
            (wallet_id, p["owner_id"], p["currency"], int(p.get("overdraft_limit", 0)), at)
        )
        return
    if kind in STATUS_EVENTS:
        patch = rows.patches.setdefault(wallet_id, WalletPatch())
        patch.status = STATUS_EVENTS[kind]
        patch.updated_at = at
        return
    if kind not in MONEY_EVENTS:
        return  # rejections and unknown types change no balance
    patch = rows.patches.setdefault(wallet_id, WalletPatch())
    patch.ledger = int(p["ledger"])
    patch.available = int(p["available"])
    patch.updated_at = at
    event_id = str(env["event_id"])
    rows.entries.append(
        (
            event_id,
            wallet_id,
            str(p.get("transaction_id") or ""),
            kind,
            entry_amount(kind, p),
            p["currency"],
            patch.ledger,
            patch.available,
            at,
            r.partition,
        )
    )
    postings = p.get("postings") or ()
    if postings:
        rows.postings[event_id] = [
            (seq, q["account"], int(q["amount"]), q["currency"]) for seq, q in enumerate(postings)
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


def check_envelope(raw: bytes) -> dict[str, Any]:
    """The envelope of a record, as the projection reads it, if it can be applied;
    ValueError (poison) when it breaks the contract (``contracts.wallet``) or names a
    wallet whose id is no UUID. Unknown types pass (they change no balance)."""
    envelope = Envelope.from_bytes(raw)
    if envelope.type in EVENT_TYPES:
        uuid.UUID(decode_event(envelope.payload).wallet_id)
    return {
        "event_id": envelope.event_id,
        "type": envelope.type,
        "occurred_at": envelope.occurred_at,
        "key": envelope.key,
        "payload": envelope.payload,
    }
