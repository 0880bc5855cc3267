"""The decider keeps every balance inside int64 (MAX_BALANCE): no credit overflows it."""

from __future__ import annotations

from contracts.wallet import (
    CreditRejected,
    CreditWallet,
    DebitWallet,
    OpenWallet,
    Reason,
    WalletCredited,
    WalletEvent,
)
from wallet_svc.domain import WalletState, decide, evolve
from wallet_svc.domain.decider import MAX_BALANCE

NOW = 1_700_000_000_000
W = "w-limit"


def _credit(command_id: str, amount: int, **kw: object) -> CreditWallet:
    return CreditWallet(
        command_id=command_id, wallet_id=W, transaction_id=f"t-{command_id}", amount=amount,
        currency="USD", counter_account="system:settlement:sim", **kw,
    )  # fmt: skip


def _apply(state: WalletState, events: list[WalletEvent]) -> WalletState:
    for event in events:
        state = evolve(state, event)
    return state


def _wallet_holding(ledger: int, overdraft: int = 0) -> WalletState:
    open_ = OpenWallet(
        command_id="open", wallet_id=W, owner_id="u1", currency="USD", overdraft_limit=overdraft
    )
    state = _apply(WalletState(), decide(None, open_, NOW))
    return _apply(state, decide(state, _credit("fill", ledger), NOW)) if ledger else state


def test_a_credit_up_to_the_maximum_balance_is_accepted() -> None:
    # given a wallet one unit below the maximum
    state = _wallet_holding(MAX_BALANCE - 1)
    # when it is credited 1
    events = decide(state, _credit("c1", 1), NOW)
    # then the balance is exactly the maximum
    assert isinstance(events[0], WalletCredited) and events[0].ledger == MAX_BALANCE


def test_a_credit_past_the_maximum_balance_is_rejected_and_changes_nothing() -> None:
    # given a wallet at the maximum
    state = _wallet_holding(MAX_BALANCE)
    # when it is credited 1 (or compensated 1)
    for credit in (_credit("c2", 1), _credit("c3", 1, compensation=True)):
        events = decide(state, credit, NOW)
        # then the credit is rejected and the balance stays
        assert events == [
            CreditRejected(
                command_id=credit.command_id, wallet_id=W, transaction_id=credit.transaction_id,
                currency="USD", amount=1, reason=Reason.BALANCE_LIMIT_EXCEEDED,
                compensation=credit.compensation,
            )
        ]  # fmt: skip
        assert _apply(state, events).ledger == MAX_BALANCE


def test_amounts_and_overdrafts_beyond_the_maximum_are_invalid() -> None:
    state = _wallet_holding(0)
    too_much = _credit("c4", MAX_BALANCE + 1)
    assert decide(state, too_much, NOW)[0].reason == Reason.INVALID_AMOUNT  # type: ignore[union-attr]
    with_fee = _credit("c5", MAX_BALANCE, fee=1)
    assert decide(state, with_fee, NOW)[0].reason == Reason.INVALID_AMOUNT  # type: ignore[union-attr]
    debit = DebitWallet(
        command_id="d1", wallet_id=W, transaction_id="t-d1", amount=MAX_BALANCE + 1,
        currency="USD", counter_account="system:in_transit",
    )  # fmt: skip
    assert decide(state, debit, NOW)[0].reason == Reason.INVALID_AMOUNT  # type: ignore[union-attr]
    open_ = OpenWallet(
        command_id="o2", wallet_id="w2", owner_id="u1", currency="USD",
        overdraft_limit=MAX_BALANCE + 1,
    )  # fmt: skip
    opened = decide(None, open_, NOW)
    assert opened[0].reason == Reason.INVALID_AMOUNT  # type: ignore[union-attr]
