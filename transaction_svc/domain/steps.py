"""What every saga does with its state: record steps, finish, name accounts and commands.

Command ids are derived from the transaction (`{tx}:{step}`), so a command sent twice is
one command to its receiver (the wallet decider, or the provider by idempotency key).
"""

from __future__ import annotations

from typing import Any, TypeAlias

from msgspec.structs import replace

from contracts.payment import PaymentEvent
from contracts.provider import ProviderCommand, RefundCharge
from contracts.transaction import TransactionEvent
from contracts.wallet import WalletCommand
from transaction_svc.domain.state import SagaState, SagaStatus, Step

IN_TRANSIT = "system:in_transit"
FEES = "system:fees"
FX = "system:fx"  # a converting transfer's money, in each of its two currencies

SagaCommand: TypeAlias = WalletCommand | ProviderCommand
SagaEvent: TypeAlias = TransactionEvent | PaymentEvent
Reaction: TypeAlias = tuple[SagaState | None, list[SagaCommand], list[SagaEvent]]


def command_id(transaction_id: str, step: str) -> str:
    """The id of a saga's command for ``step`` (debit, credit, charge, hold, ...)."""
    return f"{transaction_id}:{step}"


def settlement_account(provider: str) -> str:
    """External settlement account of a payment provider."""
    return f"system:settlement:{provider}"


def provider_saga(
    message: Any, at: int, kind: str, status: SagaStatus, method_id: str, first: str
) -> SagaState:
    """The first state of a deposit or withdrawal (``message`` its request, with its
    fee), with the ``first`` step requested; a deposit's wallet is its destination, a
    withdrawal's its source."""
    incoming = kind == "deposit"
    s = SagaState(
        transaction_id=message.transaction_id,
        kind=kind,
        status=status,
        from_wallet_id="" if incoming else message.wallet_id,
        to_wallet_id=message.wallet_id if incoming else "",
        amount=message.amount,
        currency=message.currency,
        fee=message.fee,
        deadline=message.deadline,
        provider=message.provider,
        owner_id=message.owner_id,
        method_id=method_id,
        steps=(Step(step="requested", status="done", at=at),),
    )
    return step(s, at, (first, "requested"))


def unchanged(state: SagaState | None) -> Reaction:
    return state, [], []


def step(state: SagaState, at: int, *steps: tuple[str, str]) -> SagaState:
    new = tuple(Step(step=name, status=status, at=at) for name, status in steps)
    return replace(state, steps=state.steps + new)


def advance(
    state: SagaState,
    at: int,
    status: SagaStatus,
    *steps: tuple[str, str],
    reason: str | None = None,
) -> SagaState:
    """Record ``steps`` and move to the non-terminal ``status`` (keeping ``reason`` as the
    failure reason to end with, when a compensation starts)."""
    s = replace(step(state, at, *steps), status=status)
    return s if reason is None else replace(s, failure_reason=reason)


def finish(
    state: SagaState, at: int, status: SagaStatus, done: tuple[str, str], reason: str | None
) -> SagaState:
    return replace(step(state, at, done), status=status, failure_reason=reason)


def money(s: SagaState, wallet_id: str) -> dict[str, Any]:
    """The fields every payment event carries."""
    return {
        "payment_id": s.transaction_id,
        "wallet_id": wallet_id,
        "amount": s.amount,
        "currency": s.currency,
    }


def provider_money(s: SagaState, wallet_id: str) -> dict[str, Any]:
    """The fields a deposit's or withdrawal's transaction event carries."""
    return {
        "transaction_id": s.transaction_id,
        "wallet_id": wallet_id,
        "amount": s.amount,
        "currency": s.currency,
        "provider": s.provider,
    }


def refund_charge(s: SagaState, wallet_id: str, payment_id: str = "") -> RefundCharge:
    """Give ``s.amount`` + ``s.fee`` of the charge ``s.charge_id`` back (``{tx}:refund``,
    also the provider's idempotency key): a deposit's or card payment's whole charge, or
    a refund's amount (a refund carries no fee); ``payment_id``: a card payment's, whose
    key the answer is published under."""
    return RefundCharge(
        command_id=command_id(s.transaction_id, "refund"),
        transaction_id=s.transaction_id,
        wallet_id=wallet_id,
        charge_id=s.charge_id,
        amount=s.amount,
        currency=s.currency,
        idempotency_key=command_id(s.transaction_id, "refund"),
        payment_id=payment_id,
        fee=s.fee,
    )
