"""Public `transaction-events` (key `transaction_id`), saga state and their codecs.

Amounts are int minor units; `deadline` is epoch ms. Statuses and step names are
stable strings (they are stored and shown by the status API).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final, TypeAlias

from wallet_svc.domain.events import message_from_dict, message_to_dict


@dataclass(frozen=True, slots=True, kw_only=True)
class TransferRequested:
    transaction_id: str
    from_wallet_id: str
    to_wallet_id: str
    amount: int
    currency: str
    deadline: int
    fee: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class TransferDebited:
    """The source paid `debited` (= amount + fee) into system:in_transit."""

    transaction_id: str
    from_wallet_id: str
    to_wallet_id: str
    amount: int
    currency: str
    debited: int


@dataclass(frozen=True, slots=True, kw_only=True)
class TransferCompleted:
    transaction_id: str
    from_wallet_id: str
    to_wallet_id: str
    amount: int
    currency: str
    fee: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class TransferFailed:
    """The debit was rejected: no money moved."""

    transaction_id: str
    from_wallet_id: str
    to_wallet_id: str
    amount: int
    currency: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TransferReversed:
    """The credit was rejected (`reason`) and the source was refunded amount + fee."""

    transaction_id: str
    from_wallet_id: str
    to_wallet_id: str
    amount: int
    currency: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TransferReversalFailed:
    """The compensating credit was rejected: money sits in system:in_transit (alert)."""

    transaction_id: str
    from_wallet_id: str
    to_wallet_id: str
    amount: int
    currency: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DepositRequested:
    transaction_id: str
    wallet_id: str
    amount: int
    currency: str
    provider: str
    deadline: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DepositCompleted:
    transaction_id: str
    wallet_id: str
    amount: int
    currency: str
    provider: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DepositFailed:
    """The credit was rejected; the provider charge must be refunded by pgw."""

    transaction_id: str
    wallet_id: str
    amount: int
    currency: str
    provider: str
    reason: str


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
)

TRANSACTION_EVENT_TYPES: Final[dict[str, type[TransactionEvent]]] = {
    cls.__name__: cls for cls in TransactionEvent.__args__
}


def transaction_event_to_dict(event: TransactionEvent) -> dict[str, Any]:
    """Encode a transaction event for the envelope payload (with "type")."""
    return message_to_dict(event)


def transaction_event_from_dict(data: Mapping[str, Any]) -> TransactionEvent:
    """Decode a transaction event made by `transaction_event_to_dict` (exact round trip)."""
    return message_from_dict(data, TRANSACTION_EVENT_TYPES)


class SagaStatus(StrEnum):
    DEBITING = "DEBITING"
    CREDITING = "CREDITING"
    REVERSING = "REVERSING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    REVERSED = "REVERSED"
    REVERSAL_FAILED = "REVERSAL_FAILED"


TERMINAL: Final = frozenset(
    {SagaStatus.COMPLETED, SagaStatus.FAILED, SagaStatus.REVERSED, SagaStatus.REVERSAL_FAILED}
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    """One saga step: `step` in requested/debit/credit/reverse, `status` requested/done/
    rejected, `at` epoch ms."""

    step: str
    status: str
    at: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SagaState:
    """State of one transaction's saga; `kind` is "transfer" or "deposit"."""

    transaction_id: str
    kind: str
    status: SagaStatus
    from_wallet_id: str
    to_wallet_id: str
    amount: int
    currency: str
    fee: int = 0
    deadline: int | None = None
    provider: str = ""
    steps: tuple[Step, ...] = ()
    failure_reason: str | None = None

    def is_terminal(self) -> bool:
        """True once the saga can no longer change."""
        return self.status in TERMINAL


def saga_to_dict(state: SagaState) -> dict[str, Any]:
    """JSON-safe form of a saga state (steps as [step, status, at] lists)."""
    data = message_to_dict(state)
    del data["type"]
    data["status"] = state.status.value
    data["steps"] = [[s.step, s.status, s.at] for s in state.steps]
    return data


def saga_from_dict(data: Mapping[str, Any]) -> SagaState:
    """Rebuild a saga state saved by `saga_to_dict`."""
    fields = {k: v for k, v in data.items() if k not in ("status", "steps")}
    return SagaState(
        **fields,
        status=SagaStatus(data["status"]),
        steps=tuple(Step(step=s, status=st, at=at) for s, st, at in data["steps"]),
    )
