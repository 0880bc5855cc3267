"""Transfer and deposit saga (orchestrator), pure: `react(state, message, now)`.

Transfer: TransferRequested -> DebitWallet `{tx}:debit` (source -> system:in_transit,
amount + fee) -> CreditWallet `{tx}:credit` (in_transit -> destination, fee ->
system:fees) -> TransferCompleted. The debit carries the credit as its continuation
(`DebitWallet.then`): the decider appends it in the same Kafka transaction as an
accepted debit, so the saga reacts only to the credit's answer (or the debit's
rejection); a debit answered without continuation still gets its credit from here.
A rejected debit ends in TransferFailed; a rejected credit triggers the compensating
CreditWallet `{tx}:reverse` (amount + fee back to the source, never rejected for status
or expiry) and ends in TransferReversed.
Deposit: DepositRequested -> CreditWallet `{tx}:credit` from system:settlement:<provider>
-> DepositCompleted or DepositFailed.

Termination: the debit and credit carry `expires_at=deadline`, so the wallet decider
rejects them ("expired") once the deadline passed; the reversal has no expiry. Every
saga therefore reaches a terminal state as long as the wallet decider runs.
Unexpected, duplicate or out-of-order messages leave the state unchanged.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeAlias

from msgspec.structs import replace

from contracts.time import epoch_ms
from contracts.transaction import (
    DepositCompleted,
    DepositFailed,
    DepositRequested,
    TransactionEvent,
    TransferCompleted,
    TransferDebited,
    TransferFailed,
    TransferRequested,
    TransferReversalFailed,
    TransferReversed,
)
from contracts.wallet import (
    CreditRejected,
    CreditWallet,
    DebitRejected,
    DebitWallet,
    WalletCredited,
    WalletDebited,
)
from transaction_svc.domain.state import SagaState, SagaStatus, Step

IN_TRANSIT = "system:in_transit"
FEES = "system:fees"

SagaCommand: TypeAlias = DebitWallet | CreditWallet
Reaction: TypeAlias = tuple[SagaState | None, list[SagaCommand], list[TransactionEvent]]


def debit_command_id(transaction_id: str) -> str:
    """command_id of the saga's debit of the source wallet."""
    return f"{transaction_id}:debit"


def credit_command_id(transaction_id: str) -> str:
    """command_id of the saga's credit of the destination wallet."""
    return f"{transaction_id}:credit"


def reverse_command_id(transaction_id: str) -> str:
    """command_id of the compensating credit back to the source wallet."""
    return f"{transaction_id}:reverse"


def settlement_account(provider: str) -> str:
    """External settlement account of a payment provider."""
    return f"system:settlement:{provider}"


def react(state: SagaState | None, message: Any, now: int | datetime) -> Reaction:
    """Advance the saga of `message.transaction_id`; return (state, commands, events).

    `state` is None before the saga starts. Ignored messages return `(state, [], [])`.
    """
    at = epoch_ms(now)
    if isinstance(message, TransferRequested | DepositRequested):
        return (state, [], []) if state is not None else _start(message, at)
    if state is None or state.is_terminal():
        return state, [], []
    if getattr(message, "transaction_id", None) != state.transaction_id:
        return state, [], []
    expected = {
        SagaStatus.DEBITING: debit_command_id,
        SagaStatus.CREDITING: credit_command_id,
        SagaStatus.REVERSING: reverse_command_id,
    }[state.status](state.transaction_id)
    command_id = getattr(message, "command_id", None)
    if state.status is SagaStatus.DEBITING and command_id == credit_command_id(
        state.transaction_id
    ):
        # The debit's continuation answered first (the saga need not see the debit): the
        # debit was accepted, since the decider appends the credit only then.
        state = _credited_next(state, at)
    elif command_id != expected:
        return state, [], []
    match (state.status, message):
        case (SagaStatus.DEBITING, WalletDebited()):
            # a debit without a continuation (appended before continuations existed)
            s = _credited_next(state, at)
            return s, [_credit(s)], [TransferDebited(**_base(s), debited=s.amount + s.fee)]
        case (SagaStatus.DEBITING, DebitRejected()):
            s = _finish(state, at, SagaStatus.FAILED, ("debit", "rejected"), message.reason)
            return s, [], [TransferFailed(**_base(s), reason=message.reason)]
        case (SagaStatus.CREDITING, WalletCredited()):
            return _complete(state, at)
        case (SagaStatus.CREDITING, CreditRejected()):
            return _credit_rejected(state, at, message.reason)
        case (SagaStatus.REVERSING, WalletCredited()):
            reason = state.failure_reason or ""
            s = _finish(state, at, SagaStatus.REVERSED, ("reverse", "done"), reason)
            return s, [], [TransferReversed(**_base(s), reason=reason)]
        case (SagaStatus.REVERSING, CreditRejected()):
            # Cannot happen with the wallet decider's rules; end loudly rather than hang.
            reason = f"{state.failure_reason}; reversal {message.reason}"
            s = _finish(state, at, SagaStatus.REVERSAL_FAILED, ("reverse", "rejected"), reason)
            return s, [], [TransferReversalFailed(**_base(s), reason=message.reason)]
    return state, [], []


def _start(message: TransferRequested | DepositRequested, at: int) -> Reaction:
    if isinstance(message, DepositRequested):
        s = SagaState(
            transaction_id=message.transaction_id,
            kind="deposit",
            status=SagaStatus.CREDITING,
            from_wallet_id="",
            to_wallet_id=message.wallet_id,
            amount=message.amount,
            currency=message.currency,
            deadline=message.deadline,
            provider=message.provider,
            steps=(Step(step="requested", status="done", at=at),),
        )
        s = _step(s, at, ("credit", "requested"))
        return s, [_credit(s)], []
    s = SagaState(
        transaction_id=message.transaction_id,
        kind="transfer",
        status=SagaStatus.DEBITING,
        from_wallet_id=message.from_wallet_id,
        to_wallet_id=message.to_wallet_id,
        amount=message.amount,
        currency=message.currency,
        fee=message.fee,
        deadline=message.deadline,
        steps=(Step(step="requested", status="done", at=at),),
    )
    s = _step(s, at, ("debit", "requested"))
    debit = DebitWallet(
        command_id=debit_command_id(s.transaction_id),
        wallet_id=s.from_wallet_id,
        transaction_id=s.transaction_id,
        amount=s.amount + s.fee,
        currency=s.currency,
        counter_account=IN_TRANSIT,
        expires_at=s.deadline,
        then=_credit(s),
    )
    return s, [debit], []


def _credited_next(state: SagaState, at: int) -> SagaState:
    s = _step(state, at, ("debit", "done"), ("credit", "requested"))
    return replace(s, status=SagaStatus.CREDITING)


def _credit(s: SagaState) -> CreditWallet:
    deposit = s.kind == "deposit"
    return CreditWallet(
        command_id=credit_command_id(s.transaction_id),
        wallet_id=s.to_wallet_id,
        transaction_id=s.transaction_id,
        amount=s.amount,
        currency=s.currency,
        counter_account=settlement_account(s.provider) if deposit else IN_TRANSIT,
        expires_at=s.deadline,
        fee=0 if deposit else s.fee,
        fee_account=FEES,
    )


def _complete(state: SagaState, at: int) -> Reaction:
    s = _finish(state, at, SagaStatus.COMPLETED, ("credit", "done"), None)
    if s.kind == "deposit":
        return s, [], [DepositCompleted(**_deposit_base(s))]
    return s, [], [TransferCompleted(**_base(s), fee=s.fee)]


def _credit_rejected(state: SagaState, at: int, reason: str) -> Reaction:
    if state.kind == "deposit":
        s = _finish(state, at, SagaStatus.FAILED, ("credit", "rejected"), reason)
        return s, [], [DepositFailed(**_deposit_base(s), reason=reason)]
    s = _step(state, at, ("credit", "rejected"), ("reverse", "requested"))
    s = replace(s, status=SagaStatus.REVERSING, failure_reason=reason)
    refund = CreditWallet(
        command_id=reverse_command_id(s.transaction_id),
        wallet_id=s.from_wallet_id,
        transaction_id=s.transaction_id,
        amount=s.amount + s.fee,
        currency=s.currency,
        counter_account=IN_TRANSIT,
        compensation=True,
    )
    return s, [refund], []


def _step(state: SagaState, at: int, *steps: tuple[str, str]) -> SagaState:
    new = tuple(Step(step=name, status=status, at=at) for name, status in steps)
    return replace(state, steps=state.steps + new)


def _finish(
    state: SagaState, at: int, status: SagaStatus, step: tuple[str, str], reason: str | None
) -> SagaState:
    return replace(_step(state, at, step), status=status, failure_reason=reason)


def _base(s: SagaState) -> dict[str, Any]:
    return {
        "transaction_id": s.transaction_id,
        "from_wallet_id": s.from_wallet_id,
        "to_wallet_id": s.to_wallet_id,
        "amount": s.amount,
        "currency": s.currency,
    }


def _deposit_base(s: SagaState) -> dict[str, Any]:
    return {
        "transaction_id": s.transaction_id,
        "wallet_id": s.to_wallet_id,
        "amount": s.amount,
        "currency": s.currency,
        "provider": s.provider,
    }
