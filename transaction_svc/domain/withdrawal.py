"""The withdrawal saga: hold the amount, pay it out to the caller's bank account, capture.

HOLDING: `PlaceHold` `{tx}:hold` (hold id = transaction id) of the amount and the fee
makes the available balance drop at once; a refused hold (insufficient funds, frozen
wallet) ends FAILED holding nothing. PAYING_OUT: `SendPayout` `{tx}:payout` of the
amount (the provider's idempotency key). A payout that succeeded -> CAPTURING:
`CaptureHold` `{tx}:capture` takes the whole hold out of the wallet (the ledger drops),
the amount to the provider's settlement account and the fee to system:fees in one
decision -> COMPLETED. A payout that failed -> RELEASING: `ReleaseHold` `{tx}:release`
frees all of it, fee included -> FAILED with the provider's code; a hold already gone
(expired) counts as released.

Holds last `HOLD_TTL_MS`. A capture refused because the hold is gone (`expired`, or
`hold_not_found` when the decider's sweep expired it first) took nothing, yet the money
was paid out, so the wallet still owes it: the saga holds it again (`PlaceHold`
`{tx}:rehold`, hold id `{tx}:rehold`) and captures that hold (`{tx}:recapture`) ->
COMPLETED as a first capture would. A wallet that cannot pay any more (spent since,
frozen, closed) or any other refusal ends REVERSAL_FAILED with `WithdrawalDebitFailed`
(paid out, not debited: for an operator).
"""

from __future__ import annotations

from typing import Any

from contracts import payment as pay
from contracts.provider import SendPayout
from contracts.transaction import (
    WithdrawalCompleted,
    WithdrawalDebitFailed,
    WithdrawalFailed,
    WithdrawalRequested,
)
from contracts.wallet import (
    CaptureHold,
    HoldCaptured,
    HoldPlaced,
    HoldRejected,
    HoldReleased,
    PlaceHold,
    Reason,
    ReleaseHold,
)
from transaction_svc.domain.state import SagaState, SagaStatus
from transaction_svc.domain.steps import (
    FEES,
    Reaction,
    advance,
    command_id,
    finish,
    money,
    provider_money,
    provider_saga,
    settlement_account,
    step,
    unchanged,
)

HOLD_TTL_MS = 7 * 24 * 3600 * 1000  # far longer than any payout takes
HOLD_GONE = frozenset({Reason.EXPIRED, Reason.HOLD_NOT_FOUND})  # a capture took nothing


def start_withdrawal(message: WithdrawalRequested, at: int) -> Reaction:
    s = provider_saga(
        message, at, "withdrawal", SagaStatus.HOLDING, message.payout_method_id, "hold"
    )
    hold = _hold(s, at, s.transaction_id, command_id(s.transaction_id, "hold"))
    initiated = pay.WithdrawalInitiated(
        **money(s, s.from_wallet_id), payout_method_id=s.method_id, provider=s.provider
    )
    return s, [hold], [initiated]


def react_withdrawal(s: SagaState, message: Any, at: int) -> Reaction:
    tx = s.transaction_id
    answers = getattr(message, "command_id", None)
    match (s.status, message):
        case (SagaStatus.HOLDING, HoldPlaced()) if answers == command_id(tx, "hold"):
            s = advance(s, at, SagaStatus.PAYING_OUT, ("hold", "done"), ("payout", "requested"))
            payout = SendPayout(
                command_id=command_id(tx, "payout"),
                transaction_id=tx,
                wallet_id=s.from_wallet_id,
                owner_id=s.owner_id,
                payment_method_id=s.method_id,
                amount=s.amount,
                currency=s.currency,
                idempotency_key=command_id(tx, "payout"),
            )
            held = pay.WithdrawalFundsHeld(**money(s, s.from_wallet_id), hold_id=tx, fee=s.fee)
            return s, [payout], [held]
        case (SagaStatus.HOLDING, HoldRejected()) if answers == command_id(tx, "hold"):
            return _failed(s, at, ("hold", "rejected"), message.reason)
        case (SagaStatus.PAYING_OUT, pay.PayoutSucceeded()):
            s = advance(s, at, SagaStatus.CAPTURING, ("payout", "done"), ("capture", "requested"))
            return s, [_capture(s, tx, command_id(tx, "capture"))], []
        case (SagaStatus.PAYING_OUT, pay.PayoutFailed()):
            releasing = ("payout", "rejected"), ("release", "requested")
            s = advance(s, at, SagaStatus.RELEASING, *releasing, reason=message.failure_reason)
            release = ReleaseHold(
                command_id=command_id(tx, "release"),
                wallet_id=s.from_wallet_id,
                hold_id=tx,
                transaction_id=tx,
            )
            return s, [release], []
        case (SagaStatus.CAPTURING, HoldCaptured()) if answers in _captures(tx):
            s = finish(s, at, SagaStatus.COMPLETED, (_step_of(answers), "done"), None)
            return (
                s,
                [],
                [
                    WithdrawalCompleted(**provider_money(s, s.from_wallet_id), fee=s.fee),
                    pay.WithdrawalCompleted(**money(s, s.from_wallet_id)),
                ],
            )
        case (SagaStatus.CAPTURING, HoldRejected()) if answers == command_id(
            tx, "capture"
        ) and not _began(s, "rehold"):
            if message.reason not in HOLD_GONE:
                return _not_debited(s, at, ("capture", "rejected"), message.reason)
            rehold = command_id(tx, "rehold")
            s = step(s, at, ("capture", "rejected"), ("rehold", "requested"))
            return s, [_hold(s, at, rehold, rehold)], []
        case (SagaStatus.CAPTURING, HoldPlaced()) if answers == command_id(
            tx, "rehold"
        ) and not _began(s, "recapture"):
            s = step(s, at, ("rehold", "done"), ("recapture", "requested"))
            return s, [_capture(s, command_id(tx, "rehold"), command_id(tx, "recapture"))], []
        case (SagaStatus.CAPTURING, HoldRejected()) if answers in _retakes(tx):
            return _not_debited(s, at, (_step_of(answers), "rejected"), message.reason)
        case (SagaStatus.RELEASING, HoldReleased() | HoldRejected()) if answers == command_id(
            tx, "release"
        ):
            return _failed(s, at, ("release", "done"), s.failure_reason or "payout_failed")
    return unchanged(s)


def _hold(s: SagaState, at: int, hold_id: str, command: str) -> PlaceHold:
    """Hold the withdrawal's amount and fee in its wallet for `HOLD_TTL_MS`."""
    return PlaceHold(
        command_id=command,
        wallet_id=s.from_wallet_id,
        hold_id=hold_id,
        amount=s.amount + s.fee,
        currency=s.currency,
        expires_at=at + HOLD_TTL_MS,
        transaction_id=s.transaction_id,
    )


def _capture(s: SagaState, hold_id: str, command: str) -> CaptureHold:
    """Take the whole hold: the amount to the provider's settlement, the fee to fees."""
    return CaptureHold(
        command_id=command,
        wallet_id=s.from_wallet_id,
        hold_id=hold_id,
        amount=s.amount + s.fee,
        counter_account=settlement_account(s.provider),
        transaction_id=s.transaction_id,
        fee=s.fee,
        fee_account=FEES,
    )


def _captures(tx: str) -> tuple[str, str]:
    return command_id(tx, "capture"), command_id(tx, "recapture")


def _retakes(tx: str) -> tuple[str, str]:
    return command_id(tx, "rehold"), command_id(tx, "recapture")


def _began(s: SagaState, name: str) -> bool:
    """Whether the saga already asked for step ``name`` (an answer seen twice asks once)."""
    return any(st.step == name for st in s.steps)


def _step_of(answered: str | None) -> str:
    """The step a command id names (`{tx}:recapture` -> recapture)."""
    return (answered or "").rsplit(":", 1)[-1]


def _not_debited(s: SagaState, at: int, done: tuple[str, str], reason: str) -> Reaction:
    """Paid out, and the wallet cannot be debited: stuck money, for an operator."""
    reason = f"paid out, {done[0]} {reason}"
    s = finish(s, at, SagaStatus.REVERSAL_FAILED, done, reason)
    return (
        s,
        [],
        [
            WithdrawalDebitFailed(**provider_money(s, s.from_wallet_id), fee=s.fee, reason=reason),
            pay.WithdrawalDebitFailed(**money(s, s.from_wallet_id), failure_reason=reason),
        ],
    )


def _failed(s: SagaState, at: int, done: tuple[str, str], reason: str) -> Reaction:
    s = finish(s, at, SagaStatus.FAILED, done, reason)
    return (
        s,
        [],
        [
            WithdrawalFailed(**provider_money(s, s.from_wallet_id), reason=reason),
            pay.WithdrawalFailed(**money(s, s.from_wallet_id), failure_reason=reason),
        ],
    )
