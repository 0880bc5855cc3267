"""A withdrawal's hold in its wallet: placing it, capturing it, and taking the money again
when the hold expired before its capture.

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
from contracts.transaction import WithdrawalDebitFailed
from contracts.wallet import CaptureHold, HoldPlaced, HoldRejected, PlaceHold, Reason
from transaction_svc.domain.state import SagaState, SagaStatus
from transaction_svc.domain.steps import (
    FEES,
    Reaction,
    command_id,
    finish,
    money,
    provider_money,
    settlement_account,
    step,
    unchanged,
)

HOLD_TTL_MS = 7 * 24 * 3600 * 1000  # far longer than any payout takes
HOLD_GONE = frozenset({Reason.EXPIRED, Reason.HOLD_NOT_FOUND})  # a capture took nothing


def place_hold(s: SagaState, at: int, hold_id: str, command: str) -> PlaceHold:
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


def capture_hold(s: SagaState, hold_id: str, command: str) -> CaptureHold:
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


def captures(tx: str) -> tuple[str, str]:
    """The ids of the commands whose `HoldCaptured` completes the withdrawal."""
    return command_id(tx, "capture"), command_id(tx, "recapture")


def step_of(answered: str | None) -> str:
    """The step a command id names (`{tx}:recapture` -> recapture)."""
    return (answered or "").rsplit(":", 1)[-1]


def retake(s: SagaState, message: Any, at: int) -> Reaction:
    """A capturing withdrawal's answer other than a capture: a refused capture, or the
    second hold's answers."""
    tx = s.transaction_id
    answers = getattr(message, "command_id", None)
    match message:
        case HoldRejected() if answers == command_id(tx, "capture") and not _began(s, "rehold"):
            if message.reason not in HOLD_GONE:
                return _not_debited(s, at, ("capture", "rejected"), message.reason)
            rehold = command_id(tx, "rehold")
            s = step(s, at, ("capture", "rejected"), ("rehold", "requested"))
            return s, [place_hold(s, at, rehold, rehold)], []
        case HoldPlaced() if answers == command_id(tx, "rehold") and not _began(s, "recapture"):
            s = step(s, at, ("rehold", "done"), ("recapture", "requested"))
            return s, [capture_hold(s, command_id(tx, "rehold"), command_id(tx, "recapture"))], []
        case HoldRejected() if answers in (command_id(tx, "rehold"), command_id(tx, "recapture")):
            return _not_debited(s, at, (step_of(answers), "rejected"), message.reason)
    return unchanged(s)


def _began(s: SagaState, name: str) -> bool:
    """Whether the saga already asked for step ``name`` (an answer seen twice asks once)."""
    return any(st.step == name for st in s.steps)


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
