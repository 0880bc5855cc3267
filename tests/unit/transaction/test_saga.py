"""Transfer saga against the real wallet decider: paths, duplicates, properties (deposits
and withdrawals: test_provider_sagas.py)."""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from msgspec.structs import replace

from contracts.message import to_payload
from contracts.transaction import (
    TransferCompleted,
    TransferDebited,
    TransferFailed,
    TransferRequested,
    TransferReversed,
    decode_transaction_event,
)
from contracts.wallet import (
    CreditWallet,
    DebitWallet,
    FreezeWallet,
    OpenWallet,
    UnfreezeWallet,
    WalletCommand,
    WalletEvent,
)
from transaction_svc.domain import (
    SagaState,
    SagaStatus,
    react,
    saga_from_dict,
    saga_to_dict,
)
from wallet_svc.domain import (
    WalletState,
    continuation,
    decide,
    evolve,
)

NOW = 1_700_000_000_000
DEADLINE = NOW + 30_000


@dataclass
class Bank:
    """Wallet deciders plus a posting ledger of every account, for the saga to talk to."""

    wallets: dict[str, WalletState] = field(default_factory=dict)
    balances: Counter[str] = field(default_factory=Counter)

    def handle(self, command: WalletCommand, now: int = NOW) -> list[WalletEvent]:
        state = self.wallets.get(command.wallet_id, WalletState())
        events = decide(state, command, now)
        for e in events:
            state = evolve(state, e)
            for p in getattr(e, "postings", ()):
                self.balances[p.account] += p.amount
        self.wallets[command.wallet_id] = state
        return events

    def worker(
        self, command: WalletCommand, now: int = NOW
    ) -> tuple[list[WalletEvent], list[CreditWallet]]:
        """As the decider worker: (the events the saga reacts to, the continuation it
        appends). A debit whose continuation is appended is marked chained, and the saga
        worker skips it."""
        events = self.handle(command, now)
        then = continuation(command, events)
        return (events, []) if then is None else ([], [then])

    def open(self, wallet_id: str, funds: int = 0) -> None:
        self.handle(
            OpenWallet(
                command_id=f"open-{wallet_id}", wallet_id=wallet_id, owner_id="u", currency="USD"
            )
        )
        if funds:
            self.handle(
                CreditWallet(
                    command_id=f"fund-{wallet_id}",
                    wallet_id=wallet_id,
                    transaction_id="fund",
                    amount=funds,
                    currency="USD",
                    counter_account="system:settlement:sim",
                )
            )

    def ledger(self, wallet_id: str) -> int:
        return self.wallets[wallet_id].ledger


def run_saga(bank: Bank, request: Any, now: int = NOW) -> tuple[SagaState | None, list[Any]]:
    """Drive one saga to quiescence in order; return its final state and public events."""
    state, commands, events = react(None, request, now)
    public = list(events)
    while commands:
        answers, chained = bank.worker(commands.pop(0), now)
        commands += chained
        for answer in answers:
            state, more, events = react(state, answer, now)
            commands += more
            public += events
    return state, public


def transfer(amount: int = 30, fee: int = 0, tx: str = "t1", deadline: int = DEADLINE):
    return TransferRequested(
        transaction_id=tx,
        from_wallet_id="A",
        to_wallet_id="B",
        amount=amount,
        currency="USD",
        deadline=deadline,
        fee=fee,
    )


def bank_with(a: int = 100, freeze_b: bool = False) -> Bank:
    bank = Bank()
    bank.open("A", a)
    bank.open("B")
    if freeze_b:
        bank.handle(FreezeWallet(command_id="fz", wallet_id="B"))
    return bank


def test_transfer_completes_and_money_moves_through_in_transit():
    bank = bank_with(a=100)
    state, events = run_saga(bank, transfer(30))
    assert state is not None and state.status == SagaStatus.COMPLETED and state.is_terminal()
    assert [type(e) for e in events] == [TransferCompleted]
    assert (bank.ledger("A"), bank.ledger("B"), bank.balances["system:in_transit"]) == (70, 30, 0)
    assert [(s.step, s.status) for s in state.steps] == [
        ("requested", "done"),
        ("debit", "requested"),
        ("debit", "done"),
        ("credit", "requested"),
        ("credit", "done"),
    ]


def test_transfer_start_emits_the_debit_with_deterministic_id_and_deadline():
    state, commands, events = react(None, transfer(30, fee=2), NOW)
    assert state is not None and state.status == SagaStatus.DEBITING and events == []
    assert commands == [
        DebitWallet(
            command_id="t1:debit",
            wallet_id="A",
            transaction_id="t1",
            amount=32,
            currency="USD",
            counter_account="system:in_transit",
            expires_at=DEADLINE,
            then=CreditWallet(
                command_id="t1:credit",
                wallet_id="B",
                transaction_id="t1",
                amount=30,
                currency="USD",
                counter_account="system:in_transit",
                expires_at=DEADLINE,
                fee=2,
            ),
        )
    ]


def test_an_accepted_debit_appends_its_continuation_and_a_rejected_one_does_not():
    bank = bank_with(a=100)
    _, (debit,), _ = react(None, transfer(30), NOW)
    events = bank.handle(debit)
    assert continuation(debit, events) == debit.then and debit.then is not None
    assert bank.handle(debit) == []  # a duplicate decides nothing, so appends nothing
    poor = bank_with(a=10)
    assert continuation(debit, poor.handle(debit)) is None  # rejected: no second leg


def test_the_credit_answer_moves_a_saga_that_never_saw_its_chained_debit():
    bank = bank_with(a=100, freeze_b=True)
    state, (debit,), _ = react(None, transfer(30), NOW)
    (debited,) = bank.handle(debit)
    assert debit.then is not None
    (rejected,) = bank.handle(debit.then)
    state, commands, events = react(state, rejected, NOW)
    assert state is not None and state.status == SagaStatus.REVERSING and events == []
    assert [(s.step, s.status) for s in state.steps][2:] == [
        ("debit", "done"),
        ("credit", "requested"),
        ("credit", "rejected"),
        ("reverse", "requested"),
    ]
    assert [c.command_id for c in commands] == ["t1:reverse"]
    # a late debit changes nothing: only kept until the saga ends (saga.react's answers
    # in any order)
    late, commands, events = react(state, debited, NOW)
    assert (late, commands, events) == (replace(state, early=(debited,)), [], [])


def test_a_debit_without_continuation_still_gets_its_credit_from_the_saga():
    state, (debit,), _ = react(None, transfer(30), NOW)
    bank = bank_with(a=100)
    (debited,) = bank.handle(replace(debit, then=None))  # appended before continuations
    state, commands, events = react(state, debited, NOW)
    assert state is not None and state.status == SagaStatus.CREDITING
    assert commands == [debit.then] and [type(e) for e in events] == [TransferDebited]


def test_transfer_with_fee_charges_source_and_pays_the_fee_account():
    bank = bank_with(a=100)
    state, events = run_saga(bank, transfer(30, fee=2))
    assert state is not None and state.status == SagaStatus.COMPLETED
    assert events[-1] == TransferCompleted(
        transaction_id="t1", from_wallet_id="A", to_wallet_id="B", amount=30, currency="USD", fee=2
    )
    assert (bank.ledger("A"), bank.ledger("B")) == (68, 30)
    assert (bank.balances["system:fees"], bank.balances["system:in_transit"]) == (2, 0)


def test_transfer_fails_on_insufficient_funds_and_nothing_moves():
    bank = bank_with(a=10)
    state, events = run_saga(bank, transfer(30))
    assert state is not None and state.status == SagaStatus.FAILED
    assert state.failure_reason == "insufficient_funds"
    assert events == [
        TransferFailed(
            transaction_id="t1",
            from_wallet_id="A",
            to_wallet_id="B",
            amount=30,
            currency="USD",
            reason="insufficient_funds",
        )
    ]
    assert (bank.ledger("A"), bank.ledger("B")) == (10, 0)


def test_transfer_to_a_frozen_wallet_is_reversed_and_the_source_refunded():
    bank = bank_with(a=100, freeze_b=True)
    state, events = run_saga(bank, transfer(30, fee=2))
    assert state is not None and state.status == SagaStatus.REVERSED
    assert state.failure_reason == "wallet_frozen"
    assert events[-1] == TransferReversed(
        transaction_id="t1",
        from_wallet_id="A",
        to_wallet_id="B",
        amount=30,
        currency="USD",
        reason="wallet_frozen",
    )
    assert (bank.ledger("A"), bank.ledger("B")) == (100, 0)
    assert (bank.balances["system:in_transit"], bank.balances["system:fees"]) == (0, 0)


def test_reversal_credit_is_a_compensation_without_expiry():
    bank = bank_with(a=100, freeze_b=True)
    state, commands, _ = react(None, transfer(30), NOW)
    for command in [commands[0]]:
        (debited,) = bank.handle(command)
        state, commands, _ = react(state, debited, NOW)
    (rejected,) = bank.handle(commands[0])
    state, commands, _ = react(state, rejected, NOW)
    assert state is not None and state.status == SagaStatus.REVERSING
    (refund,) = commands
    assert isinstance(refund, CreditWallet)
    assert (refund.command_id, refund.wallet_id, refund.amount) == ("t1:reverse", "A", 30)
    assert refund.compensation and refund.expires_at is None


def test_debit_decided_after_the_deadline_fails_the_transfer_as_expired():
    bank = bank_with(a=100)
    state, events = run_saga(bank, transfer(30), now=DEADLINE)
    assert state is not None and state.status == SagaStatus.FAILED
    assert events[-1].reason == "expired" and bank.ledger("A") == 100


def test_credit_decided_after_the_deadline_is_reversed_as_expired():
    bank = bank_with(a=100)
    state, commands, _ = react(None, transfer(30), NOW)
    state, commands, _ = react(state, bank.handle(commands[0], NOW)[0], NOW)
    late = DEADLINE + 1
    state, commands, _ = react(state, bank.handle(commands[0], late)[0], late)
    state, _, events = react(state, bank.handle(commands[0], late)[0], late)
    assert state is not None and state.status == SagaStatus.REVERSED
    assert events[-1].reason == "expired"
    assert (bank.ledger("A"), bank.ledger("B"), bank.balances["system:in_transit"]) == (100, 0, 0)


def test_duplicates_and_out_of_order_messages_are_ignored():
    bank = bank_with(a=100)
    state, commands, _ = react(None, transfer(30), NOW)
    assert react(state, transfer(30), NOW) == (state, [], [])
    (debited,) = bank.handle(commands[0])
    state, commands, _ = react(state, debited, NOW)
    kept, no_commands, no_events = react(state, debited, NOW)  # kept until the saga ends
    assert (kept, no_commands, no_events) == (replace(state, early=(debited,)), [], [])
    assert react(kept, debited, NOW) == (kept, [], [])  # and kept once
    (credited,) = bank.handle(commands[0])
    assert bank.handle(commands[0]) == []  # the wallet decider dedups the command too
    done, _, events = react(kept, credited, NOW)
    assert isinstance(events[0], TransferCompleted) and done is not None and done.early == ()
    assert react(done, credited, NOW) == (done, [], [])
    assert react(done, debited, NOW) == (done, [], [])
    assert react(None, credited, NOW) == (None, [], [])


def test_saga_state_and_events_round_trip_through_json():
    bank = bank_with(a=100, freeze_b=True)
    state, events = run_saga(bank, transfer(30, fee=1))
    assert state is not None
    assert saga_from_dict(json.loads(json.dumps(saga_to_dict(state)))) == state
    for e in [transfer(5), *events]:
        wire = json.loads(json.dumps(to_payload(e)))
        assert wire["type"] == type(e).__name__
        assert decode_transaction_event(wire) == e


# --- property: any interleaving, duplication and timing ends terminal, money conserved ---

WALLETS = ["A", "B", "C"]
transfer_spec = st.tuples(
    st.sampled_from(WALLETS),
    st.sampled_from(WALLETS),
    st.integers(min_value=1, max_value=80),
    st.integers(min_value=0, max_value=3),
    st.one_of(st.integers(0, 2_000), st.integers(20_000, 200_000)),
)


@settings(max_examples=200, deadline=None)
@given(
    specs=st.lists(transfer_spec, min_size=1, max_size=6),
    funds=st.lists(st.integers(min_value=0, max_value=150), min_size=3, max_size=3),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_any_interleaving_of_wallet_answers_ends_terminal_with_money_conserved(specs, funds, seed):
    rnd = random.Random(seed)
    bank = Bank()
    for w, f in zip(WALLETS, funds, strict=True):
        bank.open(w, f)
    initial = sum(funds)
    now = NOW
    sagas: dict[str, SagaState | None] = {}
    inbox: list[tuple[str, Any]] = []  # ("wallet", command) or ("saga", message)
    for i, (src, dst, amount, fee, ttl) in enumerate(specs):
        request = TransferRequested(
            transaction_id=f"t{i}",
            from_wallet_id=src,
            to_wallet_id=dst,
            amount=amount,
            currency="USD",
            deadline=NOW + ttl,
            fee=fee,
        )
        inbox += [("saga", request)] * rnd.choice([1, 1, 2])
    terminal_events: Counter[str] = Counter()
    admin = 0
    while inbox:
        now += rnd.choice([0, 0, 1, 10, 100, 100, 1_000])
        if rnd.random() < 0.1:  # an operator freezes or unfreezes a wallet meanwhile
            w, admin = rnd.choice(WALLETS), admin + 1
            kind = rnd.choice([FreezeWallet, UnfreezeWallet])
            bank.handle(kind(command_id=f"admin-{admin}", wallet_id=w), now)
        target, message = inbox.pop(rnd.randrange(len(inbox)))
        if rnd.random() < 0.15:  # at-least-once delivery: it will come again
            inbox.append((target, message))
        if target == "wallet":
            answers, chained = bank.worker(message, now)
            inbox += [("saga", e) for e in answers] + [("wallet", c) for c in chained]
            continue
        tx = message.transaction_id
        state, commands, events = react(sagas.get(tx), message, now)
        sagas[tx] = state
        inbox += [("wallet", c) for c in commands]
        for e in events:
            if isinstance(e, TransferCompleted | TransferFailed | TransferReversed):
                terminal_events[tx] += 1

    assert all(s is not None and s.is_terminal() for s in sagas.values())
    assert set(terminal_events) == set(sagas) and set(terminal_events.values()) == {1}
    assert sum(bank.balances.values()) == 0
    assert bank.balances["system:in_transit"] == 0
    wallets_total = sum(bank.ledger(w) for w in WALLETS)
    assert wallets_total + bank.balances["system:fees"] == initial
    for w in WALLETS:
        assert bank.balances[f"wallet:{w}"] == bank.ledger(w) >= 0
