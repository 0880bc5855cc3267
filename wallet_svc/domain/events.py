"""Events the wallet decider emits, the posting type, reason codes and the wire codec.

Every event carries the `command_id` that caused it and the `wallet_id` (the Kafka key).
Money events carry balanced `postings` (per currency they sum to zero) and the wallet's
resulting `ledger` and `available` balances, so a projection never has to recompute them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, is_dataclass
from typing import Any, Final, TypeAlias, TypeVar

T = TypeVar("T")


class Reason:
    """Stable rejection reason codes (they travel on the wire; never rename one)."""

    INSUFFICIENT_FUNDS: Final = "insufficient_funds"
    WALLET_FROZEN: Final = "wallet_frozen"
    WALLET_CLOSED: Final = "wallet_closed"
    WALLET_NOT_FOUND: Final = "wallet_not_found"
    CURRENCY_MISMATCH: Final = "currency_mismatch"
    INVALID_AMOUNT: Final = "invalid_amount"
    EXPIRED: Final = "expired"
    HOLD_NOT_FOUND: Final = "hold_not_found"
    ALREADY_EXISTS: Final = "already_exists"
    NOT_ZERO_BALANCE: Final = "not_zero_balance"
    NOT_FROZEN: Final = "not_frozen"


@dataclass(frozen=True, slots=True, kw_only=True)
class Posting:
    """One leg of a double entry: a signed amount (minor units) on an account."""

    account: str
    amount: int
    currency: str


@dataclass(frozen=True, slots=True, kw_only=True)
class WalletOpened:
    command_id: str
    wallet_id: str
    owner_id: str
    currency: str
    overdraft_limit: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class WalletFrozen:
    command_id: str
    wallet_id: str
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class WalletUnfrozen:
    command_id: str
    wallet_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class WalletClosed:
    command_id: str
    wallet_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class WalletDebited:
    command_id: str
    wallet_id: str
    transaction_id: str
    amount: int
    currency: str
    counter_account: str
    postings: tuple[Posting, ...]
    ledger: int
    available: int


@dataclass(frozen=True, slots=True, kw_only=True)
class WalletCredited:
    """`amount` reaches the wallet; `fee` more leaves `counter_account` for `fee_account`."""

    command_id: str
    wallet_id: str
    transaction_id: str
    amount: int
    currency: str
    counter_account: str
    postings: tuple[Posting, ...]
    ledger: int
    available: int
    fee: int = 0
    fee_account: str = "system:fees"
    compensation: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class DebitRejected:
    command_id: str
    wallet_id: str
    transaction_id: str
    amount: int
    currency: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CreditRejected:
    command_id: str
    wallet_id: str
    transaction_id: str
    amount: int
    currency: str
    reason: str
    compensation: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class HoldPlaced:
    command_id: str
    wallet_id: str
    transaction_id: str
    hold_id: str
    amount: int
    currency: str
    expires_at: int
    ledger: int
    available: int


@dataclass(frozen=True, slots=True, kw_only=True)
class HoldCaptured:
    """`amount` of the hold leaves the wallet; `released_amount` (the rest) is freed."""

    command_id: str
    wallet_id: str
    transaction_id: str
    hold_id: str
    amount: int
    released_amount: int
    currency: str
    counter_account: str
    postings: tuple[Posting, ...]
    ledger: int
    available: int


@dataclass(frozen=True, slots=True, kw_only=True)
class HoldReleased:
    command_id: str
    wallet_id: str
    transaction_id: str
    hold_id: str
    amount: int
    currency: str
    ledger: int
    available: int


@dataclass(frozen=True, slots=True, kw_only=True)
class HoldExpired:
    command_id: str
    wallet_id: str
    transaction_id: str
    hold_id: str
    amount: int
    currency: str
    ledger: int
    available: int


@dataclass(frozen=True, slots=True, kw_only=True)
class HoldRejected:
    command_id: str
    wallet_id: str
    transaction_id: str
    hold_id: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandRejected:
    """An admin command (open, freeze, unfreeze, close) that does not apply."""

    command_id: str
    wallet_id: str
    command_type: str
    reason: str


WalletEvent: TypeAlias = (
    WalletOpened
    | WalletFrozen
    | WalletUnfrozen
    | WalletClosed
    | WalletDebited
    | WalletCredited
    | DebitRejected
    | CreditRejected
    | HoldPlaced
    | HoldCaptured
    | HoldReleased
    | HoldExpired
    | HoldRejected
    | CommandRejected
)

EVENT_TYPES: Final[dict[str, type[WalletEvent]]] = {
    cls.__name__: cls for cls in WalletEvent.__args__
}


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    """A message class's field names (``dataclasses.fields`` is slow on the hot path)."""
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in fields(cls))
    return names


def message_to_dict(message: Any) -> dict[str, Any]:
    """Encode a domain message dataclass as a JSON-safe dict with its class name in "type"."""
    out: dict[str, Any] = {"type": type(message).__name__}
    for name in _field_names(type(message)):
        out[name] = _encode(getattr(message, name))
    return out


def message_from_dict(data: Mapping[str, Any], registry: Mapping[str, type[T]]) -> T:
    """Decode a dict made by `message_to_dict`; unknown keys are ignored (tolerant reader).

    Raises ValueError for an unknown "type" and TypeError when a required field is missing.
    """
    type_name = data.get("type")
    cls = registry.get(type_name) if isinstance(type_name, str) else None
    if cls is None:
        raise ValueError(f"unknown message type: {type_name!r}")
    kwargs: dict[str, Any] = {}
    for name in _field_names(cls):
        if name not in data:
            continue
        value = data[name]
        if name == "postings":
            value = tuple(Posting(**p) for p in value)
        elif isinstance(value, list):
            value = tuple(value)
        kwargs[name] = value
    return cls(**kwargs)


def _encode(value: Any) -> Any:
    if value is None or isinstance(value, str | int):
        return value
    if is_dataclass(value) and not isinstance(value, type):
        return {name: _encode(getattr(value, name)) for name in _field_names(type(value))}
    if isinstance(value, tuple | list):
        return [_encode(v) for v in value]
    return value


def event_to_dict(event: WalletEvent) -> dict[str, Any]:
    """Encode a wallet event for the envelope payload (`{"type": "WalletDebited", ...}`)."""
    return message_to_dict(event)


def event_from_dict(data: Mapping[str, Any]) -> WalletEvent:
    """Decode a wallet event made by `event_to_dict` (exact round trip)."""
    return message_from_dict(data, EVENT_TYPES)
