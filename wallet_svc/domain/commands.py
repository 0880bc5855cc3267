"""Commands the wallet decider accepts (topic `wallet-commands`, key `wallet_id`).

Every command has a deterministic `command_id` chosen by the caller: deciding the same
`command_id` twice yields no new event. Amounts are int minor units; times are epoch ms.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Final, TypeAlias

from wallet_svc.domain.events import message_from_dict, message_to_dict


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenWallet:
    command_id: str
    wallet_id: str
    owner_id: str
    currency: str
    overdraft_limit: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class FreezeWallet:
    command_id: str
    wallet_id: str
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class UnfreezeWallet:
    command_id: str
    wallet_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CloseWallet:
    """Accepted only when the ledger is zero and no hold is active."""

    command_id: str
    wallet_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CreditWallet:
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


@dataclass(frozen=True, slots=True, kw_only=True)
class DebitWallet:
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


@dataclass(frozen=True, slots=True, kw_only=True)
class PlaceHold:
    """Reserve `amount` of the available balance until `expires_at` (epoch ms)."""

    command_id: str
    wallet_id: str
    hold_id: str
    amount: int
    currency: str
    expires_at: int
    transaction_id: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class CaptureHold:
    """Move `amount` (<= held) of a hold to `counter_account`; the rest is released."""

    command_id: str
    wallet_id: str
    hold_id: str
    amount: int
    counter_account: str
    transaction_id: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReleaseHold:
    command_id: str
    wallet_id: str
    hold_id: str
    transaction_id: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ExpireHolds:
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


def command_to_dict(command: WalletCommand) -> dict[str, Any]:
    """Encode a wallet command for the envelope payload (`{"type": "DebitWallet", ...}`)."""
    return message_to_dict(command)


def command_from_dict(data: Mapping[str, Any]) -> WalletCommand:
    """Decode a wallet command made by `command_to_dict` (exact round trip)."""
    command = message_from_dict(data, COMMAND_TYPES)
    if isinstance(command, DebitWallet) and isinstance(command.then, Mapping):
        then = message_from_dict({**command.then, "type": "CreditWallet"}, COMMAND_TYPES)
        if not isinstance(then, CreditWallet):  # pragma: no cover - the registry's type
            raise TypeError("a continuation is a CreditWallet")
        command = replace(command, then=then)
    return command
