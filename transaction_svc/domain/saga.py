"""The sagas (orchestrators), pure: `react(state, message, now)` for every transaction.

Transfer (here): TransferRequested -> DebitWallet `{tx}:debit` (source -> system:in_transit,
amount + fee) -> CreditWallet `{tx}:credit` (in_transit -> destination, fee ->
system:fees) -> TransferCompleted. The debit carries the credit as its continuation
(`DebitWallet.then`): the decider appends it in the same Kafka transaction as an
accepted debit, so the saga reacts only to the credit's answer (or the debit's
rejection); a debit answered without continuation still gets its credit from here.
A rejected debit ends in TransferFailed; a rejected credit triggers the compensating
CreditWallet `{tx}:reverse` (amount + fee back to the source, never rejected for status
or expiry) and ends in TransferReversed.
A transfer that converts (a quote's, docs/fx.md) takes the same steps through
system:fx instead: the debit moves amount + fee into it in the source currency, the
credit moves `to_amount` out of it into the payee's wallet in the target currency and the
fee out of it to system:fees in the source currency (so each currency balances on its
own), and the reversal gives amount + fee back from it.
Payment to a merchant from a wallet, and its refund (`merchant.py`): the same steps as a
transfer (payer -> merchant, or merchant -> payer), their own events; a card payment the
deposit's steps into the merchant's wallet.
Deposit (`deposit.py`): charge the card at the provider, then credit the wallet.
Withdrawal (`withdrawal.py`): hold, pay out, capture (or release).

Termination: a transfer's debit and credit carry `expires_at=deadline`, so the wallet
decider rejects them ("expired") once the deadline passed; the reversal has no expiry.
Deposits and withdrawals end when the provider answers (the provider worker asks it
until it does).

Answers in any order: the answer to a command can come before the message that made the
saga send it. A crash of the saga worker between its sends and its commit replays the
batch, in which (or ahead of which) the answer to what it sent before the crash may sit,
on another topic or partition; the decider does not answer the command sent again (a
duplicate). So an answer the saga is not waiting for yet is kept in the state (`early`)
and reacted to as soon as the saga waits for it; command ids are derived from the
transaction, so it can only be the answer to the command the saga sends then. A
duplicate or a message that can never apply stays kept until the saga ends, and changes
nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from msgspec.structs import replace

from contracts.time import epoch_ms
from contracts.transaction import (
    DepositRequested,
    PaymentRequested,
    RefundRequested,
    TransferCompleted,
    TransferDebited,
    TransferFailed,
    TransferRequested,
    TransferReversalFailed,
    TransferReversed,
    WithdrawalRequested,
)
from contracts.wallet import (
    CreditRejected,
    CreditWallet,
    DebitRejected,
    DebitWallet,
    WalletCredited,
    WalletDebited,
)
from transaction_svc.domain.deposit import charge, react_deposit, start_deposit
from transaction_svc.domain.merchant import (
    card_refund_debit,
    ended,
    initiated,
    is_card_payment,
    is_card_refund,
    merchant_saga,
    react_card_refund,
)
from transaction_svc.domain.state import Answer, SagaState, SagaStatus, Step
from transaction_svc.domain.steps import (
    FEES,
    FX,
    IN_TRANSIT,
    Reaction,
    SagaCommand,
    SagaEvent,
    command_id,
    finish,
    step,
    unchanged,
)
from transaction_svc.domain.withdrawal import react_withdrawal, start_withdrawal

Request = (
    TransferRequested | DepositRequested | WithdrawalRequested | PaymentRequested | RefundRequested
)
MERCHANT = ("payment", "refund")  # a transfer's steps, the events of merchant.py


def debit_command_id(transaction_id: str) -> str:
    """command_id of the saga's debit of the source wallet."""
    return command_id(transaction_id, "debit")


def credit_command_id(transaction_id: str) -> str:
    """command_id of the saga's credit of the destination wallet."""
    return command_id(transaction_id, "credit")


def reverse_command_id(transaction_id: str) -> str:
    """command_id of the compensating credit back to the source wallet."""
    return command_id(transaction_id, "reverse")


def transaction_of(message: Any) -> str | None:
    """The transaction a message is about (a payment event names it `payment_id`)."""
    return getattr(message, "transaction_id", None) or getattr(message, "payment_id", None)


def react(state: SagaState | None, message: Any, now: int | datetime) -> Reaction:
    """Advance the saga of the message's transaction; return (state, commands, events).

    `state` is None before the saga starts. Ignored messages return `(state, [], [])`.
    """
    at = epoch_ms(now)
    if isinstance(message, Request):
        return unchanged(state) if state is not None else _start(message, at)
    if state is None or state.is_terminal():
        return unchanged(state)
    if transaction_of(message) != state.transaction_id:
        return unchanged(state)
    after, commands, events = _answer(state, message, at)
    if after == state:
        if isinstance(message, Answer) and message not in state.early:
            return replace(state, early=(*state.early, message)), [], []
        return unchanged(state)
    assert after is not None
    return _react_to_early(after, list(commands), list(events), at)


def _react_to_early(
    state: SagaState, commands: list[SagaCommand], events: list[SagaEvent], at: int
) -> Reaction:
    """React to the kept answers the saga now waits for, until none moves it; an ended
    saga keeps none."""
    moved = True
    while moved and state.early and not state.is_terminal():
        moved = False
        for i, early in enumerate(state.early):
            rest = replace(state, early=state.early[:i] + state.early[i + 1 :])
            after, more, more_events = _answer(rest, early, at)
            if after != rest and after is not None:
                state, moved = after, True
                commands += more
                events += more_events
                break
    if state.is_terminal() and state.early:
        state = replace(state, early=())
    return state, commands, events


def _answer(state: SagaState, message: Any, at: int) -> Reaction:
    """The reaction of a started saga to ``message`` (its state unchanged if it does not
    wait for it)."""
    if state.kind == "deposit" or is_card_payment(state):
        return react_deposit(state, message, at)
    if is_card_refund(state):
        return react_card_refund(state, message, at)
    if state.kind == "withdrawal":
        return react_withdrawal(state, message, at)
    if state.status not in (SagaStatus.DEBITING, SagaStatus.CREDITING, SagaStatus.REVERSING):
        return unchanged(state)
    expected = {
        SagaStatus.DEBITING: debit_command_id,
        SagaStatus.CREDITING: credit_command_id,
        SagaStatus.REVERSING: reverse_command_id,
    }[state.status](state.transaction_id)
    answered = getattr(message, "command_id", None)
    if state.status is SagaStatus.DEBITING and answered == credit_command_id(state.transaction_id):
        # The debit's continuation answered first (the saga need not see the debit): the
        # debit was accepted, since the decider appends the credit only then.
        state = _credited_next(state, at)
    elif answered != expected:
        return unchanged(state)
    match (state.status, message):
        case (SagaStatus.DEBITING, WalletDebited()):
            # a debit without a continuation (appended before continuations existed)
            s = _credited_next(state, at)
            if s.kind in MERCHANT:
                return s, [_credit(s)], []
            return s, [_credit(s)], [TransferDebited(**_base(s), debited=s.amount + s.fee)]
        case (SagaStatus.DEBITING, DebitRejected()):
            s = finish(state, at, SagaStatus.FAILED, ("debit", "rejected"), message.reason)
            return s, [], _ended(s, TransferFailed, message.reason)
        case (SagaStatus.CREDITING, WalletCredited()):
            return _complete(state, at)
        case (SagaStatus.CREDITING, CreditRejected()):
            return _credit_rejected(state, at, message.reason)
        case (SagaStatus.REVERSING, WalletCredited()):
            reason = state.failure_reason or ""
            s = finish(state, at, SagaStatus.REVERSED, ("reverse", "done"), reason)
            return s, [], _ended(s, TransferReversed, reason)
        case (SagaStatus.REVERSING, CreditRejected()):
            # Cannot happen with the wallet decider's rules; end loudly rather than hang.
            reason = f"{state.failure_reason}; reversal {message.reason}"
            s = finish(state, at, SagaStatus.REVERSAL_FAILED, ("reverse", "rejected"), reason)
            return s, [], _ended(s, TransferReversalFailed, message.reason)
    return state, [], []


def _start(message: Request, at: int) -> Reaction:
    if isinstance(message, DepositRequested):
        return start_deposit(message, at)
    if isinstance(message, WithdrawalRequested):
        return start_withdrawal(message, at)
    if isinstance(message, PaymentRequested | RefundRequested):
        s = merchant_saga(message, at)
        first: SagaCommand = _debit(s)
        if s.status is SagaStatus.CHARGING:  # a card payment
            first = charge(s)
        elif is_card_refund(s):
            first = card_refund_debit(s)
        return s, [first], initiated(s)
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
        quote_id=message.quote_id,
        to_currency=message.to_currency,
        to_amount=message.to_amount,
        steps=(Step(step="requested", status="done", at=at),),
    )
    s = step(s, at, ("debit", "requested"))
    return s, [_debit(s)], []


def _debit(s: SagaState) -> DebitWallet:
    """The first leg (source -> in transit), carrying the second as its continuation."""
    return DebitWallet(
        command_id=debit_command_id(s.transaction_id),
        wallet_id=s.from_wallet_id,
        transaction_id=s.transaction_id,
        amount=s.amount + s.fee,
        currency=s.currency,
        counter_account=_between(s),
        expires_at=s.deadline,
        then=_credit(s),
    )


def _between(s: SagaState) -> str:
    """The account the money is in between the debit and the credit."""
    return FX if s.to_currency else IN_TRANSIT


def _ended(s: SagaState, transfer_event: Any, reason: str) -> list[SagaEvent]:
    """A transfer's ``transfer_event`` (failed, reversed, reversal failed) with
    ``reason``, or a payment's or refund's failure events."""
    if s.kind in MERCHANT:
        return ended(s, reason)
    return [transfer_event(**_base(s), reason=reason)]


def _credited_next(state: SagaState, at: int) -> SagaState:
    s = step(state, at, ("debit", "done"), ("credit", "requested"))
    return replace(s, status=SagaStatus.CREDITING)


def _credit(s: SagaState) -> CreditWallet:
    """The second leg (between -> payee, fee -> system:fees): a conversion credits
    ``to_amount`` in the payee's currency and keeps the fee in the payer's."""
    converting = bool(s.to_currency)
    return CreditWallet(
        command_id=credit_command_id(s.transaction_id),
        wallet_id=s.to_wallet_id,
        transaction_id=s.transaction_id,
        amount=s.to_amount if converting else s.amount,
        currency=s.to_currency if converting else s.currency,
        counter_account=_between(s),
        expires_at=s.deadline,
        fee=s.fee,
        fee_account=FEES,
        fee_currency=s.currency if converting else "",
    )


def _complete(state: SagaState, at: int) -> Reaction:
    s = finish(state, at, SagaStatus.COMPLETED, ("credit", "done"), None)
    if s.kind in MERCHANT:
        return s, [], ended(s, None)
    completed = TransferCompleted(
        **_base(s), fee=s.fee, to_currency=s.to_currency, to_amount=s.to_amount
    )
    return s, [], [completed]


def _credit_rejected(state: SagaState, at: int, reason: str) -> Reaction:
    s = step(state, at, ("credit", "rejected"), ("reverse", "requested"))
    s = replace(s, status=SagaStatus.REVERSING, failure_reason=reason)
    refund = CreditWallet(
        command_id=reverse_command_id(s.transaction_id),
        wallet_id=s.from_wallet_id,
        transaction_id=s.transaction_id,
        amount=s.amount + s.fee,
        currency=s.currency,
        counter_account=_between(s),
        compensation=True,
    )
    return s, [refund], []


def _base(s: SagaState) -> dict[str, Any]:
    return {
        "transaction_id": s.transaction_id,
        "from_wallet_id": s.from_wallet_id,
        "to_wallet_id": s.to_wallet_id,
        "amount": s.amount,
        "currency": s.currency,
    }
