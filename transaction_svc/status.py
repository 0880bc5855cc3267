"""The status a client sees for a transaction."""

from __future__ import annotations

from transaction_svc.domain.messages import SagaState, SagaStatus

PENDING = "pending"
TERMINAL = frozenset({"completed", "failed", "reversed", "reversal_failed"})

_PUBLIC = {
    SagaStatus.DEBITING: "processing",
    SagaStatus.CREDITING: "processing",
    SagaStatus.REVERSING: "reversing",
    SagaStatus.COMPLETED: "completed",
    SagaStatus.FAILED: "failed",
    SagaStatus.REVERSED: "reversed",
    SagaStatus.REVERSAL_FAILED: "reversal_failed",
}


def public_status(state: SagaState | None) -> str:
    """pending -> processing (-> reversing) -> completed | failed | reversed."""
    return PENDING if state is None else _PUBLIC[state.status]
