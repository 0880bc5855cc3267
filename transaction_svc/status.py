"""The status a client sees for a transaction."""

from __future__ import annotations

from transaction_svc.domain.state import SagaState, SagaStatus

PENDING = "pending"
TERMINAL = frozenset({"completed", "failed", "reversed", "reversal_failed", "cancelled"})

_PUBLIC = {
    SagaStatus.CHARGING: "processing",
    SagaStatus.REFUNDING: "processing",
    SagaStatus.HOLDING: "processing",
    SagaStatus.PAYING_OUT: "processing",
    SagaStatus.CAPTURING: "processing",
    SagaStatus.RELEASING: "processing",
    SagaStatus.DEBITING: "processing",
    SagaStatus.CREDITING: "processing",
    SagaStatus.REVERSING: "reversing",
    SagaStatus.COMPLETED: "completed",
    SagaStatus.FAILED: "failed",
    SagaStatus.REVERSED: "reversed",
    SagaStatus.REVERSAL_FAILED: "reversal_failed",
    SagaStatus.CANCELLED: "cancelled",
}


def public_status(state: SagaState | None) -> str:
    """pending -> processing -> completed | failed (deposits and withdrawals, while the
    provider and the wallet answer), pending -> completed | failed, or pending ->
    reversing -> reversed (transfers). A transfer
    stays pending until the saga hears its credit's answer (or the debit's rejection):
    the saga does not react to a debit whose credit rode with it. ``processing`` shows
    only after a debit answered without a continuation (appended before they existed)."""
    return PENDING if state is None else _PUBLIC[state.status]


# A payment's own status, from its transaction's: a payment that did not end completed
# moved nothing (or gave it back), so it failed.
_PAYMENT = {
    "pending": "pending",
    "processing": "processing",
    "reversing": "processing",  # the payer is being paid back: not ended yet
    "completed": "completed",
    "cancelled": "cancelled",
}


def payment_status(transaction_status: str, amount: int, refunded: int) -> str:
    """pending -> processing -> completed | failed | cancelled (a card payment whose
    pending charge was voided), then partially_refunded and refunded
    as completed refunds add up (``refunded`` of ``amount``)."""
    if refunded and refunded >= amount:
        return "refunded"
    if refunded:
        return "partially_refunded"
    return _PAYMENT.get(transaction_status, "failed")
