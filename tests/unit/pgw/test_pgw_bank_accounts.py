"""IBAN checks and tokenisation: normalisation, length per country, mod 97, the token."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pgw_svc.domain import (
    IBAN_LENGTHS,
    PaymentMethodRejected,
    Rejection,
    iban_check_digits,
    iban_valid,
    normalise_iban,
    tokenize_bank_account,
)

KEY = b"fingerprint-secret"
ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def rejection_of(iban: str) -> Rejection:
    with pytest.raises(PaymentMethodRejected) as caught:
        tokenize_bank_account(iban=iban, fingerprint_key=KEY)
    return caught.value.reason


@pytest.mark.parametrize(
    ("iban", "country", "last4"),
    [
        ("GB33BUKB20201555555555", "GB", "5555"),
        ("DE89370400440532013000", "DE", "3000"),
        ("GB94BARC10201530093459", "GB", "3459"),
        ("FR1420041010050500013M02606", "FR", "2606"),
        ("ES9121000418450200051332", "ES", "1332"),
        ("IT60X0542811101000000123456", "IT", "3456"),
        ("NL91ABNA0417164300", "NL", "4300"),
    ],
)
def test_a_valid_iban_becomes_a_token_with_country_and_last4(
    iban: str, country: str, last4: str
) -> None:
    token = tokenize_bank_account(iban=iban, fingerprint_key=KEY)
    assert (token.country, token.last4) == (country, last4)
    assert iban not in repr(dataclasses.asdict(token))


def test_spaces_and_case_do_not_change_the_account() -> None:
    # given the same IBAN as printed on paper and as the machine form
    printed = tokenize_bank_account(iban="gb33 bukb 2020 1555 5555 55", fingerprint_key=KEY)
    machine = tokenize_bank_account(iban="GB33BUKB20201555555555", fingerprint_key=KEY)
    # then both are the same account
    assert printed == machine
    assert normalise_iban(" de89 3704\t0044 0532 0130 00 ") == "DE89370400440532013000"


@pytest.mark.parametrize(
    "iban",
    [
        "GB34BUKB20201555555555",  # check digits off by one
        "GB33BUKB20201555555556",  # one digit changed
        "GB33BUKB2020155555555",  # one short for GB
        "GB33BUKB202015555555555",  # one long for GB
        "GB33BUKB2020155555555!",
        "GB99BUKB20201555555555",
        "G",
        "",
        "1234567890",
    ],
)
def test_a_bad_iban_is_invalid_iban(iban: str) -> None:
    assert rejection_of(iban) is Rejection.INVALID_IBAN


def test_check_digits_outside_2_to_98_are_refused_even_when_mod_97_passes() -> None:
    # given a BBAN whose check digits are 02, and 99 which is congruent to 02 mod 97
    bban = "WEST00000000000029"
    assert iban_check_digits("GB", bban) == "02"
    # then only 02 is valid: the standard allows check digits 02..98
    assert iban_valid("GB02" + bban)
    assert not iban_valid("GB99" + bban)
    assert rejection_of("GB99" + bban) is Rejection.INVALID_IBAN


def test_a_country_without_a_known_length_is_unsupported() -> None:
    # given a mod-97-valid IBAN of a country the provider does not pay out to (Mauritius)
    assert rejection_of("MU17BOMM0101101030300200000MUR") is Rejection.UNSUPPORTED_COUNTRY


def test_the_common_countries_have_their_registry_lengths() -> None:
    expected = {"GB": 22, "DE": 22, "FR": 27, "ES": 24, "IT": 27, "NL": 18}
    assert {c: IBAN_LENGTHS[c] for c in expected} == expected


@given(st.sampled_from(sorted(IBAN_LENGTHS)), st.data())
def test_computed_check_digits_round_trip(country: str, data: st.DataObject) -> None:
    # given a random BBAN of the country's length
    size = IBAN_LENGTHS[country] - 4
    bban = data.draw(st.text(alphabet=ALNUM, min_size=size, max_size=size))
    # when its check digits are computed, then the IBAN verifies and tokenises
    iban = country + iban_check_digits(country, bban) + bban
    assert iban_valid(iban)
    assert tokenize_bank_account(iban=iban, fingerprint_key=KEY).country == country
    # and any single changed digit is refused (mod 97 guarantees it for digit-for-digit
    # changes; a letter stands for two digits, so a letter swap is not guaranteed)
    digits_at = [i for i, c in enumerate(iban) if c.isdigit()]
    position = data.draw(st.sampled_from(digits_at))
    replacement = data.draw(st.sampled_from([c for c in "0123456789" if c != iban[position]]))
    changed = iban[:position] + replacement + iban[position + 1 :]
    assert not iban_valid(changed)
