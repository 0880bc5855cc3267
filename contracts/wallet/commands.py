"""Commands the wallet decider accepts (topic `wallet-commands`, key `wallet_id`).

Every command has a deterministic `command_id` chosen by the caller: deciding the same
`command_id` twice yields no new event. Amounts are int minor units; times are epoch ms.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, TypeAlias

from contracts.envelope import Envelope
from contracts.ids import deterministic_id
from contracts.message import Message, from_payload


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
    """Move `amount` from `counter_account` to the wallet (and `fee` to `fee_account`, in
    `fee_currency` when it is set: a converting transfer's fee is in the payer's currency,
    its credit in the payee's; each currency's postings balance on their own).

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
    fee_currency: str = ""  # empty: `currency`


class DebitWallet(Message, frozen=True):
    """Move `amount` from the wallet to `counter_account`; rejected once `expires_at` passed.

    `then` is a continuation: when the debit is accepted, the decider appends this credit
    to `wallet-commands` in the same Kafka transaction as the `WalletDebited` event, or
    decides it in that transaction when the credit's wallet is decided on the same
    partition (a transfer's second leg needs no saga round trip; a rejected debit sends
    nothing).
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
    """Take `amount` (<= held) of a hold out of the wallet; the rest is released. Of it,
    `fee` (< `amount`) goes to `fee_account`, the rest to `counter_account`."""

    command_id: str
    wallet_id: str
    hold_id: str
    amount: int
    counter_account: str
    transaction_id: str = ""
    fee: int = 0
    fee_account: str = "system:fees"


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
