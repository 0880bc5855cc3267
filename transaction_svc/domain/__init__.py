"""Pure transaction domain core (no I/O): the saga and its state; its messages are in
`contracts.transaction`, `contracts.payment`, `contracts.provider` and `contracts.wallet`."""

from transaction_svc.domain.saga import (
    FEES,
    IN_TRANSIT,
    credit_command_id,
    debit_command_id,
    react,
    reverse_command_id,
)
from transaction_svc.domain.state import (
    SagaState,
    SagaStatus,
    Step,
    saga_from_dict,
    saga_to_dict,
)
from transaction_svc.domain.steps import settlement_account

__all__ = [
    "FEES",
    "IN_TRANSIT",
    "SagaState",
    "SagaStatus",
    "Step",
    "credit_command_id",
    "debit_command_id",
    "react",
    "reverse_command_id",
    "saga_from_dict",
    "saga_to_dict",
    "settlement_account",
]
