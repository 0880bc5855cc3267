"""The withdrawal saga: hold the amount, pay it out to the caller's bank account, capture.

HOLDING: `PlaceHold` `{tx}:hold` (hold id = transaction id) of the amount and the fee
makes the available balance drop at once; a refused hold (insufficient funds, frozen
wallet) ends FAILED holding nothing. PAYING_OUT: `SendPayout` `{tx}:payout` of the
amount (the provider's idempotency key). A payout that succeeded -> CAPTURING:
`CaptureHold` `{tx}:capture` takes the whole hold out of the wallet (the ledger drops),
the amount to the provider's settlement account and the fee to system:fees in one
decision -> COMPLETED. A payout that failed -> RELEASING: `ReleaseHold` `{tx}:release`
frees all of it, fee included -> FAILED with the provider's code; a hold already gone
(expired) counts as released. A capture refused because the hold expired first is
`withdrawal_holds.retake`: hold again and capture that, or `WithdrawalDebitFailed`.
"""

from __future__ import annotations

from typing import Any

from contracts import payment as pay
from contracts.provider import SendPayout
from contracts.transaction import WithdrawalCompleted, WithdrawalFailed, WithdrawalRequested
from contracts.wallet import HoldCaptured, HoldPlaced, HoldRejected, HoldReleased, ReleaseHold
from transaction_svc.domain.state import SagaState, SagaStatus
from transaction_svc.domain.steps import (
    Reaction,
    advance,
    command_id,
    finish,
    money,
    provider_money,
    provider_saga,
    unchanged,
)
from transaction_svc.domain.withdrawal_holds import (
    capture_hold,
    captures,
    place_hold,
    retake,
    step_of,
)


def start_withdrawal(message: WithdrawalRequested, at: int) -> Reaction:
    s = provider_saga(
        message, at, "withdrawal", SagaStatus.HOLDING, message.payout_method_id, "hold"
    )
    hold = place_hold(s, at, s.transaction_id, command_id(s.transaction_id, "hold"))
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
            return s, [capture_hold(s, tx, command_id(tx, "capture"))], []
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
        case (SagaStatus.CAPTURING, HoldCaptured()) if answers in captures(tx):
            s = finish(s, at, SagaStatus.COMPLETED, (step_of(answers), "done"), None)
            return (
                s,
                [],
                [
                    WithdrawalCompleted(**provider_money(s, s.from_wallet_id), fee=s.fee),
                    pay.WithdrawalCompleted(**money(s, s.from_wallet_id)),
                ],
            )
        case (SagaStatus.CAPTURING, _):
            return retake(s, message, at)
        case (SagaStatus.RELEASING, HoldReleased() | HoldRejected()) if answers == command_id(
            tx, "release"
        ):
            return _failed(s, at, ("release", "done"), s.failure_reason or "payout_failed")
    return unchanged(s)


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
