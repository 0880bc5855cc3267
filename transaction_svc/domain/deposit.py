"""The deposit saga: charge the caller's card at the provider, then credit the wallet.
A card payment to a merchant is the same saga into the merchant's wallet, with the
payment's own terminal events (`merchant.ended`).

CHARGING: `ChargeCard` (`{tx}:charge`, also the provider's idempotency key) for the
amount and the fee goes to the provider; `ChargePending` only records a step (the
provider's signed callback decides later); `ChargeFailed` ends FAILED with the provider's
code and nothing credited; a pending charge voided (`ChargeVoided`: the payer cancelled a
card payment) ends CANCELLED, nothing charged; `ChargeSucceeded` -> CREDITING:
`CreditWallet` `{tx}:credit` of the amount from the provider's settlement account, the
fee to system:fees in the same decision, with no expiry (the money is already taken: only
a wallet that cannot take it refuses). A credited wallet ends COMPLETED. A refused credit
-> REFUNDING: `RefundCharge` `{tx}:refund` gives the card all it paid back, fee included,
and `ChargeRefunded` ends FAILED with the credit's reason. So a deposit charges at most
once and credits only what was charged, whatever is replayed or retried.
"""

from __future__ import annotations

from typing import Any

from msgspec.structs import replace

from contracts import payment as pay
from contracts.provider import ChargeCard
from contracts.transaction import DepositCompleted, DepositFailed, DepositRequested
from contracts.wallet import CreditRejected, CreditWallet, WalletCredited
from transaction_svc.domain.merchant import ended
from transaction_svc.domain.state import SagaState, SagaStatus
from transaction_svc.domain.steps import (
    FEES,
    Reaction,
    advance,
    command_id,
    finish,
    money,
    provider_money,
    provider_saga,
    refund_charge,
    settlement_account,
    step,
    unchanged,
)


def start_deposit(message: DepositRequested, at: int) -> Reaction:
    s = provider_saga(
        message, at, "deposit", SagaStatus.CHARGING, message.payment_method_id, "charge"
    )
    initiated = pay.DepositInitiated(
        **money(s, s.to_wallet_id), payment_method_id=s.method_id, provider=s.provider
    )
    return s, [charge(s)], [initiated]


def charge(s: SagaState) -> ChargeCard:
    """Charge the card ``s.method_id`` of ``s.owner_id`` for the wallet ``s.to_wallet_id``
    (a deposit's, or the merchant's of a card payment)."""
    return ChargeCard(
        command_id=command_id(s.transaction_id, "charge"),
        transaction_id=s.transaction_id,
        wallet_id=s.to_wallet_id,
        owner_id=s.owner_id,
        payment_method_id=s.method_id,
        amount=s.amount,
        currency=s.currency,
        idempotency_key=command_id(s.transaction_id, "charge"),
        fee=s.fee,
    )


def react_deposit(s: SagaState, message: Any, at: int) -> Reaction:
    tx = s.transaction_id
    match (s.status, message):
        case (SagaStatus.CHARGING, pay.ChargePending()):
            if any(x.step == "charge" and x.status == "pending" for x in s.steps):
                return unchanged(s)
            return replace(step(s, at, ("charge", "pending")), charge_id=message.charge_id), [], []
        case (SagaStatus.CHARGING, pay.ChargeSucceeded()):
            s = advance(s, at, SagaStatus.CREDITING, ("charge", "done"), ("credit", "requested"))
            s = replace(s, charge_id=message.charge_id)
            credit = CreditWallet(
                command_id=command_id(tx, "credit"),
                wallet_id=s.to_wallet_id,
                transaction_id=tx,
                amount=s.amount,
                currency=s.currency,
                counter_account=settlement_account(s.provider),
                fee=s.fee,
                fee_account=FEES,
            )
            return s, [credit], []
        case (SagaStatus.CHARGING, pay.ChargeFailed()):
            return _failed(s, at, ("charge", "rejected"), message.failure_reason)
        case (SagaStatus.CHARGING, pay.ChargeVoided()):  # cancelled before it was decided
            if s.kind == "payment":
                s = finish(s, at, SagaStatus.CANCELLED, ("charge", "voided"), None)
                return s, [], ended(s, None)
            return _failed(s, at, ("charge", "voided"), "charge_voided")
        case (SagaStatus.CREDITING, WalletCredited()) if message.command_id == command_id(
            tx, "credit"
        ):
            s = finish(s, at, SagaStatus.COMPLETED, ("credit", "done"), None)
            if s.kind == "payment":
                return s, [], ended(s, None)
            return (
                s,
                [],
                [
                    DepositCompleted(**provider_money(s, s.to_wallet_id), fee=s.fee),
                    pay.DepositCompleted(**money(s, s.to_wallet_id)),
                ],
            )
        case (SagaStatus.CREDITING, CreditRejected()) if message.command_id == command_id(
            tx, "credit"
        ):
            if not s.charge_id:  # credited from settlement without a charge: nothing to refund
                return _failed(s, at, ("credit", "rejected"), message.reason)
            refunding = ("credit", "rejected"), ("refund", "requested")
            s = advance(s, at, SagaStatus.REFUNDING, *refunding, reason=message.reason)
            return s, [refund_charge(s, s.to_wallet_id)], []
        case (SagaStatus.REFUNDING, pay.ChargeRefunded()):
            return _failed(s, at, ("refund", "done"), s.failure_reason or "credit_rejected")
    return unchanged(s)


def _failed(s: SagaState, at: int, done: tuple[str, str], reason: str) -> Reaction:
    s = finish(s, at, SagaStatus.FAILED, done, reason)
    if s.kind == "payment":
        return s, [], ended(s, reason)
    return (
        s,
        [],
        [
            DepositFailed(**provider_money(s, s.to_wallet_id), reason=reason),
            pay.DepositFailed(**money(s, s.to_wallet_id), failure_reason=reason),
        ],
    )
