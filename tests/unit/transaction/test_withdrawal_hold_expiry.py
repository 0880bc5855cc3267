"""A withdrawal whose hold expired before its capture: the payout went out, so the wallet
is debited again (a new hold, captured) or, when it can no longer pay, the saga ends
`REVERSAL_FAILED` with its terminal event; each path against the real wallet decider,
with every command and answer replayed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from test_provider_sagas import SETTLEMENT, Provider, bank_with, names, run
from test_saga import NOW, Bank

from contracts.provider import ProviderCommand, SendPayout
from contracts.transaction import WithdrawalDebitFailed, WithdrawalRequested
from contracts.wallet import DebitWallet, ExpireHolds
from transaction_svc.domain import SagaStatus
from transaction_svc.domain.withdrawal_holds import HOLD_TTL_MS

LATER = NOW + HOLD_TTL_MS  # the hold's last moment: from then on it is expired


@dataclass
class SlowPayout(Provider):
    """A payout that answers only once the withdrawal's hold has run out: the clock moves
    to ``LATER``, and ``meanwhile`` happens to the wallet first (the decider's sweep, or
    the owner spending what the expiry gave back)."""

    bank: Bank = field(default_factory=Bank)
    meanwhile: tuple[Any, ...] = ()

    def handle(self, c: ProviderCommand) -> list[Any]:
        if isinstance(c, SendPayout) and self.clock < LATER:
            self.clock = LATER
            for command in self.meanwhile:
                self.bank.handle(command, self.clock)
        return super().handle(c)


def request() -> WithdrawalRequested:
    return WithdrawalRequested(
        transaction_id="w1", wallet_id="A", amount=60, currency="USD", provider="pgw",
        payout_method_id="bank", owner_id="u", deadline=NOW + 30_000, fee=2,
    )  # fmt: skip


SWEEP = ExpireHolds(command_id="sweep", wallet_id="A", now=LATER)
SPEND = DebitWallet(command_id="spend", wallet_id="A", transaction_id="t2", amount=90,
                    currency="USD", counter_account="system:settlement:sim")  # fmt: skip


@given(replay=st.booleans(), swept=st.booleans())
def test_a_hold_gone_before_its_capture_is_taken_again_and_captured_once(
    replay: bool, swept: bool
) -> None:
    # given a wallet of 100 withdrawing 60 with a fee of 2, whose payout answers only
    # after the hold ran out (expired by the capture itself, or by the sweep first)
    bank = bank_with(a=100)
    provider = SlowPayout(bank=bank, meanwhile=(SWEEP,) if swept else ())
    # when the saga runs
    state, events = run(bank, provider, request(), replay)
    # then the withdrawal completed: the wallet paid 62 once, nothing stays held
    assert state is not None and state.status == SagaStatus.COMPLETED
    wallet = bank.wallets["A"]
    assert (wallet.ledger, wallet.available, wallet.holds) == (38, 38, ())
    assert (bank.balances[SETTLEMENT], bank.balances["system:fees"]) == (60, 2)
    assert provider.payouts == {"w1:payout": 60}
    assert [s.step for s in state.steps if s.status == "rejected"] == ["capture"]
    assert names(events)[-2:] == ["transaction.WithdrawalCompleted", "payment.WithdrawalCompleted"]


@given(replay=st.booleans())
def test_a_wallet_that_spent_what_the_expiry_gave_back_ends_with_a_terminal_event(
    replay: bool,
) -> None:
    # given the hold swept away while the payout was out, and 90 of the 100 spent since
    bank = bank_with(a=100)
    provider = SlowPayout(bank=bank, meanwhile=(SWEEP, SPEND))
    # when the saga runs
    state, events = run(bank, provider, request(), replay)
    # then it ends REVERSAL_FAILED (paid out, not debited), told once on both topics
    assert state is not None and state.status == SagaStatus.REVERSAL_FAILED
    reason = "paid out, rehold insufficient_funds"
    assert state.failure_reason == reason
    assert names(events) == [
        "payment.WithdrawalInitiated",
        "payment.WithdrawalFundsHeld",
        "transaction.WithdrawalDebitFailed",
        "payment.WithdrawalDebitFailed",
    ]
    assert events[2] == WithdrawalDebitFailed(
        transaction_id="w1", wallet_id="A", amount=60, currency="USD", provider="pgw",
        reason=reason, fee=2,
    )  # fmt: skip
    # and the wallet keeps what it had left, holding nothing; the payout is the provider's
    wallet = bank.wallets["A"]
    assert (wallet.ledger, wallet.available, wallet.holds) == (10, 10, ())
    assert bank.balances[SETTLEMENT] == 0 and provider.payouts == {"w1:payout": 60}
