"""Public `payment-events` (key `payment_id`): each step of a payment through the provider.

A deposit or a withdrawal is one payment; its `payment_id` is its transaction id, so its
events share a partition and arrive in order. Deposit: DepositInitiated -> ChargeSucceeded
(or ChargePending, then ChargeSucceeded/ChargeFailed) -> DepositCompleted; a declined
charge: ChargeFailed -> DepositFailed; a charge whose credit is refused is refunded:
ChargeSucceeded -> ChargeRefunded -> DepositFailed. Withdrawal: WithdrawalInitiated ->
WithdrawalFundsHeld -> PayoutSucceeded -> WithdrawalCompleted; a failed payout: PayoutFailed
-> WithdrawalFailed (the hold released); funds that cannot be held: WithdrawalFailed; paid
out but the wallet could not be debited (docs/payments.md): PayoutSucceeded ->
WithdrawalDebitFailed.
Merchant payments (`payment_id` = the payment's transaction id, `merchant_id` the paid
user): PaymentInitiated -> PaymentCompleted, or PaymentFailed (the payer's wallet refused
the debit, or the merchant's wallet the credit and the payer was paid back); by card,
the provider's answers come between, as for a deposit: PaymentInitiated ->
ChargeSucceeded (or ChargePending first) -> PaymentCompleted; ChargeFailed ->
PaymentFailed; ChargeSucceeded -> ChargeRefunded -> PaymentFailed (the merchant's wallet
refused the credit); a card payment still pending at the provider that its payer
cancels: PaymentInitiated -> ChargePending -> ChargeVoided -> PaymentCancelled. A refund is
a transaction of its own (`refund_id`) keyed by the payment it refunds, so a payment's
refunds follow it in its partition: RefundInitiated -> RefundCompleted or RefundFailed
(a card payment's refund: RefundInitiated -> ChargeRefunded, with the refund's
`transaction_id` -> RefundCompleted, or RefundFailed if the merchant's wallet refused).
No card number, CVC or IBAN is ever in a payment event: methods are named by their id.
A charge's events carry the `fee` the card is charged on top of the `amount` (a deposit's
or card payment's, docs/fees-and-limits.md); `WithdrawalFundsHeld` the fee held with it.
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
    fee: int = 0  # asked on top of `amount`


class ChargeSucceeded(_Payment, frozen=True):
    charge_id: str
    fee: int = 0  # charged on top of `amount`: the card paid amount + fee


class ChargeFailed(_Payment, frozen=True):
    """The provider declined the charge (`failure_reason` is its code): nothing charged."""

    charge_id: str | None
    failure_reason: str
    fee: int = 0  # asked on top of `amount` (nothing charged)


class ChargeRefunded(_Payment, frozen=True):
    """A charge refunded at the provider (`refund_id` is the provider's refund): a deposit's
    or card payment's whose wallet credit was refused, in full; or, with `transaction_id`,
    that refund transaction's part of a card payment (keyed by the payment)."""

    charge_id: str
    refund_id: str
    transaction_id: str = ""
    fee: int = 0  # given back with `amount`: a full refund's (none for a refund's part)


class ChargeVoided(_Payment, frozen=True):
    """A pending charge voided at the provider before it was decided (its payment was
    cancelled): nothing charged."""

    charge_id: str
    fee: int = 0  # asked on top of `amount` (nothing charged)


class DepositCompleted(_Payment, frozen=True):
    """The wallet was credited from the provider's settlement account."""


class DepositFailed(_Payment, frozen=True):
    failure_reason: str


class WithdrawalInitiated(_Payment, frozen=True):
    payout_method_id: str
    provider: str = PROVIDER


class WithdrawalFundsHeld(_Payment, frozen=True):
    """`amount` + `fee` is held in the wallet: available dropped, the ledger did not."""

    hold_id: str
    fee: int = 0


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


class WithdrawalDebitFailed(_Payment, frozen=True):
    """Paid out, but the wallet could not be debited: the money is owed, for an operator."""

    failure_reason: str


class _Merchant(_Payment, frozen=True):
    """A payment to a merchant: `wallet_id` is the payer's wallet (empty for a card
    payment), `merchant_wallet_id` the merchant's wallet in the payment's currency."""

    merchant_id: str
    merchant_wallet_id: str
    order_id: str


class PaymentInitiated(_Merchant, frozen=True):
    provider: str  # "wallet" (from the payer's wallet) or "card"


class PaymentCompleted(_Merchant, frozen=True):
    """The merchant's wallet was credited."""


class PaymentFailed(_Merchant, frozen=True):
    """Nothing stays moved: the payer's wallet was not debited, or was paid back."""

    failure_reason: str


class PaymentCancelled(_Merchant, frozen=True):
    """Cancelled by its payer or an admin before it was charged: nothing moved."""


class _Refund(_Merchant, frozen=True):
    """A refund of the payment `payment_id`: `refund_id` is the refund's transaction id and
    `amount` what it gives back."""

    refund_id: str


class RefundInitiated(_Refund, frozen=True):
    pass


class RefundCompleted(_Refund, frozen=True):
    """The merchant's wallet was debited and the payer's credited."""


class RefundFailed(_Refund, frozen=True):
    """Nothing stays moved (e.g. the merchant's wallet could not cover it)."""

    failure_reason: str


MerchantEvent: TypeAlias = (
    PaymentInitiated
    | PaymentCompleted
    | PaymentFailed
    | PaymentCancelled
    | RefundInitiated
    | RefundCompleted
    | RefundFailed
)
RefundEvent: TypeAlias = RefundInitiated | RefundCompleted | RefundFailed

PaymentEvent: TypeAlias = (
    DepositInitiated
    | ChargePending
    | ChargeSucceeded
    | ChargeFailed
    | ChargeRefunded
    | ChargeVoided
    | DepositCompleted
    | DepositFailed
    | WithdrawalInitiated
    | WithdrawalFundsHeld
    | PayoutSucceeded
    | PayoutFailed
    | WithdrawalCompleted
    | WithdrawalFailed
    | WithdrawalDebitFailed
    | PaymentInitiated
    | PaymentCompleted
    | PaymentFailed
    | PaymentCancelled
    | RefundInitiated
    | RefundCompleted
    | RefundFailed
)

# What the provider answered: the saga reacts to these.
ProviderOutcome: TypeAlias = (
    ChargePending
    | ChargeSucceeded
    | ChargeFailed
    | ChargeRefunded
    | ChargeVoided
    | PayoutSucceeded
    | PayoutFailed
)


def decode_payment_event(payload: Mapping[str, Any]) -> PaymentEvent:
    """The payment event of an envelope's payload (ValueError if it is none)."""
    event: PaymentEvent = from_payload(payload, PaymentEvent)
    return event
