"""Wallet state, the total `evolve` function and JSON-safe snapshots.

State is immutable: `evolve` returns a new value and never raises, so a replay of
`wallet-events` always succeeds and a caller can keep the previous state to roll back
(for example when a Kafka transaction aborts).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from contracts import wallet as msg

SNAPSHOT_VERSION = 1


class WalletStatus(StrEnum):
    ABSENT = "absent"
    ACTIVE = "active"
    FROZEN = "frozen"
    CLOSED = "closed"


class CommandLog:
    """Immutable set of processed command ids with O(sqrt n) `add` (no full copy per add)."""

    __slots__ = ("_base", "_recent")

    def __init__(self, ids: Iterable[str] = (), _recent: frozenset[str] = frozenset()) -> None:
        self._base = frozenset(ids)
        self._recent = _recent

    def add(self, command_id: str) -> CommandLog:
        """Return a log that also contains `command_id`."""
        if command_id in self:
            return self
        recent = self._recent | {command_id}
        if len(recent) ** 2 > len(self._base):
            return CommandLog(self._base | recent)
        return CommandLog(self._base, recent)

    def __contains__(self, command_id: object) -> bool:
        return command_id in self._recent or command_id in self._base

    def __iter__(self) -> Iterator[str]:
        yield from self._base
        yield from self._recent

    def __len__(self) -> int:
        return len(self._base) + len(self._recent)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CommandLog):
            return NotImplemented
        return len(self) == len(other) and all(cid in other for cid in self)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"CommandLog({len(self)} ids)"


@dataclass(frozen=True, slots=True, kw_only=True)
class Hold:
    hold_id: str
    amount: int
    expires_at: int
    transaction_id: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class WalletState:
    """One wallet. `version` counts applied events; `processed` holds decided command ids."""

    wallet_id: str = ""
    owner_id: str = ""
    currency: str = ""
    overdraft_limit: int = 0
    status: WalletStatus = WalletStatus.ABSENT
    ledger: int = 0
    holds: tuple[Hold, ...] = ()
    processed: CommandLog = field(default_factory=CommandLog)
    version: int = 0

    @property
    def held(self) -> int:
        """Sum of active holds."""
        return sum(h.amount for h in self.holds)

    @property
    def available(self) -> int:
        """Ledger minus active holds."""
        return self.ledger - self.held

    @property
    def account(self) -> str:
        """The wallet's ledger account name used in postings."""
        return wallet_account(self.wallet_id)

    def hold(self, hold_id: str) -> Hold | None:
        """The active hold with this id, if any."""
        return next((h for h in self.holds if h.hold_id == hold_id), None)


def wallet_account(wallet_id: str) -> str:
    """Posting account of a wallet: `wallet:<wallet_id>`."""
    return f"wallet:{wallet_id}"


def evolve(state: WalletState, event: msg.WalletEvent) -> WalletState:
    """Apply one event (total: never validates, never raises)."""
    s = replace(state, processed=state.processed.add(event.command_id), version=state.version + 1)
    match event:
        case msg.WalletOpened():
            return replace(
                s,
                wallet_id=event.wallet_id,
                owner_id=event.owner_id,
                currency=event.currency,
                overdraft_limit=event.overdraft_limit,
                status=WalletStatus.ACTIVE,
            )
        case msg.WalletFrozen():
            return replace(s, status=WalletStatus.FROZEN)
        case msg.WalletUnfrozen():
            return replace(s, status=WalletStatus.ACTIVE)
        case msg.WalletClosed():
            return replace(s, status=WalletStatus.CLOSED)
        case msg.WalletDebited():
            return replace(s, ledger=s.ledger - event.amount)
        case msg.WalletCredited():
            return replace(s, ledger=s.ledger + event.amount)
        case msg.HoldPlaced():
            hold = Hold(
                hold_id=event.hold_id,
                amount=event.amount,
                expires_at=event.expires_at,
                transaction_id=event.transaction_id,
            )
            return replace(s, holds=(*_without(s.holds, event.hold_id), hold))
        case msg.HoldCaptured():
            return replace(
                s, ledger=s.ledger - event.amount, holds=_without(s.holds, event.hold_id)
            )
        case msg.HoldReleased() | msg.HoldExpired():
            return replace(s, holds=_without(s.holds, event.hold_id))
        case _:  # rejections only mark the command as processed
            return s


def _without(holds: tuple[Hold, ...], hold_id: str) -> tuple[Hold, ...]:
    return tuple(h for h in holds if h.hold_id != hold_id)


def to_snapshot(state: WalletState) -> dict[str, Any]:
    """JSON-safe snapshot (only dicts, lists, strs and ints)."""
    return {
        "snapshot_version": SNAPSHOT_VERSION,
        "wallet_id": state.wallet_id,
        "owner_id": state.owner_id,
        "currency": state.currency,
        "overdraft_limit": state.overdraft_limit,
        "status": state.status.value,
        "ledger": state.ledger,
        "holds": [
            {
                "hold_id": h.hold_id,
                "amount": h.amount,
                "expires_at": h.expires_at,
                "transaction_id": h.transaction_id,
            }
            for h in state.holds
        ],
        "processed": sorted(state.processed),
        "version": state.version,
    }


def from_snapshot(data: dict[str, Any]) -> WalletState:
    """Rebuild the state saved by `to_snapshot`."""
    return WalletState(
        wallet_id=data["wallet_id"],
        owner_id=data["owner_id"],
        currency=data["currency"],
        overdraft_limit=data["overdraft_limit"],
        status=WalletStatus(data["status"]),
        ledger=data["ledger"],
        holds=tuple(Hold(**h) for h in data["holds"]),
        processed=CommandLog(data["processed"]),
        version=data["version"],
    )
