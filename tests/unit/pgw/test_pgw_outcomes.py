"""The provider's outcome table: test cards, test bank accounts, the keyed success rate."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pgw_svc.domain import (
    FailureReason,
    Outcome,
    Scenarios,
    Status,
    settled,
    tokenize_bank_account,
    tokenize_card,
)
from pgw_svc.domain.outcomes import success_draw

KEY = b"fingerprint-secret"
SCENARIOS = Scenarios(KEY)


def card(number: str) -> str:
    token = tokenize_card(
        number=number, exp_month=1, exp_year=2030, cvc="123", today=date(2026, 12, 1),
        fingerprint_key=KEY,
    )  # fmt: skip
    return token.fingerprint


def account(iban: str) -> str:
    return tokenize_bank_account(iban=iban, fingerprint_key=KEY).fingerprint


@pytest.mark.parametrize(
    ("number", "outcome"),
    [
        ("4242424242424242", Outcome(Status.SUCCEEDED)),
        ("5555555555554444", Outcome(Status.SUCCEEDED)),
        ("4000000000000002", Outcome(Status.FAILED, FailureReason.CARD_DECLINED)),
        ("4000000000009995", Outcome(Status.FAILED, FailureReason.INSUFFICIENT_FUNDS)),
        ("4000000000003220", Outcome(Status.PENDING)),
    ],
)
def test_each_test_card_has_its_outcome_whatever_the_key(number: str, outcome: Outcome) -> None:
    # given a test card, when charged under many idempotency keys, then the answer is fixed
    assert {SCENARIOS.charge(card(number), f"key-{i}") for i in range(50)} == {outcome}


def test_the_asynchronous_card_is_pending_and_later_succeeds() -> None:
    first = SCENARIOS.charge(card("4000000000003220"), "deposit-1")
    assert first.status is Status.PENDING
    assert settled(first) == Outcome(Status.SUCCEEDED)
    declined = Outcome(Status.FAILED, FailureReason.CARD_DECLINED)
    assert settled(declined) == declined


@pytest.mark.parametrize(
    ("iban", "outcome"),
    [
        ("GB33BUKB20201555555555", Outcome(Status.SUCCEEDED)),
        ("DE89370400440532013000", Outcome(Status.SUCCEEDED)),
        ("GB94BARC10201530093459", Outcome(Status.FAILED, FailureReason.ACCOUNT_CLOSED)),
        ("NL91ABNA0417164300", Outcome(Status.SUCCEEDED)),
    ],
)
def test_payouts_follow_the_test_bank_accounts(iban: str, outcome: Outcome) -> None:
    assert SCENARIOS.payout(account(iban)) == outcome


def test_a_test_card_is_recognised_only_under_the_providers_key() -> None:
    # given the declining test card tokenised under another key, then it is just another card
    other = tokenize_card(
        number="4000000000000002", exp_month=1, exp_year=2030, cvc="123",
        today=date(2026, 12, 1), fingerprint_key=b"other",
    )  # fmt: skip
    always = Scenarios(KEY, success_rate_bp=10_000)
    assert always.charge(other.fingerprint, "k") == Outcome(Status.SUCCEEDED)


def test_other_cards_succeed_at_about_the_success_rate() -> None:
    # given an ordinary valid card and 4 000 distinct idempotency keys at the default 90 %
    fingerprint = card("4111111111111111")
    outcomes = [SCENARIOS.charge(fingerprint, f"deposit-{i}") for i in range(4_000)]
    succeeded = sum(o.status is Status.SUCCEEDED for o in outcomes)
    # then about 90 % succeed and every failure is a plain decline
    assert 3_500 <= succeeded <= 3_700
    assert {o for o in outcomes if o.status is not Status.SUCCEEDED} == {
        Outcome(Status.FAILED, FailureReason.CARD_DECLINED)
    }


@pytest.mark.parametrize(("rate", "expected"), [(0, Status.FAILED), (10_000, Status.SUCCEEDED)])
def test_the_rate_bounds_are_never_and_always(rate: int, expected: Status) -> None:
    scenarios = Scenarios(KEY, success_rate_bp=rate)
    fingerprint = card("4111111111111111")
    assert {scenarios.charge(fingerprint, f"k{i}").status for i in range(200)} == {expected}


@pytest.mark.parametrize("rate", [-1, 10_001])
def test_a_rate_outside_basis_points_is_refused(rate: int) -> None:
    with pytest.raises(ValueError, match="success_rate_bp"):
        Scenarios(KEY, success_rate_bp=rate)


@given(st.text(max_size=80), st.integers(0, 10_000))
def test_a_retried_charge_gets_the_same_outcome(key: str, rate: int) -> None:
    # given a charge with some idempotency key, when it is retried with the same key
    scenarios = Scenarios(KEY, success_rate_bp=rate)
    fingerprint = card("4111111111111111")
    first = scenarios.charge(fingerprint, key)
    # then the answer is the same, and it is success exactly when the key's draw is below rate
    assert scenarios.charge(fingerprint, key) == first
    assert (first.status is Status.SUCCEEDED) == (success_draw(key) < rate)
    assert 0 <= success_draw(key) < 10_000
