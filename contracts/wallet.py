"""Wallet commands (topic `wallet-commands`) and events (topic `wallet-events`), key
`wallet_id`.

Every command has a deterministic `command_id` chosen by the caller: deciding the same
`command_id` twice yields no new event. Every event carries the `command_id` that caused
it and the `wallet_id`. Money events carry balanced `postings` (per currency they sum to
zero) and the wallet's resulting `ledger` and `available` balances, so a projection never
has to recompute them. Amounts are int minor units; times are epoch ms.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, TypeAlias

from contracts.envelope import Envelope
from contracts.ids import deterministic_id
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


# --- commands -------------------------------------------------------------------


class OpenWallet(Message, frozen=True):
    command_id: str
    wallet_id: str
    owner_id: str
    currency: str
    overdraft_limit: int = 0


class FreezeWallet(Message, frozen=True):
    command_id: str
    wallet_id: str
    reason: str = ""


class UnfreezeWallet(Message, frozen=True):
    command_id: str
    wallet_id: str


class CloseWallet(Message, frozen=True):
    """Accepted only when the ledger is zero and no hold is active."""

    command_id: str
    wallet_id: str


class CreditWallet(Message, frozen=True):
    """Move `amount` from `counter_account` to the wallet (and `fee` to `fee_account`).

    A `compensation` credit (refund of a reversed transfer) ignores frozen/closed status
    and `expires_at`: only an unknown wallet, a bad amount or another currency reject it.
    """

    command_id: str
    wallet_id: str
    transaction_id: str
    amount: int
    currency: str
    counter_account: str
    expires_at: int | None = None
    compensation: bool = False
    fee: int = 0
    fee_account: str = "system:fees"


class DebitWallet(Message, frozen=True):
    """Move `amount` from the wallet to `counter_account`; rejected once `expires_at` passed.

    `then` is a continuation: when the debit is accepted, the decider appends this credit
    to `wallet-commands` in the same Kafka transaction as the `WalletDebited` event (a
    transfer's second leg needs no saga round trip; a rejected debit sends nothing).
    """

    command_id: str
    wallet_id: str
    transaction_id: str
    amount: int
    currency: str
    counter_account: str
    expires_at: int | None = None
    then: CreditWallet | None = None


class PlaceHold(Message, frozen=True):
    """Reserve `amount` of the available balance until `expires_at` (epoch ms)."""

    command_id: str
    wallet_id: str
    hold_id: str
    amount: int
    currency: str
    expires_at: int
    transaction_id: str = ""


class CaptureHold(Message, frozen=True):
    """Move `amount` (<= held) of a hold to `counter_account`; the rest is released."""

    command_id: str
    wallet_id: str
    hold_id: str
    amount: int
    counter_account: str
    transaction_id: str = ""


class ReleaseHold(Message, frozen=True):
    command_id: str
    wallet_id: str
    hold_id: str
    transaction_id: str = ""


class ExpireHolds(Message, frozen=True):
    """Expire every hold whose `expires_at` <= `now` (epoch ms); a timer sends it."""

    command_id: str
    wallet_id: str
    now: int


WalletCommand: TypeAlias = (
    OpenWallet
    | FreezeWallet
    | UnfreezeWallet
    | CloseWallet
    | DebitWallet
    | CreditWallet
    | PlaceHold
    | CaptureHold
    | ReleaseHold
    | ExpireHolds
)

COMMAND_TYPES: Final[dict[str, type[WalletCommand]]] = {
    cls.__name__: cls for cls in WalletCommand.__args__
}


def decode_command(payload: Mapping[str, Any]) -> WalletCommand:
    """The wallet command of an envelope's payload (ValueError if it is none)."""
    command: WalletCommand = from_payload(payload, WalletCommand)
    return command


def decode_event(payload: Mapping[str, Any]) -> WalletEvent:
    """The wallet event of an envelope's payload (ValueError if it is none)."""
    event: WalletEvent = from_payload(payload, WalletEvent)
    return event


def command_envelope(
    command: WalletCommand,
    producer: str,
    correlation_id: str | None = None,
    causation_id: str | None = None,
) -> Envelope:
    """The envelope of a command on `wallet-commands`: its id derived from the command id,
    so the same command appended twice is the same message."""
    return Envelope.of(
        command,
        event_id=deterministic_id("command", command.command_id),
        producer=producer,
        key=command.wallet_id,
        correlation_id=correlation_id,
        causation_id=causation_id,
    )
