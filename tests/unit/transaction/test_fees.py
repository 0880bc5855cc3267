"""The fee rule (transaction_svc.domain.fees): integers only, rounded up once, never
negative, within its minimum and maximum; and a payment from a wallet with a fee, against
the real wallet decider: the payer pays amount + fee, the merchant gets the amount, the
fee reaches system:fees; a refund gives back the amount only, a reversal the fee too."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from msgspec.structs import replace
from test_merchant_sagas import MERCHANT, PAYER, bank_with, payment, refund, run
from test_provider_sagas import deposit, withdrawal
from test_saga import NOW

from contracts.transaction import PaymentCompleted, PaymentRequested, TransferRequested
from contracts.wallet import FreezeWallet
from transaction_svc.domain import SagaStatus, react, saga_from_dict, saga_to_dict
from transaction_svc.domain.fees import BPS_SCALE, FeeRule
from transaction_svc.pricing import carries_fee, with_fee
from transaction_svc.start import request_of

AMOUNTS = st.integers(min_value=1, max_value=10**15)
MINOR = st.integers(min_value=0, max_value=10**15)


@st.composite
def rules(draw: st.DrawFn) -> FeeRule:
    minimum = draw(MINOR)
    maximum = draw(st.none() | st.integers(min_value=minimum, max_value=2 * 10**15))
    return FeeRule(
        basis_points=draw(st.integers(min_value=0, max_value=BPS_SCALE)),
        fixed=draw(MINOR),
        minimum=minimum,
        maximum=maximum,
    )


@given(rule=rules(), amount=AMOUNTS)
def test_a_fee_is_a_non_negative_integer_within_its_minimum_and_maximum(
    rule: FeeRule, amount: int
) -> None:
    fee = rule.fee(amount)
    assert type(fee) is int and fee >= 0
    assert fee >= rule.minimum
    if rule.maximum is not None:
        assert fee <= rule.maximum


@given(rule=rules(), amount=AMOUNTS)
def test_the_percentage_is_rounded_up_to_the_next_minor_unit_and_no_further(
    rule: FeeRule, amount: int
) -> None:
    # unclamped, the fee is the fixed part plus the smallest whole number >= the rate
    unclamped = FeeRule(basis_points=rule.basis_points, fixed=rule.fixed).fee(amount)
    percentage = unclamped - rule.fixed
    assert percentage * BPS_SCALE >= amount * rule.basis_points
    assert (percentage - 1) * BPS_SCALE < amount * rule.basis_points
    # and the clamp is the only other thing that changes it
    expected = max(unclamped, rule.minimum)
    assert rule.fee(amount) == (expected if rule.maximum is None else min(expected, rule.maximum))


def test_known_fees() -> None:
    # 1.5 % + 25 of 1_001 = 15.015 -> 16, + 25 = 41; clamped between 30 and 2_000
    rule = FeeRule(basis_points=150, fixed=25, minimum=30, maximum=2_000)
    assert rule.fee(1_001) == 41
    assert rule.fee(1) == 30  # 1 + 25 = 26, raised to the minimum
    assert rule.fee(10**9) == 2_000  # capped
    assert FeeRule().fee(10**15) == 0  # no rule: free


def test_every_movement_but_a_refund_carries_a_fee() -> None:
    card = replace(payment(100), provider="card", payment_method_id="pm", from_wallet_id="")
    assert carries_fee(payment(100)) and carries_fee(card)
    assert carries_fee(deposit()) and carries_fee(withdrawal())
    assert with_fee(deposit(), 5).fee == 5 and with_fee(withdrawal(), 6).fee == 6
    assert not carries_fee(refund(10))
    assert with_fee(payment(100), 7).fee == 7 and with_fee(refund(10), 7) == refund(10)
    transfer = TransferRequested(
        transaction_id="t", from_wallet_id="a", to_wallet_id="b", amount=1, currency="USD",
        deadline=NOW + 1,
    )  # fmt: skip
    assert with_fee(transfer, 3).fee == 3


def paid_with_fee(amount: int, fee: int) -> PaymentRequested:
    return replace(payment(amount), fee=fee)


@given(replay=st.booleans())
def test_the_payer_pays_amount_and_fee_the_merchant_gets_the_amount(replay: bool) -> None:
    # given a payer with 500
    bank = bank_with(payer=500)
    # when the payer pays 100 with a fee of 7
    state, events = run(bank, paid_with_fee(100, 7), replay)
    # then the payer paid 107, the merchant got 100 and the fee account 7
    assert state is not None and state.status is SagaStatus.COMPLETED
    assert (bank.ledger(PAYER), bank.ledger(MERCHANT)) == (393, 100)
    assert bank.balances["system:fees"] == 7 and bank.balances["system:in_transit"] == 0
    assert [e.fee for e in events if isinstance(e, PaymentCompleted)] == [7]


def test_a_payer_who_can_cover_the_amount_but_not_the_fee_pays_nothing() -> None:
    bank = bank_with(payer=100)
    state, _ = run(bank, paid_with_fee(100, 1))
    assert state is not None and state.status is SagaStatus.FAILED
    assert state.failure_reason == "insufficient_funds"
    assert (bank.ledger(PAYER), bank.ledger(MERCHANT), bank.balances["system:fees"]) == (100, 0, 0)


def test_a_reversed_payment_gives_the_payer_the_fee_back_too() -> None:
    bank = bank_with(payer=500)
    bank.handle(FreezeWallet(command_id="fz", wallet_id=MERCHANT))
    state, _ = run(bank, paid_with_fee(100, 7))
    assert state is not None and state.status is SagaStatus.REVERSED
    assert (bank.ledger(PAYER), bank.ledger(MERCHANT)) == (500, 0)
    assert bank.balances["system:fees"] == 0 and bank.balances["system:in_transit"] == 0


def test_a_full_refund_gives_back_the_amount_and_the_fee_stays_earned() -> None:
    # given a completed payment of 100 with a fee of 7
    bank = bank_with(payer=500)
    run(bank, paid_with_fee(100, 7))
    # when the merchant refunds all of it
    state, _ = run(bank, refund(100))
    # then the payer has the 100 back, not the fee, and the refund cost the merchant nothing more
    assert state is not None and state.status is SagaStatus.COMPLETED and state.fee == 0
    assert (bank.ledger(PAYER), bank.ledger(MERCHANT)) == (493, 0)
    assert bank.balances["system:fees"] == 7


def test_a_payment_with_a_fee_is_appended_again_with_its_fee() -> None:
    request = paid_with_fee(100, 7)
    state, _, _ = react(None, request, NOW)
    assert state is not None
    assert request_of(saga_from_dict(saga_to_dict(state))) == request
