"""The status a client sees for a transaction."""

from __future__ import annotations

from transaction_svc.domain.state import SagaState, SagaStatus

PENDING = "pending"
TERMINAL = frozenset({"completed", "failed", "reversed", "reversal_failed"})

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
}


def public_status(state: SagaState | None) -> str:
    """pending -> processing -> completed | failed (deposits and withdrawals, while the
    provider and the wallet answer), pending -> completed | failed, or pending ->
    reversing -> reversed (transfers). A transfer
    stays pending until the saga hears its credit's answer (or the debit's rejection):
    the saga does not react to a debit whose credit rode with it. ``processing`` shows
    only after a debit answered without a continuation (appended before they existed)."""
    return PENDING if state is None else _PUBLIC[state.status]
