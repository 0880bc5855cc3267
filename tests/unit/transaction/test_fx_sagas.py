"""A transfer that converts (a quote's), against the real wallet decider: the payer's
amount + fee goes into system:fx in the source currency, the quote's to_amount comes out
of system:fx in the target currency into the payee's wallet and the fee out of it to
system:fees in the source currency, so every currency balances on its own; a rejected
credit gives the payer everything back (no fee kept); the stored first state appends the
same request again."""

from __future__ import annotations

from collections import Counter
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from test_saga import NOW

from contracts import transaction as tx
from contracts.wallet import CreditWallet, FreezeWallet, OpenWallet, WalletCommand
from transaction_svc.domain import SagaStatus, react, saga_from_dict, saga_to_dict
from transaction_svc.domain.steps import FEES, FX
from transaction_svc.start import request_of
from wallet_svc.domain import WalletState, continuation, decide, evolve

PAYER, PAYEE = "P", "E"


class Ledger:
    """Wallet deciders and every posting, by account and currency."""

    def __init__(self) -> None:
        self.wallets: dict[str, WalletState] = {}
        self.postings: Counter[tuple[str, str]] = Counter()

    def handle(self, command: WalletCommand) -> list[Any]:
        state = self.wallets.get(command.wallet_id, WalletState())
        events = decide(state, command, NOW)
        for e in events:
            state = evolve(state, e)
            for p in getattr(e, "postings", ()):
                self.postings[(p.account, p.currency)] += p.amount
        self.wallets[command.wallet_id] = state
        return events

    def open(self, wallet: str, currency: str, funds: int = 0) -> None:
        self.handle(OpenWallet(command_id=f"open-{wallet}", wallet_id=wallet, owner_id="u",
                               currency=currency))  # fmt: skip
        if funds:
            self.handle(CreditWallet(command_id=f"fund-{wallet}", wallet_id=wallet,
                                     transaction_id="fund", amount=funds, currency=currency,
                                     counter_account="system:settlement:sim"))  # fmt: skip

    def run(self, request: tx.TransferRequested) -> tuple[Any, list[Any]]:
        """Drive the saga to quiescence as the decider and saga workers would."""
        state, commands, public = react(None, request, NOW)
        while commands:
            command = commands.pop(0)
            events = self.handle(command)
            then = continuation(command, events)
            if then is not None:
                commands.append(then)
                continue
            for event in events:
                state, more, out = react(state, event, NOW)
                state = saga_from_dict(saga_to_dict(state))
                commands += more
                public += out
        return state, public

    def ledger(self, wallet: str) -> int:
        return self.wallets[wallet].ledger


def converting(amount: int, fee: int, to_amount: int, source: str = "USD",
               target: str = "JPY") -> tx.TransferRequested:  # fmt: skip
    return tx.TransferRequested(
        transaction_id="t1", from_wallet_id=PAYER, to_wallet_id=PAYEE, amount=amount,
        currency=source, deadline=NOW + 30_000, fee=fee, quote_id="q1", to_currency=target,
        to_amount=to_amount,
    )  # fmt: skip


@given(
    amount=st.integers(min_value=1, max_value=10**9),
    fee=st.integers(min_value=0, max_value=10**6),
    to_amount=st.integers(min_value=1, max_value=10**12),
    currencies=st.sampled_from([("USD", "JPY"), ("JPY", "KWD"), ("KWD", "EUR")]),
)
def test_a_conversion_balances_each_currency_through_the_fx_account(
    amount: int, fee: int, to_amount: int, currencies: tuple[str, str]
) -> None:
    source, target = currencies
    # given a payer in the source currency who can pay amount + fee, a payee in the target
    ledger = Ledger()
    ledger.open(PAYER, source, amount + fee)
    ledger.open(PAYEE, target)
    # when the quote's transfer runs
    state, public = ledger.run(converting(amount, fee, to_amount, source, target))
    # then the payer paid amount + fee in the source currency, the payee got to_amount
    assert state.status is SagaStatus.COMPLETED
    assert (ledger.ledger(PAYER), ledger.ledger(PAYEE)) == (0, to_amount)
    # through the FX account, which keeps the amount; the fee went on to system:fees in
    # the source currency, as every fee; each currency balancing on its own
    assert ledger.postings[(FX, source)] == amount
    assert ledger.postings[(FEES, source)] == fee
    assert ledger.postings[(FX, target)] == -to_amount
    assert ledger.postings[(FEES, target)] == 0
    for currency in (source, target):
        assert sum(v for (_, c), v in ledger.postings.items() if c == currency) == 0
    [completed] = public
    assert isinstance(completed, tx.TransferCompleted)
    assert (completed.amount, completed.currency, completed.fee) == (amount, source, fee)
    assert (completed.to_amount, completed.to_currency) == (to_amount, target)


def test_a_conversion_the_payee_cannot_take_gives_the_payer_everything_back() -> None:
    # given a payee whose wallet is frozen
    ledger = Ledger()
    ledger.open(PAYER, "USD", 10_000)
    ledger.open(PAYEE, "JPY")
    ledger.handle(FreezeWallet(command_id="freeze", wallet_id=PAYEE))
    # when 100.00 USD + 1.00 fee converts to 15_120 yen
    state, public = ledger.run(converting(10_000 - 100, 100, 15_120))
    # then the credit is refused and amount + fee go back from the FX account
    assert state.status is SagaStatus.REVERSED and state.failure_reason == "wallet_frozen"
    assert (ledger.ledger(PAYER), ledger.ledger(PAYEE)) == (10_000, 0)
    assert ledger.postings[(FX, "USD")] == 0 and ledger.postings[(FX, "JPY")] == 0
    assert ledger.postings[(FEES, "USD")] == 0
    assert [type(e).__name__ for e in public] == ["TransferReversed"]


def test_a_conversion_the_payer_cannot_cover_moves_nothing() -> None:
    ledger = Ledger()
    ledger.open(PAYER, "USD", 500)
    ledger.open(PAYEE, "JPY")
    state, public = ledger.run(converting(500, 1, 756))
    assert state.status is SagaStatus.FAILED and state.failure_reason == "insufficient_funds"
    assert (ledger.ledger(PAYER), ledger.ledger(PAYEE)) == (500, 0)
    assert ledger.postings[(FX, "USD")] == 0 and ledger.postings[(FX, "JPY")] == 0
    assert [type(e).__name__ for e in public] == ["TransferFailed"]


def test_the_stored_first_state_appends_the_same_converting_request_again() -> None:
    request = converting(10_000, 25, 15_120)
    state, _, _ = react(None, request, NOW)
    assert request_of(saga_from_dict(saga_to_dict(state))) == request
