"""Saga state of one transaction and its stored form.

Statuses and step names are stable strings (they are stored and shown by the status API).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Final, TypeAlias

import msgspec

from contracts.payment import ProviderOutcome
from contracts.wallet import (
    CreditRejected,
    DebitRejected,
    HoldCaptured,
    HoldPlaced,
    HoldRejected,
    HoldReleased,
    WalletCredited,
    WalletDebited,
)


class SagaStatus(StrEnum):
    CHARGING = "CHARGING"  # deposit: the card is being charged
    REFUNDING = "REFUNDING"  # deposit: the credit was refused, the charge is refunded
    HOLDING = "HOLDING"  # withdrawal: the amount is being held
    PAYING_OUT = "PAYING_OUT"  # withdrawal: held, the payout is sent
    CAPTURING = "CAPTURING"  # withdrawal: paid out, the hold is captured
    RELEASING = "RELEASING"  # withdrawal: the payout failed, the hold is released
    DEBITING = "DEBITING"
    CREDITING = "CREDITING"
    REVERSING = "REVERSING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    REVERSED = "REVERSED"
    REVERSAL_FAILED = "REVERSAL_FAILED"
    CANCELLED = "CANCELLED"  # card payment: its pending charge voided, nothing moved


TERMINAL: Final = frozenset(
    {
        SagaStatus.COMPLETED,
        SagaStatus.FAILED,
        SagaStatus.REVERSED,
        SagaStatus.REVERSAL_FAILED,
        SagaStatus.CANCELLED,
    }
)


# A wallet's answer to a saga's command (the decider's).
WalletAnswer: TypeAlias = (
    WalletDebited
    | DebitRejected
    | WalletCredited
    | CreditRejected
    | HoldPlaced
    | HoldRejected
    | HoldCaptured
    | HoldReleased
)
# What moves a saga once it started: a wallet's or the provider's answer.
Answer: TypeAlias = WalletAnswer | ProviderOutcome


class Step(msgspec.Struct, frozen=True, array_like=True):
    """One saga step: `step` in requested/debit/credit/reverse, `status` requested/done/
    rejected, `at` epoch ms; stored as a `[step, status, at]` list."""

    step: str
    status: str
    at: int


class SagaState(msgspec.Struct, frozen=True, kw_only=True):
    """State of one transaction's saga; `kind` is "transfer", "deposit", "withdrawal",
    "payment" (to a merchant) or "refund" (of a payment).
    `method_id` is a deposit's card or a withdrawal's bank account at the provider,
    `owner_id` whose it is, `charge_id` a deposit's charge once the provider made it;
    `merchant_id` and `order_id` a payment's (or a refunded payment's), `payment_id` the
    payment a refund gives money back from. `early` holds the answers that came before
    the saga was waiting for them (``saga.react``), until it is."""

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
    owner_id: str = ""
    method_id: str = ""
    charge_id: str = ""
    merchant_id: str = ""
    order_id: str = ""
    payment_id: str = ""
    # a transfer that converts (docs/fx.md): its quote, and what the payee gets in what
    quote_id: str = ""
    to_currency: str = ""
    to_amount: int = 0
    steps: tuple[Step, ...] = ()
    failure_reason: str | None = None
    early: tuple[Answer, ...] = ()

    def is_terminal(self) -> bool:
        """True once the saga can no longer change."""
        return self.status in TERMINAL


def saga_to_dict(state: SagaState) -> dict[str, Any]:
    """JSON-safe form of a saga state (steps as [step, status, at] lists)."""
    data: dict[str, Any] = msgspec.to_builtins(state)
    return data


def saga_from_dict(data: Mapping[str, Any]) -> SagaState:
    """Rebuild a saga state saved by `saga_to_dict`."""
    return msgspec.convert(data, SagaState)
