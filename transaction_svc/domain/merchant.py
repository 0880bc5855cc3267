"""Payments to a merchant from a wallet, and their refunds: two-leg movements like a
transfer (`saga.py` drives them with the transfer's steps), with their own events.

A payment debits the payer's wallet (amount + fee) into system:in_transit with the
credit of the merchant's wallet (amount; the fee to system:fees) as the debit's
continuation; a refund debits the merchant's wallet with
the credit of the payer's wallet as continuation. A refused debit moves nothing; a refused
credit is compensated back to the debited wallet. Each ends with its transaction event
(`contracts.transaction`) and its payment event (`contracts.payment`, keyed by the payment:
a refund's events carry `refund_id`). A payment by card is the deposit's saga
(`deposit.py`) into the merchant's wallet: the card is charged amount + fee, the merchant
credited the amount and system:fees the fee in one decision. A refund carries no fee.
"""

from __future__ import annotations

from typing import Any

from msgspec.structs import replace

from contracts import payment as pay
from contracts import transaction as tx
from contracts.payment import PROVIDER
from contracts.wallet import DebitRejected, DebitWallet, WalletDebited
from transaction_svc.domain.state import SagaState, SagaStatus, Step
from transaction_svc.domain.steps import (
    Reaction,
    SagaEvent,
    advance,
    command_id,
    finish,
    refund_charge,
    settlement_account,
)

MerchantRequest = tx.PaymentRequested | tx.RefundRequested
WALLET = "wallet"  # a payment's provider when it comes out of the payer's wallet
CARD = "card"  # a payment charged to the payer's card and credited from the provider's
# settlement account: its saga's `provider` is the one that charges (pgw), like a deposit's


def merchant_saga(message: MerchantRequest, at: int) -> SagaState:
    """The first state of a payment or a refund: debiting, like a transfer; a card
    payment charging, like a deposit (its `charge` step requested)."""
    method_id = owner_id = charge_id = ""
    fee = 0  # a refund carries none: it gives back the amount, the payment's fee stays
    if isinstance(message, tx.RefundRequested):
        refund, provider, payment_id = True, WALLET, message.payment_id
        charge_id = message.charge_id
    else:
        refund, provider, payment_id = False, message.provider, message.transaction_id
        method_id, owner_id, fee = message.payment_method_id, message.owner_id, message.fee
    card = provider == CARD
    provider = PROVIDER if card or charge_id else provider
    s = SagaState(
        transaction_id=message.transaction_id,
        kind="refund" if refund else "payment",
        status=SagaStatus.CHARGING if card else SagaStatus.DEBITING,
        from_wallet_id=message.from_wallet_id,
        to_wallet_id=message.to_wallet_id,
        amount=message.amount,
        currency=message.currency,
        fee=fee,
        deadline=message.deadline,
        provider=provider,
        merchant_id=message.merchant_id,
        order_id=message.order_id,
        payment_id=payment_id,
        steps=(Step(step="requested", status="done", at=at),),
        method_id=method_id,
        owner_id=owner_id,
        charge_id=charge_id,
    )
    first = "charge" if card else "debit"
    return replace(s, steps=(*s.steps, Step(step=first, status="requested", at=at)))


def merchant_request(s: SagaState) -> MerchantRequest:
    """The request a payment's or refund's first state was started from."""
    common: dict[str, Any] = {
        "transaction_id": s.transaction_id,
        "from_wallet_id": s.from_wallet_id,
        "to_wallet_id": s.to_wallet_id,
        "amount": s.amount,
        "currency": s.currency,
        "merchant_id": s.merchant_id,
        "order_id": s.order_id,
        "deadline": s.deadline or 0,
    }
    if s.kind == "refund":
        return tx.RefundRequested(**common, payment_id=s.payment_id, charge_id=s.charge_id)
    return tx.PaymentRequested(
        **common,
        provider=paid_by(s),
        payment_method_id=s.method_id,
        owner_id=s.owner_id,
        fee=s.fee,
    )


def _payment_fields(s: SagaState) -> dict[str, Any]:
    """A payment event's fields: the payer's wallet is `wallet_id` (a refund's payer is
    the credited wallet, the merchant's the debited one)."""
    refund = s.kind == "refund"
    fields = {
        "payment_id": s.payment_id,
        "wallet_id": s.to_wallet_id if refund else s.from_wallet_id,
        "merchant_wallet_id": s.from_wallet_id if refund else s.to_wallet_id,
        "amount": s.amount,
        "currency": s.currency,
        "merchant_id": s.merchant_id,
        "order_id": s.order_id,
    }
    return fields | {"refund_id": s.transaction_id} if refund else fields


def initiated(s: SagaState) -> list[SagaEvent]:
    if s.kind == "refund":
        return [pay.RefundInitiated(**_payment_fields(s))]
    return [pay.PaymentInitiated(**_payment_fields(s), provider=paid_by(s))]


def is_card_payment(s: SagaState) -> bool:
    return s.kind == "payment" and bool(s.method_id)


def is_card_refund(s: SagaState) -> bool:
    """A refund of a card payment: from the merchant's wallet back to the card."""
    return s.kind == "refund" and bool(s.charge_id)


def card_refund_debit(s: SagaState) -> DebitWallet:
    """A card refund's first leg: the merchant's wallet pays the provider's settlement
    account what the provider will give back to the card."""
    return DebitWallet(
        command_id=command_id(s.transaction_id, "debit"),
        wallet_id=s.from_wallet_id,
        transaction_id=s.transaction_id,
        amount=s.amount,
        currency=s.currency,
        counter_account=settlement_account(s.provider),
        expires_at=s.deadline,
    )


def react_card_refund(s: SagaState, message: Any, at: int) -> Reaction:
    """DEBITING: the merchant's debit accepted -> REFUNDING (`RefundCharge` {tx}:refund of
    the payment's charge, the provider's idempotency key), or refused -> FAILED with
    nothing moved. REFUNDING: `ChargeRefunded` -> COMPLETED. The provider does not refuse
    a refund within what its charge has left, which the payment's reserved shares keep."""
    tx_id, answered = s.transaction_id, getattr(message, "command_id", None)
    match (s.status, message):
        case (SagaStatus.DEBITING, WalletDebited()) if answered == command_id(tx_id, "debit"):
            s = advance(s, at, SagaStatus.REFUNDING, ("debit", "done"), ("refund", "requested"))
            return s, [refund_charge(s, s.from_wallet_id, s.payment_id)], []
        case (SagaStatus.DEBITING, DebitRejected()) if answered == command_id(tx_id, "debit"):
            s = finish(s, at, SagaStatus.FAILED, ("debit", "rejected"), message.reason)
            return s, [], ended(s, message.reason)
        case (SagaStatus.REFUNDING, pay.ChargeRefunded()):
            s = finish(s, at, SagaStatus.COMPLETED, ("refund", "done"), None)
            return s, [], ended(s, None)
    return s, [], []


def paid_by(s: SagaState) -> str:
    """A payment's provider as its API and events name it: ``wallet`` or ``card``."""
    return CARD if is_card_payment(s) else WALLET


def ended(s: SagaState, reason: str | None) -> list[SagaEvent]:
    """The events of a payment or refund that ended in ``s`` (completed, or anything else
    with ``reason``: nothing stays moved, or, reversal_failed, an operator must look)."""
    money: dict[str, Any] = {"amount": s.amount, "currency": s.currency}
    fields = _payment_fields(s)
    if s.kind == "refund":
        refund: dict[str, Any] = {
            "transaction_id": s.transaction_id,
            "payment_id": s.payment_id,
            **money,
        }
        if s.status is SagaStatus.COMPLETED:
            return [tx.RefundCompleted(**refund), pay.RefundCompleted(**fields)]
        why = reason or "refund_failed"
        return [
            tx.RefundFailed(**refund, reason=why),
            pay.RefundFailed(**fields, failure_reason=why),
        ]
    order: dict[str, Any] = {"transaction_id": s.transaction_id, "merchant_id": s.merchant_id}
    order |= {"order_id": s.order_id, **money}
    if s.status is SagaStatus.COMPLETED:
        return [tx.PaymentCompleted(**order, fee=s.fee), pay.PaymentCompleted(**fields)]
    if s.status is SagaStatus.CANCELLED:
        return [tx.PaymentCancelled(**order), pay.PaymentCancelled(**fields)]
    why = reason or "payment_failed"
    return [tx.PaymentFailed(**order, reason=why), pay.PaymentFailed(**fields, failure_reason=why)]
