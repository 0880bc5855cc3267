"""Fees on the movements through the provider, against the real wallet decider and a
provider that charges and refunds as pgw does (docs/fees-and-limits.md): a deposit and a
card payment charge the card amount + fee and credit the amount, the fee to system:fees
in the credit's decision; a withdrawal holds amount + fee, pays out the amount and moves
the fee when its hold is captured; whatever fails gives all of it back."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from msgspec.structs import replace
from test_merchant_sagas import MERCHANT, CardProvider, card_payment, card_refund, run_with_provider
from test_merchant_sagas import bank_with as merchant_bank
from test_provider_sagas import SETTLEMENT, Provider, bank_with, deposit, run, withdrawal
from test_saga import NOW

from contracts import payment as pay
from contracts import transaction as tx
from contracts.provider import ChargeCard
from contracts.wallet import (
    CaptureHold,
    CreditWallet,
    FreezeWallet,
    HoldCaptured,
    HoldRejected,
    OpenWallet,
    PlaceHold,
    WalletCommand,
)
from transaction_svc.domain import SagaStatus, react, saga_from_dict, saga_to_dict
from transaction_svc.start import request_of
from wallet_svc.domain import WalletState, decide, evolve

FEES = "system:fees"


@given(replay=st.booleans())
def test_a_deposit_charges_amount_and_fee_and_credits_the_amount(replay: bool) -> None:
    # given an empty wallet
    bank, provider = bank_with(a=0), Provider()
    # when 500 is deposited with a fee of 12
    state, events = run(bank, provider, replace(deposit(amount=500), fee=12), replay)
    # then the card paid 512 once, the wallet got 500 and the fee account 12
    assert state is not None and state.status is SagaStatus.COMPLETED
    assert provider.charges == {"d1:charge": 512}
    assert (bank.ledger("B"), bank.balances[FEES], bank.balances[SETTLEMENT]) == (500, 12, -512)
    completed = [e for e in events if isinstance(e, tx.DepositCompleted)]
    assert [(e.amount, e.fee) for e in completed] == [(500, 12)]


def test_a_deposits_fee_moves_in_the_same_decision_as_its_credit() -> None:
    state, commands, _ = react(None, replace(deposit(amount=500), fee=12), NOW)
    assert state is not None
    (charge,) = commands
    assert isinstance(charge, ChargeCard) and (charge.amount, charge.fee) == (500, 12)
    succeeded = pay.ChargeSucceeded(
        payment_id="d1", wallet_id="B", amount=500, currency="USD", charge_id="ch", fee=12
    )
    _, (credit,), _ = react(state, succeeded, NOW)
    assert (credit.amount, credit.fee, credit.fee_account) == (500, 12, FEES)


def test_a_deposit_whose_credit_is_refused_gives_the_card_the_fee_back_too() -> None:
    bank, provider = bank_with(a=0), Provider()
    bank.handle(FreezeWallet(command_id="fz", wallet_id="B"))
    state, _ = run(bank, provider, replace(deposit(amount=500), fee=12), replay=True)
    assert state is not None and state.status is SagaStatus.FAILED
    assert provider.refunds == {"d1:charge": 512}
    assert (bank.ledger("B"), bank.balances[FEES], bank.balances[SETTLEMENT]) == (0, 0, 0)


@given(replay=st.booleans())
def test_a_withdrawal_holds_amount_and_fee_pays_out_the_amount_and_captures_both(
    replay: bool,
) -> None:
    # given a wallet with 100
    bank, provider = bank_with(a=100), Provider()
    # when 60 is withdrawn with a fee of 5
    state, events = run(bank, provider, replace(withdrawal(amount=60), fee=5), replay)
    # then the bank account got 60, the wallet lost 65 and the fee account got 5
    assert state is not None and state.status is SagaStatus.COMPLETED
    assert provider.payouts == {"w1:payout": 60}
    wallet = bank.wallets["A"]
    assert (wallet.ledger, wallet.available, wallet.holds) == (35, 35, ())
    assert (bank.balances[SETTLEMENT], bank.balances[FEES]) == (60, 5)
    held = [e for e in events if isinstance(e, pay.WithdrawalFundsHeld)]
    assert [(e.amount, e.fee) for e in held] == [(60, 5)]
    completed = [e for e in events if isinstance(e, tx.WithdrawalCompleted)]
    assert [(e.amount, e.fee) for e in completed] == [(60, 5)]


def test_a_withdrawal_that_covers_the_amount_but_not_the_fee_holds_nothing() -> None:
    bank, provider = bank_with(a=60), Provider()
    state, _ = run(bank, provider, replace(withdrawal(amount=60), fee=1))
    assert state is not None and state.status is SagaStatus.FAILED
    assert state.failure_reason == "insufficient_funds"
    assert provider.asked == {} and bank.wallets["A"].available == 60


def test_a_failed_payout_releases_the_fee_with_the_amount() -> None:
    bank, provider = bank_with(a=100), Provider()
    state, _ = run(bank, provider, replace(withdrawal("closed", 60), fee=5), replay=True)
    assert state is not None and state.status is SagaStatus.FAILED
    wallet = bank.wallets["A"]
    assert (wallet.ledger, wallet.available, wallet.holds) == (100, 100, ())
    assert bank.balances[FEES] == 0 and bank.balances[SETTLEMENT] == 0


@given(replay=st.booleans())
def test_a_card_payment_charges_amount_and_fee_and_credits_the_merchant_the_amount(
    replay: bool,
) -> None:
    bank, provider = merchant_bank(payer=0), Provider()
    paid = replace(card_payment(amount=100), fee=3)
    state, events = run_with_provider(bank, provider, paid, replay)
    assert state is not None and state.status is SagaStatus.COMPLETED
    assert provider.charges == {"pay1:charge": 103}
    assert (bank.ledger(MERCHANT), bank.balances[FEES], bank.balances[SETTLEMENT]) == (
        100,
        3,
        -103,
    )
    assert [e.fee for e in events if isinstance(e, tx.PaymentCompleted)] == [3]


def test_a_card_payment_refused_by_the_merchants_wallet_gives_the_card_all_back() -> None:
    bank, provider = merchant_bank(payer=0), Provider()
    bank.handle(FreezeWallet(command_id="fz", wallet_id=MERCHANT))
    state, _ = run_with_provider(bank, provider, replace(card_payment(amount=100), fee=3))
    assert state is not None and state.status is SagaStatus.FAILED
    assert provider.refunds == {"pay1:charge": 103}
    assert (bank.balances[FEES], bank.balances[SETTLEMENT]) == (0, 0)


def test_a_card_payments_refund_gives_back_the_amount_and_the_fee_stays_earned() -> None:
    bank, provider = merchant_bank(payer=0), CardProvider()
    run_with_provider(bank, provider, replace(card_payment(amount=100), fee=3))
    state, _ = run_with_provider(bank, provider, card_refund(100))
    assert state is not None and state.status is SagaStatus.COMPLETED and state.fee == 0
    assert provider.refunds == {"ref1:refund": 100}
    assert (bank.ledger(MERCHANT), bank.balances[FEES], bank.balances[SETTLEMENT]) == (0, 3, -3)


def test_deposits_and_withdrawals_are_appended_again_with_their_fee() -> None:
    for request in (replace(deposit(), fee=12), replace(withdrawal(), fee=5)):
        state, _, _ = react(None, request, NOW)
        assert state is not None
        assert request_of(saga_from_dict(saga_to_dict(state))) == request


def held(amount: int) -> WalletState:
    """Wallet A with 100, ``amount`` of it held as ``h``."""
    commands: list[WalletCommand] = [
        OpenWallet(command_id="o", wallet_id="A", owner_id="u", currency="USD"),
        CreditWallet(command_id="f", wallet_id="A", transaction_id="f", amount=100,
                     currency="USD", counter_account="system:settlement:sim"),
        PlaceHold(command_id="h", wallet_id="A", hold_id="h", amount=amount, currency="USD",
                  expires_at=NOW + 60_000),
    ]  # fmt: skip
    s = WalletState()
    for command in commands:
        for e in decide(s, command, NOW):
            s = evolve(s, e)
    return s


def capture(amount: int, fee: int) -> CaptureHold:
    return CaptureHold(command_id="c", wallet_id="A", hold_id="h", amount=amount, fee=fee,
                       counter_account=SETTLEMENT)  # fmt: skip


def test_a_capture_with_a_fee_splits_what_leaves_the_wallet() -> None:
    (captured,) = decide(held(65), capture(65, 5), NOW)
    assert isinstance(captured, HoldCaptured)
    assert (captured.amount, captured.fee, captured.ledger, captured.available) == (65, 5, 35, 35)
    assert {(p.account, p.amount) for p in captured.postings} == {
        ("wallet:A", -65),
        (SETTLEMENT, 60),
        (FEES, 5),
    }


def test_a_capture_whose_fee_is_not_below_its_amount_is_refused() -> None:
    for fee in (65, 70, -1):
        (refused,) = decide(held(65), capture(65, fee), NOW)
        assert isinstance(refused, HoldRejected) and refused.reason == "invalid_amount"
