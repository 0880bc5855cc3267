"""Which events make which notifications (pure): the one table of notification kinds.

An event becomes zero or more ``Intent``s: a kind (its templates are
``templates/<kind>/``), a category (preferences), a recipient (a user, or the owner of a
wallet, looked up in the worker's projection) and what the templates show. Deposits,
withdrawals and transfers (completed, failed, or reversed: the sender hears), money left
for an operator to settle (a withdrawal paid out but not debited, a transfer whose
reversal failed: an alert the user cannot turn off), and a schedule's failed runs and its
pause after failures (its owner hears), are told from ``transaction-events``; payments
to merchants (received, or failed: the payer hears) and their refunds from
``payment-events``, whose events name the payer's wallet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from contracts import payment, schedule, transaction, user
from contracts.topics import PAYMENT_EVENTS, TRANSACTION_EVENTS, USER_EVENTS
from notification_worker.preferences import ALERTS, SECURITY

Event = Any  # a decoded contract message


@dataclass(frozen=True, slots=True, kw_only=True)
class Intent:
    """A notification to make: ``user_id`` or the owner of ``wallet_id`` receives it."""

    kind: str
    category: str
    user_id: str | None = None
    wallet_id: str | None = None
    context: dict[str, Any] = field(default_factory=dict)
    # the email request whose one-time token the mail carries (user_svc makes it)
    link_request: str | None = None


def _money(event: Any) -> dict[str, Any]:
    return {"amount": event.amount, "currency": event.currency,
            "transaction_id": event.transaction_id}  # fmt: skip


def user_intents(event: Event) -> list[Intent]:
    match event:
        case user.EmailVerificationRequested():
            return [Intent(kind="verify_email", category=SECURITY, user_id=event.user_id,
                           context={"expires_in": event.expires_in},
                           link_request=event.request_id)]  # fmt: skip
        case user.PasswordResetRequested():
            return [Intent(kind="password_reset", category=SECURITY, user_id=event.user_id,
                           context={"expires_in": event.expires_in},
                           link_request=event.request_id)]  # fmt: skip
        case user.PasswordChanged():
            return [Intent(kind="password_changed", category=SECURITY, user_id=event.user_id,
                           context={"how": event.how})]  # fmt: skip
    return []


def transaction_intents(event: Event) -> list[Intent]:
    t = transaction
    match event:
        case t.TransferCompleted():
            ctx = {**_money(event), "fee": event.fee}
            got = ctx  # what the payee got: in its own currency when the transfer converted
            if event.to_currency:
                got = {**ctx, "amount": event.to_amount, "currency": event.to_currency}
            return [
                Intent(kind="transfer_sent", category="transfers",
                       wallet_id=event.from_wallet_id, context=ctx),
                Intent(kind="transfer_received", category="transfers",
                       wallet_id=event.to_wallet_id, context=got),
            ]  # fmt: skip
        case t.TransferFailed():
            return [Intent(kind="transfer_failed", category="transfers",
                           wallet_id=event.from_wallet_id,
                           context={**_money(event), "reason": event.reason})]  # fmt: skip
        case t.TransferReversed():
            return [Intent(kind="transfer_reversed", category="transfers",
                           wallet_id=event.from_wallet_id,
                           context={**_money(event), "reason": event.reason})]  # fmt: skip
        case t.TransferReversalFailed():
            return [Intent(kind="transfer_reversal_failed", category=ALERTS,
                           wallet_id=event.from_wallet_id,
                           context={**_money(event), "reason": event.reason})]  # fmt: skip
        case t.DepositCompleted():
            return [Intent(kind="deposit_completed", category="deposits",
                           wallet_id=event.wallet_id, context=_money(event))]  # fmt: skip
        case t.DepositFailed():
            return [Intent(kind="deposit_failed", category="deposits", wallet_id=event.wallet_id,
                           context={**_money(event), "reason": event.reason})]  # fmt: skip
        case t.WithdrawalCompleted():
            return [Intent(kind="withdrawal_paid_out", category="withdrawals",
                           wallet_id=event.wallet_id, context=_money(event))]  # fmt: skip
        case t.WithdrawalFailed():
            return [Intent(kind="withdrawal_failed", category="withdrawals",
                           wallet_id=event.wallet_id,
                           context={**_money(event), "reason": event.reason})]  # fmt: skip
        case t.WithdrawalDebitFailed():
            return [Intent(kind="withdrawal_debit_failed", category=ALERTS,
                           wallet_id=event.wallet_id,
                           context={**_money(event), "fee": event.fee,
                                    "reason": event.reason})]  # fmt: skip
        case schedule.ScheduledRunFailed():
            return [Intent(kind="scheduled_run_failed", category=_scheduled(event.kind),
                           user_id=event.owner_id,
                           context={**_schedule(event), "run": event.run,
                                    "transaction_id": event.transaction_id})]  # fmt: skip
        case schedule.SchedulePaused():
            return [Intent(kind="schedule_paused", category=_scheduled(event.kind),
                           user_id=event.owner_id,
                           context={**_schedule(event), "failures": event.failures})]  # fmt: skip
    return []


def _scheduled(kind: str) -> str:
    """A schedule's notifications are in the category of what it runs."""
    return "merchant" if kind == "payment" else "transfers"


def _schedule(event: Any) -> dict[str, Any]:
    return {"amount": event.amount, "currency": event.currency, "reason": event.reason,
            "schedule_id": event.schedule_id, "schedule_kind": event.kind}  # fmt: skip


def payment_intents(event: Event) -> list[Intent]:
    """Merchant payments: the merchant hears of each payment received, the payer of each
    payment from their wallet that failed and of each refund issued to their wallet (a
    card payment has no wallet to tell its payer by)."""
    p = payment
    match event:
        case p.PaymentCompleted():
            return [Intent(kind="payment_received", category="merchant",
                           user_id=event.merchant_id,
                           context={"amount": event.amount, "currency": event.currency,
                                    "transaction_id": event.payment_id,
                                    "order_id": event.order_id})]  # fmt: skip
        case p.PaymentFailed() if event.wallet_id:
            return [Intent(kind="payment_failed", category="merchant", wallet_id=event.wallet_id,
                           context={"amount": event.amount, "currency": event.currency,
                                    "transaction_id": event.payment_id,
                                    "order_id": event.order_id,
                                    "reason": event.failure_reason})]  # fmt: skip
        case p.RefundCompleted() if event.wallet_id:
            return [Intent(kind="refund_issued", category="merchant", wallet_id=event.wallet_id,
                           context={"amount": event.amount, "currency": event.currency,
                                    "transaction_id": event.refund_id,
                                    "order_id": event.order_id})]  # fmt: skip
    return []


BY_TOPIC = {
    USER_EVENTS: user_intents,
    TRANSACTION_EVENTS: transaction_intents,
    PAYMENT_EVENTS: payment_intents,
}


def intents(topic: str, event: Event) -> list[Intent]:
    """Every notification ``event`` (read from ``topic``) makes."""
    make = BY_TOPIC.get(topic)
    return make(event) if make is not None else []
