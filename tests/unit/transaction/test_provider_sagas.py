"""Deposit and withdrawal sagas against the real wallet decider and a provider that answers
as pgw does: every path, replays, and the money each leaves where."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from msgspec.structs import replace
from test_saga import NOW, Bank

from contracts import payment as pay
from contracts.provider import ChargeCard, ProviderCommand, RefundCharge, SendPayout
from contracts.transaction import (
    DepositCompleted,
    DepositFailed,
    DepositRequested,
    WithdrawalFailed,
    WithdrawalRequested,
)
from contracts.wallet import FreezeWallet
from transaction_svc.domain import SagaState, SagaStatus, react, saga_from_dict, saga_to_dict

SETTLEMENT = "system:settlement:pgw"


@dataclass
class Provider:
    """Answers a command the way pgw does, by the method: charges and payouts are keyed by
    the idempotency key (asked twice, one charge), refunds never exceed the charge; a
    charge or refund moves its amount and its fee (``ProviderClient`` asks for both).
    ``clock``: the time its answers arrive, at which the saga and the wallets go on."""

    clock: int = NOW
    charges: dict[str, int] = field(default_factory=dict)
    refunds: Counter[str] = field(default_factory=Counter)
    payouts: dict[str, int] = field(default_factory=dict)
    asked: Counter[str] = field(default_factory=Counter)

    def handle(self, c: ProviderCommand) -> list[Any]:
        self.asked[c.idempotency_key] += 1
        base = {
            "payment_id": c.transaction_id,
            "wallet_id": c.wallet_id,
            "amount": c.amount,
            "currency": c.currency,
        }
        match c:
            case ChargeCard(payment_method_id="declined"):
                failed = {"charge_id": "ch", "failure_reason": "card_declined"}
                return [pay.ChargeFailed(**base, **failed, fee=c.fee)]
            case ChargeCard(payment_method_id="async"):
                return [pay.ChargePending(**base, charge_id="ch", fee=c.fee)]
            case ChargeCard():
                self.charges.setdefault(c.idempotency_key, c.amount + c.fee)
                return [pay.ChargeSucceeded(**base, charge_id=c.idempotency_key, fee=c.fee)]
            case RefundCharge():
                self.refunds[c.charge_id] = c.amount + c.fee  # keyed: asked twice is one
                refunded = {"charge_id": c.charge_id, "refund_id": "rf", "fee": c.fee}
                return [pay.ChargeRefunded(**base, **refunded)]
            case SendPayout(payment_method_id="closed"):
                return [pay.PayoutFailed(**base, payout_id="po", failure_reason="account_closed")]
            case SendPayout():
                self.payouts.setdefault(c.idempotency_key, c.amount)
                return [pay.PayoutSucceeded(**base, payout_id="po")]
        raise AssertionError(c)


def run(
    bank: Bank, provider: Provider, request: Any, replay: bool = False
) -> tuple[SagaState | None, list[Any]]:
    """Drive one saga to quiescence; with ``replay`` every command is sent twice and every
    answer reacted to twice (what a crash before a commit replays)."""
    state, commands, events = react(None, request, provider.clock)
    public = list(events)
    while commands:
        command = commands.pop(0)
        for _ in range(2 if replay else 1):
            if isinstance(command, ProviderCommand):
                answers = provider.handle(command)
            else:
                answers, chained = bank.worker(command, provider.clock)
                commands += chained
            for answer in answers * (2 if replay else 1):
                state, more, events = react(state, answer, provider.clock)
                state = saga_from_dict(saga_to_dict(state))  # as stored
                commands += more
                public += events
    return state, public


def deposit(method: str = "card", amount: int = 500) -> DepositRequested:
    return DepositRequested(
        transaction_id="d1",
        wallet_id="B",
        amount=amount,
        currency="USD",
        provider="pgw",
        deadline=NOW + 30_000,
        payment_method_id=method,
        owner_id="u",
    )


def withdrawal(method: str = "bank", amount: int = 60) -> WithdrawalRequested:
    return WithdrawalRequested(
        transaction_id="w1",
        wallet_id="A",
        amount=amount,
        currency="USD",
        provider="pgw",
        payout_method_id=method,
        owner_id="u",
        deadline=NOW + 30_000,
    )


def bank_with(a: int = 100) -> Bank:
    bank = Bank()
    bank.open("A", a)
    bank.open("B")
    return bank


def names(events: list[Any]) -> list[str]:
    return [f"{type(e).__module__.rsplit('.', 1)[1]}.{type(e).__name__}" for e in events]


@given(replay=st.booleans())
def test_a_deposit_charges_once_and_credits_from_the_provider_settlement(replay: bool) -> None:
    bank, provider = bank_with(a=0), Provider()
    state, events = run(bank, provider, deposit(), replay)
    assert state is not None and state.status == SagaStatus.COMPLETED
    assert (bank.ledger("B"), bank.balances[SETTLEMENT]) == (500, -500)
    assert provider.charges == {"d1:charge": 500}
    assert names(events) == [
        "payment.DepositInitiated",
        "transaction.DepositCompleted",
        "payment.DepositCompleted",
    ]
    assert (
        DepositCompleted(
            transaction_id="d1", wallet_id="B", amount=500, currency="USD", provider="pgw"
        )
        in events
    )


def test_a_declined_charge_fails_with_the_providers_code_and_credits_nothing() -> None:
    bank, provider = bank_with(a=0), Provider()
    state, events = run(bank, provider, deposit("declined"))
    assert state is not None and state.status == SagaStatus.FAILED
    assert state.failure_reason == "card_declined"
    assert bank.ledger("B") == 0 and provider.charges == {}
    assert (
        DepositFailed(
            transaction_id="d1",
            wallet_id="B",
            amount=500,
            currency="USD",
            provider="pgw",
            reason="card_declined",
        )
        in events
    )
    assert names(events)[-1] == "payment.DepositFailed"


def test_a_pending_charge_waits_for_the_callback_then_credits() -> None:
    bank, provider = bank_with(a=0), Provider()
    state, _ = run(bank, provider, deposit("async"))
    assert state is not None and state.status == SagaStatus.CHARGING
    assert [(s.step, s.status) for s in state.steps][-1] == ("charge", "pending")
    assert bank.ledger("B") == 0
    # the provider's callback publishes the success; the saga credits
    succeeded = pay.ChargeSucceeded(
        payment_id="d1", wallet_id="B", amount=500, currency="USD", charge_id="ch"
    )
    state, commands, _ = react(state, succeeded, NOW)
    assert state is not None and state.status == SagaStatus.CREDITING
    (credited,) = bank.handle(commands[0])
    state, _, _ = react(state, credited, NOW)
    assert state is not None and state.status == SagaStatus.COMPLETED
    assert bank.ledger("B") == 500


def test_a_charge_whose_credit_is_refused_is_refunded_in_full() -> None:
    bank, provider = bank_with(a=0), Provider()
    bank.handle(FreezeWallet(command_id="fz", wallet_id="B"))
    state, events = run(bank, provider, deposit(), replay=True)
    assert state is not None and state.status == SagaStatus.FAILED
    assert state.failure_reason == "wallet_frozen"
    assert provider.refunds == {"d1:charge": 500}
    assert bank.ledger("B") == 0 and bank.balances[SETTLEMENT] == 0
    assert names(events)[-1] == "payment.DepositFailed"


@given(replay=st.booleans())
def test_a_withdrawal_holds_pays_out_and_captures(replay: bool) -> None:
    bank, provider = bank_with(a=100), Provider()
    state, events = run(bank, provider, withdrawal(amount=60), replay)
    assert state is not None and state.status == SagaStatus.COMPLETED
    wallet = bank.wallets["A"]
    assert (wallet.ledger, wallet.available, wallet.holds) == (40, 40, ())
    assert bank.balances[SETTLEMENT] == 60
    assert provider.payouts == {"w1:payout": 60}
    assert names(events) == [
        "payment.WithdrawalInitiated",
        "payment.WithdrawalFundsHeld",
        "transaction.WithdrawalCompleted",
        "payment.WithdrawalCompleted",
    ]


def test_a_failed_payout_releases_the_hold() -> None:
    bank, provider = bank_with(a=100), Provider()
    state, events = run(bank, provider, withdrawal("closed", 60), replay=True)
    assert state is not None and state.status == SagaStatus.FAILED
    assert state.failure_reason == "account_closed"
    wallet = bank.wallets["A"]
    assert (wallet.ledger, wallet.available, wallet.holds) == (100, 100, ())
    assert (
        WithdrawalFailed(
            transaction_id="w1",
            wallet_id="A",
            amount=60,
            currency="USD",
            provider="pgw",
            reason="account_closed",
        )
        in events
    )


def test_more_than_the_available_balance_holds_nothing_and_pays_nothing() -> None:
    bank, provider = bank_with(a=50), Provider()
    state, events = run(bank, provider, withdrawal(amount=60))
    assert state is not None and state.status == SagaStatus.FAILED
    assert state.failure_reason == "insufficient_funds"
    assert provider.asked == {} and bank.wallets["A"].available == 50
    assert names(events) == [
        "payment.WithdrawalInitiated",
        "transaction.WithdrawalFailed",
        "payment.WithdrawalFailed",
    ]


def test_concurrent_withdrawals_never_hold_more_than_is_available() -> None:
    bank, provider = bank_with(a=100), Provider()
    starts = [
        react(None, replace(withdrawal(amount=10), transaction_id=f"w{i}"), NOW) for i in range(50)
    ]
    # every hold reaches the decider before any payout answers
    held = []
    for state, commands, _ in starts:
        (answer,) = bank.handle(commands[0])
        held.append(react(state, answer, NOW))
    done = []
    for state, commands, _ in held:
        for command in commands:
            (outcome,) = provider.handle(command)
            state, more, _ = react(state, outcome, NOW)
            for c in more:
                (answer,) = bank.handle(c)
                state, _, _ = react(state, answer, NOW)
        done.append(state)
    statuses = Counter(s.status for s in done if s is not None)
    assert statuses == {SagaStatus.COMPLETED: 10, SagaStatus.FAILED: 40}
    wallet = bank.wallets["A"]
    assert (wallet.ledger, wallet.available, wallet.holds) == (0, 0, ())
    assert len(provider.payouts) == 10
