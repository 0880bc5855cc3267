"""The verifier's check of fees (invariant 7 of ``wallet_svc.verify``): what a transaction
says it charged is what reached the fee account, no more, no less.

A transfer's, deposit's, withdrawal's or payment's request and completion name its fee
(``TransferRequested.fee``, ``TransferCompleted.fee``, and so on); the fee moves in its
credit (``WalletCredited.fee``, posted to ``fee_account``; conservation of those postings
is ``check_log``'s), a withdrawal's in the capture of its hold (``HoldCaptured.fee``).
For every one that ended: the fees its credits and captures moved (each event id counted
once) add up to the fee its completion named and its request asked for, and to nothing
if it failed, was reversed or cancelled (the payer got amount + fee back through a
compensation, which carries no fee, or the card through a full refund, or a
withdrawal's hold was released, or a withdrawal's wallet was never debited). A transfer
that converts moves its fee the same way: its credit, in the payee's currency, moves the
fee from system:fx to system:fees in the payer's (``WalletCredited.fee_currency``,
docs/fx.md).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from contracts.transaction import (
    DepositCompleted,
    DepositFailed,
    DepositRequested,
    PaymentCancelled,
    PaymentCompleted,
    PaymentFailed,
    PaymentRequested,
    TransferCompleted,
    TransferFailed,
    TransferRequested,
    TransferReversed,
    WithdrawalCompleted,
    WithdrawalDebitFailed,
    WithdrawalFailed,
    WithdrawalRequested,
)
from contracts.wallet import HoldCaptured, WalletCredited

Requested = TransferRequested | DepositRequested | WithdrawalRequested | PaymentRequested
Completed = TransferCompleted | DepositCompleted | WithdrawalCompleted | PaymentCompleted
MovedNothing = (
    TransferFailed
    | TransferReversed
    | DepositFailed
    | WithdrawalFailed
    | WithdrawalDebitFailed
    | PaymentFailed
    | PaymentCancelled
)
FeeMoved = WalletCredited | HoldCaptured


def check_fees(tx_msgs: list[Any], wallet_msgs: list[Any], problems: list[str]) -> int:
    """Invariant 7 over the verifier's messages (``verify.Msg``); returns the fees moved."""
    requested: dict[str, int] = {}
    ended: dict[str, int] = {}  # the fee each ended transaction's credits should have moved
    for m in tx_msgs:
        event = m.message
        if isinstance(event, Requested):
            requested[event.transaction_id] = event.fee
        elif isinstance(event, Completed):
            ended[event.transaction_id] = event.fee
        elif isinstance(event, MovedNothing):
            ended[event.transaction_id] = 0
    moved: dict[str, int] = defaultdict(int)
    seen: set[str] = set()
    for m in wallet_msgs:
        event = m.message
        if m.envelope is None or not isinstance(event, FeeMoved) or not event.fee:
            continue
        if m.envelope.event_id not in seen:
            seen.add(m.envelope.event_id)
            moved[event.transaction_id] += event.fee
    for tid in sorted(requested.keys() & ended.keys()):
        expected = ended[tid]
        if moved[tid] != expected:
            problems.append(
                f"fee: transaction {tid} should have moved {expected}, moved {moved[tid]}"
            )
        if ended[tid] and ended[tid] != requested[tid]:
            problems.append(
                f"fee: transaction {tid} asked {requested[tid]}, completed {ended[tid]}"
            )
    return sum(moved.values())
