"""Card checks and tokenisation: Luhn, brands, expiry by month, CVC length, the token."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pgw_svc.domain import (
    Brand,
    PaymentMethodRejected,
    Rejection,
    detect_brand,
    luhn_check_digit,
    luhn_valid,
    tokenize_card,
)

KEY = b"fingerprint-secret"
TODAY = date(2026, 12, 1)


def tokenize(number: str = "4242424242424242", **overrides: object):
    fields: dict[str, object] = {
        "number": number,
        "exp_month": 12,
        "exp_year": 2030,
        "cvc": "123",
        "today": TODAY,
        "fingerprint_key": KEY,
    }
    fields.update(overrides)
    return tokenize_card(**fields)  # type: ignore[arg-type]


def rejection_of(**fields: object) -> Rejection:
    with pytest.raises(PaymentMethodRejected) as caught:
        tokenize(**fields)  # type: ignore[arg-type]
    return caught.value.reason


@pytest.mark.parametrize(
    ("number", "brand"),
    [
        ("4242424242424242", Brand.VISA),
        ("4000000000003220", Brand.VISA),
        ("5555555555554444", Brand.MASTERCARD),
        ("2223003122003222", Brand.MASTERCARD),
        ("378282246310005", Brand.AMEX),
        ("371449635398431", Brand.AMEX),
        ("6011111111111117", Brand.DISCOVER),
        ("6445644564456445", Brand.DISCOVER),
    ],
)
def test_known_test_numbers_pass_luhn_and_get_their_brand(number: str, brand: Brand) -> None:
    # given a published test number, when it is checked, then Luhn passes and the brand fits
    assert luhn_valid(number)
    assert detect_brand(number) is brand


def test_a_card_becomes_a_token_without_number_or_cvc() -> None:
    # given a valid card typed with spaces
    token = tokenize("4242 4242 4242 4242", cvc="987")
    # then the token holds brand, last4, expiry and a fingerprint, and nothing of the rest
    assert (token.brand, token.last4, token.exp_month, token.exp_year) == (
        Brand.VISA, "4242", 12, 2030
    )  # fmt: skip
    text = repr(token) + repr(dataclasses.asdict(token))
    assert "4242424242424242" not in text
    assert "987" not in text
    assert token.fingerprint not in ("4242424242424242", "")


def test_the_fingerprint_is_keyed_and_stable() -> None:
    # given the same number tokenised twice, with separators, and under another key
    first = tokenize("4242424242424242")
    again = tokenize("4242-4242-4242-4242", exp_year=2031)
    other_key = tokenize("4242424242424242", fingerprint_key=b"another")
    other_card = tokenize("5555555555554444")
    # then the same number under the same key has the same fingerprint, and only then
    assert first.fingerprint == again.fingerprint
    assert first.fingerprint != other_key.fingerprint
    assert first.fingerprint != other_card.fingerprint


@pytest.mark.parametrize(
    "number",
    [
        "4242424242424241",
        "",
        "4242",
        "42424242424242424242",
        "4242x24242424242",
        "٤٢٤٢٤٢٤٢٤٢٤٢٤٢٤٢",
    ],
)
def test_a_bad_number_is_invalid_number(number: str) -> None:
    assert rejection_of(number=number) is Rejection.INVALID_NUMBER


def test_a_luhn_valid_number_of_no_known_brand_is_unsupported() -> None:
    # given a Luhn-valid number starting with 9
    number = "9" * 15 + luhn_check_digit("9" * 15)
    assert rejection_of(number=number) is Rejection.UNSUPPORTED_BRAND


def test_a_card_is_valid_through_the_end_of_its_expiry_month() -> None:
    # given a card expiring 12/2026, when checked on the last day of that month, then it passes
    assert tokenize(exp_month=12, exp_year=2026, today=date(2026, 12, 31)).exp_month == 12
    # when checked on the first day of the next month, then it is expired
    assert rejection_of(exp_month=12, exp_year=2026, today=date(2027, 1, 1)) is (
        Rejection.EXPIRED_CARD
    )
    assert rejection_of(exp_month=11, exp_year=2026) is Rejection.EXPIRED_CARD
    assert rejection_of(exp_month=1, exp_year=2025) is Rejection.EXPIRED_CARD


@pytest.mark.parametrize(("month", "year"), [(0, 2030), (13, 2030), (-1, 2030), (1, 2100)])
def test_an_impossible_expiry_is_invalid_expiry(month: int, year: int) -> None:
    assert rejection_of(exp_month=month, exp_year=year) is Rejection.INVALID_EXPIRY


@pytest.mark.parametrize(
    ("number", "cvc", "accepted"),
    [
        ("4242424242424242", "123", True),
        ("4242424242424242", "1234", False),
        ("4242424242424242", "12", False),
        ("4242424242424242", "12a", False),
        ("4242424242424242", "١٢٣", False),
        ("378282246310005", "1234", True),
        ("378282246310005", "123", False),
        ("5555555555554444", "000", True),
    ],
)
def test_cvc_is_three_digits_or_four_for_amex(number: str, cvc: str, accepted: bool) -> None:
    if accepted:
        assert tokenize(number, cvc=cvc).last4 == number[-4:]
    else:
        assert rejection_of(number=number, cvc=cvc) is Rejection.INVALID_CVC


def test_the_rejection_message_names_only_the_reason() -> None:
    # given a card with a bad CVC, then the error says why and holds no card data
    with pytest.raises(PaymentMethodRejected) as caught:
        tokenize("4242424242424242", cvc="99")
    assert str(caught.value) == "invalid_cvc"


@given(st.text(alphabet="0123456789", min_size=11, max_size=18))
def test_luhn_accepts_the_check_digit_and_refuses_every_other(payload: str) -> None:
    # given any payload, when its Luhn check digit is appended, then the number passes
    check = luhn_check_digit(payload)
    assert luhn_valid(payload + check)
    # and any other last digit fails
    assert not any(luhn_valid(payload + d) for d in "0123456789" if d != check)


@given(st.text(alphabet="0123456789", min_size=11, max_size=18), st.data())
def test_luhn_detects_any_single_digit_change(payload: str, data: st.DataObject) -> None:
    number = payload + luhn_check_digit(payload)
    position = data.draw(st.integers(0, len(number) - 1))
    replacement = data.draw(st.sampled_from([d for d in "0123456789" if d != number[position]]))
    changed = number[:position] + replacement + number[position + 1 :]
    assert not luhn_valid(changed)
