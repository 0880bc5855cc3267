"""Pure transaction domain core (no I/O): the saga and its state; its messages are in
`contracts.transaction` and `contracts.wallet`."""

from transaction_svc.domain.saga import (
    FEES,
    IN_TRANSIT,
    credit_command_id,
    debit_command_id,
    react,
    reverse_command_id,
    settlement_account,
)
from transaction_svc.domain.state import (
    SagaState,
    SagaStatus,
    Step,
    saga_from_dict,
    saga_to_dict,
)

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
