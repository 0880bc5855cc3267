"""Events of the wallet decider (topic `wallet-events`, key `wallet_id`), the posting
type and the rejection reason codes.

Every event carries the `command_id` that caused it and the `wallet_id`. Money events
carry balanced `postings` (per currency they sum to zero) and the wallet's resulting
`ledger` and `available` balances, so a projection never has to recompute them. Amounts
are int minor units; times are epoch ms.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, TypeAlias

from contracts.message import Message, Value, from_payload


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
    BALANCE_LIMIT_EXCEEDED: Final = "balance_limit_exceeded"


class Posting(Value, frozen=True):
    """One leg of a double entry: a signed amount (minor units) on an account."""

    account: str
    amount: int
    currency: str


class WalletOpened(Message, frozen=True):
    command_id: str
    wallet_id: str
    owner_id: str
    currency: str
    overdraft_limit: int = 0


class WalletFrozen(Message, frozen=True):
    command_id: str
    wallet_id: str
    reason: str = ""


class WalletUnfrozen(Message, frozen=True):
    command_id: str
    wallet_id: str


class WalletClosed(Message, frozen=True):
    command_id: str
    wallet_id: str


class WalletDebited(Message, frozen=True):
    command_id: str
    wallet_id: str
    transaction_id: str
    amount: int
    currency: str
    counter_account: str
    postings: tuple[Posting, ...]
    ledger: int
    available: int


class WalletCredited(Message, frozen=True):
    """`amount` reaches the wallet; `fee` more leaves `counter_account` for `fee_account`
    (in `fee_currency` when it is set, else in `currency`)."""

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
    fee_currency: str = ""  # empty: `currency`


class DebitRejected(Message, frozen=True):
    command_id: str
    wallet_id: str
    transaction_id: str
    amount: int
    currency: str
    reason: str


class CreditRejected(Message, frozen=True):
    command_id: str
    wallet_id: str
    transaction_id: str
    amount: int
    currency: str
    reason: str
    compensation: bool = False


class HoldPlaced(Message, frozen=True):
    command_id: str
    wallet_id: str
    transaction_id: str
    hold_id: str
    amount: int
    currency: str
    expires_at: int
    ledger: int
    available: int


class HoldCaptured(Message, frozen=True):
    """`amount` of the hold leaves the wallet, `fee` of it for `fee_account` and the rest
    for `counter_account`; `released_amount` (what was held beyond it) is freed."""

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
    fee: int = 0
    fee_account: str = "system:fees"


class HoldReleased(Message, frozen=True):
    command_id: str
    wallet_id: str
    transaction_id: str
    hold_id: str
    amount: int
    currency: str
    ledger: int
    available: int


class HoldExpired(Message, frozen=True):
    command_id: str
    wallet_id: str
    transaction_id: str
    hold_id: str
    amount: int
    currency: str
    ledger: int
    available: int


class HoldRejected(Message, frozen=True):
    command_id: str
    wallet_id: str
    transaction_id: str
    hold_id: str
    reason: str


class CommandRejected(Message, frozen=True):
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


def decode_event(payload: Mapping[str, Any]) -> WalletEvent:
    """The wallet event of an envelope's payload (ValueError if it is none)."""
    event: WalletEvent = from_payload(payload, WalletEvent)
    return event
