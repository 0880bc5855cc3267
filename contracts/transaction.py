"""Public `transaction-events` (key `transaction_id`): what happened to a transfer, a
deposit, a withdrawal, a payment to a merchant or a refund, from request to terminal state
(the provider's part of a deposit's or withdrawal's life, and each step of a payment and
its refunds, is on `payment-events`, contracts.payment); and the admins' changes of fees
and limits (`TermsChanged`, keyed by what changed), and of exchange rates
(`contracts.fx.FxRatesChanged`); and what the scheduler tells of schedules' runs
(`contracts.schedule`, keyed by the schedule).
Amounts are int minor units; `deadline` is epoch ms.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeAlias

from contracts.fx import FxRatesChanged
from contracts.message import Message, from_payload
from contracts.schedule import ScheduledRunFailed, SchedulePaused


class TransferRequested(Message, frozen=True):
    """Move `amount` + `fee` out of `from_wallet_id`. With a quote (`quote_id`), the
    payee's wallet is in `to_currency` and gets `to_amount`: `amount` converted at the
    quote's rate (docs/fx.md); without one, it gets `amount` in `currency`."""

    transaction_id: str
    from_wallet_id: str
    to_wallet_id: str
    amount: int
    currency: str
    deadline: int
    fee: int = 0
    quote_id: str = ""
    to_currency: str = ""
    to_amount: int = 0


class TransferDebited(Message, frozen=True):
    """The source paid `debited` (= amount + fee) into system:in_transit."""

    transaction_id: str
    from_wallet_id: str
    to_wallet_id: str
    amount: int
    currency: str
    debited: int


class TransferCompleted(Message, frozen=True):
    """The payee got `amount` in `currency`, or, when the transfer converted (docs/fx.md),
    `to_amount` in `to_currency`."""

    transaction_id: str
    from_wallet_id: str
    to_wallet_id: str
    amount: int
    currency: str
    fee: int = 0
    to_currency: str = ""
    to_amount: int = 0


class TransferFailed(Message, frozen=True):
    """The debit was rejected: no money moved."""

    transaction_id: str
    from_wallet_id: str
    to_wallet_id: str
    amount: int
    currency: str
    reason: str


class TransferReversed(Message, frozen=True):
    """The credit was rejected (`reason`) and the source was refunded amount + fee."""

    transaction_id: str
    from_wallet_id: str
    to_wallet_id: str
    amount: int
    currency: str
    reason: str


class TransferReversalFailed(Message, frozen=True):
    """The compensating credit was rejected: money sits in system:in_transit (alert)."""

    transaction_id: str
    from_wallet_id: str
    to_wallet_id: str
    amount: int
    currency: str
    reason: str


class DepositRequested(Message, frozen=True):
    """A card deposit: the card `payment_method_id` of `owner_id` is charged `amount` +
    `fee`, then the wallet credited `amount` from the provider's settlement account (and
    the fee moved to system:fees in the same decision)."""

    transaction_id: str
    wallet_id: str
    amount: int
    currency: str
    provider: str
    deadline: int | None = None
    payment_method_id: str = ""
    owner_id: str = ""
    fee: int = 0


class DepositCompleted(Message, frozen=True):
    transaction_id: str
    wallet_id: str
    amount: int
    currency: str
    provider: str
    fee: int = 0


class DepositFailed(Message, frozen=True):
    """Nothing was credited: the charge was declined, or the credit was rejected and the
    charge refunded."""

    transaction_id: str
    wallet_id: str
    amount: int
    currency: str
    provider: str
    reason: str


class WithdrawalRequested(Message, frozen=True):
    """Hold `amount` + `fee` in the wallet, pay `amount` out to the bank account
    `payout_method_id`, then capture the hold (the fee to system:fees), or release all of
    it if the payout fails."""

    transaction_id: str
    wallet_id: str
    amount: int
    currency: str
    provider: str
    payout_method_id: str
    owner_id: str
    deadline: int | None = None
    fee: int = 0


class WithdrawalCompleted(Message, frozen=True):
    transaction_id: str
    wallet_id: str
    amount: int
    currency: str
    provider: str
    fee: int = 0


class WithdrawalFailed(Message, frozen=True):
    """Nothing was paid out and nothing stays held."""

    transaction_id: str
    wallet_id: str
    amount: int
    currency: str
    provider: str
    reason: str


class WithdrawalDebitFailed(Message, frozen=True):
    """Paid out, but the wallet could not be debited (its hold was gone and it could not
    pay `amount` + `fee` again): the money is owed by the wallet, for an operator. The
    transaction's status is `reversal_failed`."""

    transaction_id: str
    wallet_id: str
    amount: int
    currency: str
    provider: str
    reason: str
    fee: int = 0


class PaymentRequested(Message, frozen=True):
    """A payment to merchant `merchant_id` for its order `order_id` into the merchant's
    wallet `to_wallet_id`: from the payer's wallet `from_wallet_id` (provider `wallet`), or
    charged to the card `payment_method_id` of `owner_id` (provider `card`,
    `from_wallet_id` empty)."""

    transaction_id: str
    from_wallet_id: str
    to_wallet_id: str
    amount: int
    currency: str
    merchant_id: str
    order_id: str
    provider: str
    deadline: int
    payment_method_id: str = ""
    owner_id: str = ""
    fee: int = 0  # paid by the payer on top of `amount` (from the wallet or the card)


class PaymentCompleted(Message, frozen=True):
    transaction_id: str
    merchant_id: str
    order_id: str
    amount: int
    currency: str
    fee: int = 0


class PaymentFailed(Message, frozen=True):
    """Nothing stays moved: the debit was refused, or the credit and the payer paid back."""

    transaction_id: str
    merchant_id: str
    order_id: str
    amount: int
    currency: str
    reason: str


class PaymentCancelled(Message, frozen=True):
    """Cancelled by its payer or an admin while its charge was pending: nothing moved."""

    transaction_id: str
    merchant_id: str
    order_id: str
    amount: int
    currency: str


class RefundRequested(Message, frozen=True):
    """Give `amount` of payment `payment_id` back from the merchant's wallet
    `from_wallet_id`: to the payer's wallet `to_wallet_id`, or, for a card payment, to
    the card through a refund of the charge `charge_id` (`to_wallet_id` empty)."""

    transaction_id: str
    payment_id: str
    from_wallet_id: str
    to_wallet_id: str
    amount: int
    currency: str
    merchant_id: str
    order_id: str
    deadline: int
    charge_id: str = ""  # a card payment's charge, refunded at the provider


class RefundCompleted(Message, frozen=True):
    transaction_id: str
    payment_id: str
    amount: int
    currency: str


class RefundFailed(Message, frozen=True):
    """Nothing stays moved (the merchant's wallet could not cover it, or the payer's
    wallet refused the credit and the merchant was paid back)."""

    transaction_id: str
    payment_id: str
    amount: int
    currency: str
    reason: str


class FeeScheduleChanged(Message, frozen=True):
    """An admin (`changed_by`) set the fee of `transaction_type` in `currency`:
    `fixed + ceil(amount * basis_points / 10000)`, at least `minimum`, at most `maximum`
    (none: no cap), in minor units. Key: `fees:<transaction_type>:<currency>`."""

    transaction_type: str
    currency: str
    basis_points: int
    fixed: int
    minimum: int
    changed_by: str
    maximum: int | None = None


class LimitChanged(Message, frozen=True):
    """An admin (`changed_by`) set the limits of `transaction_type` in `currency` for a
    role (`role`) or one user (`user_id`, overriding the role's): `per_transaction`, the
    most one transaction may move, and `daily`, the most a user's transactions of the type
    may move in a UTC day (none: no limit). Key: `limits:<role or user>`."""

    transaction_type: str
    currency: str
    changed_by: str
    role: str = ""
    user_id: str = ""
    per_transaction: int | None = None
    daily: int | None = None


TransactionEvent: TypeAlias = (
    TransferRequested
    | TransferDebited
    | TransferCompleted
    | TransferFailed
    | TransferReversed
    | TransferReversalFailed
    | DepositRequested
    | DepositCompleted
    | DepositFailed
    | WithdrawalRequested
    | WithdrawalCompleted
    | WithdrawalFailed
    | WithdrawalDebitFailed
    | PaymentRequested
    | PaymentCompleted
    | PaymentFailed
    | PaymentCancelled
    | RefundRequested
    | RefundCompleted
    | RefundFailed
)
TermsChanged: TypeAlias = FeeScheduleChanged | LimitChanged  # an admin's, no transaction
ScheduleEvent: TypeAlias = ScheduledRunFailed | SchedulePaused  # the scheduler's
TransactionTopicEvent: TypeAlias = (  # all the topic carries
    TransactionEvent | TermsChanged | FxRatesChanged | ScheduleEvent
)


def decode_transaction_event(payload: Mapping[str, Any]) -> TransactionTopicEvent:
    """The `transaction-events` message of an envelope's payload (ValueError if it is
    none): a transaction's event, a change of the fees, limits or rates, or a
    schedule's."""
    event: TransactionTopicEvent = from_payload(payload, TransactionTopicEvent)
    return event
