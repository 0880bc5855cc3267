"""Public `payment-events` (key `payment_id`): each step of a payment through the provider.

A deposit or a withdrawal is one payment; its `payment_id` is its transaction id, so its
events share a partition and arrive in order. Deposit: DepositInitiated -> ChargeSucceeded
(or ChargePending, then ChargeSucceeded/ChargeFailed) -> DepositCompleted; a declined
charge: ChargeFailed -> DepositFailed; a charge whose credit is refused is refunded:
ChargeSucceeded -> ChargeRefunded -> DepositFailed. Withdrawal: WithdrawalInitiated ->
WithdrawalFundsHeld -> PayoutSucceeded -> WithdrawalCompleted; a failed payout: PayoutFailed
-> WithdrawalFailed (the hold released); funds that cannot be held: WithdrawalFailed.
No card number, CVC or IBAN is ever in a payment event: methods are named by their id.
Amounts are int minor units.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeAlias

from contracts.message import Message, from_payload

PROVIDER = "pgw"  # the one provider today: the simulated card and bank gateway


class _Payment(Message, frozen=True):
    payment_id: str
    wallet_id: str
    amount: int
    currency: str


class DepositInitiated(_Payment, frozen=True):
    payment_method_id: str
    provider: str = PROVIDER


class ChargePending(_Payment, frozen=True):
    """The provider has not decided yet; its signed callback will."""

    charge_id: str


class ChargeSucceeded(_Payment, frozen=True):
    charge_id: str


class ChargeFailed(_Payment, frozen=True):
    """The provider declined the charge (`failure_reason` is its code): nothing charged."""

    charge_id: str | None
    failure_reason: str


class ChargeRefunded(_Payment, frozen=True):
    """A charge whose wallet credit was refused was refunded in full."""

    charge_id: str
    refund_id: str


class DepositCompleted(_Payment, frozen=True):
    """The wallet was credited from the provider's settlement account."""


class DepositFailed(_Payment, frozen=True):
    failure_reason: str


class WithdrawalInitiated(_Payment, frozen=True):
    payout_method_id: str
    provider: str = PROVIDER


class WithdrawalFundsHeld(_Payment, frozen=True):
    """The amount is held in the wallet: available dropped, the ledger did not."""

    hold_id: str


class PayoutSucceeded(_Payment, frozen=True):
    payout_id: str


class PayoutFailed(_Payment, frozen=True):
    payout_id: str | None
    failure_reason: str


class WithdrawalCompleted(_Payment, frozen=True):
    """The hold was captured into the provider's settlement account."""


class WithdrawalFailed(_Payment, frozen=True):
    """Nothing was paid out and nothing stays held."""

    failure_reason: str


PaymentEvent: TypeAlias = (
    DepositInitiated
    | ChargePending
    | ChargeSucceeded
    | ChargeFailed
    | ChargeRefunded
    | DepositCompleted
    | DepositFailed
    | WithdrawalInitiated
    | WithdrawalFundsHeld
    | PayoutSucceeded
    | PayoutFailed
    | WithdrawalCompleted
    | WithdrawalFailed
)

# What the provider answered: the saga reacts to these.
ProviderOutcome: TypeAlias = (
    ChargePending | ChargeSucceeded | ChargeFailed | ChargeRefunded | PayoutSucceeded | PayoutFailed
)


def decode_payment_event(payload: Mapping[str, Any]) -> PaymentEvent:
    """The payment event of an envelope's payload (ValueError if it is none)."""
    event: PaymentEvent = from_payload(payload, PaymentEvent)
    return event
