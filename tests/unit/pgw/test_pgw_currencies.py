"""What a payment method pays in: an account's currency by its country or its owner's
choice, a card's the provider's card currencies."""

from __future__ import annotations

import pytest

from pgw_svc.domain import (
    IBAN_LENGTHS,
    PaymentMethodRejected,
    Rejection,
    account_currency,
    country_currency,
    method_currencies,
    tokenize_bank_account,
)

KEY = b"fingerprint-secret"
CARD_CURRENCIES = ("USD", "EUR", "GBP")


@pytest.mark.parametrize(
    ("country", "currency"),
    [("GB", "GBP"), ("DE", "EUR"), ("FR", "EUR"), ("AT", "EUR"), ("IE", "EUR"), ("CH", "CHF"),
     ("SE", "SEK"), ("NO", "NOK"), ("DK", "DKK"), ("PL", "PLN")],
)  # fmt: skip
def test_an_account_pays_in_its_countrys_currency_by_default(country: str, currency: str) -> None:
    assert account_currency(country, None) == currency


def test_every_country_the_provider_takes_has_a_default_currency() -> None:
    # so no IBAN the provider accepts needs its owner to name a currency
    assert all(country_currency(c) is not None for c in IBAN_LENGTHS)


def test_a_named_currency_wins_over_the_countrys() -> None:
    assert account_currency("GB", "EUR") == "EUR"


def test_a_country_without_a_currency_needs_one_named() -> None:
    # given a country the table gives no currency (Hungary pays in HUF, not listed)
    with pytest.raises(PaymentMethodRejected) as caught:
        account_currency("HU", None)
    assert caught.value.reason is Rejection.CURRENCY_REQUIRED
    assert account_currency("HU", "HUF") == "HUF"


def test_the_token_carries_the_accounts_currency() -> None:
    gb = tokenize_bank_account(iban="GB33BUKB20201555555555", fingerprint_key=KEY)
    de = tokenize_bank_account(iban="DE89370400440532013000", fingerprint_key=KEY)
    chosen = tokenize_bank_account(
        iban="GB33BUKB20201555555555", fingerprint_key=KEY, currency="USD"
    )
    assert (gb.currency, de.currency, chosen.currency) == ("GBP", "EUR", "USD")
    assert chosen.fingerprint == gb.fingerprint  # the same account whatever it pays in


def test_a_card_pays_in_the_card_currencies_and_an_account_in_its_own() -> None:
    assert method_currencies("card", None, CARD_CURRENCIES) == CARD_CURRENCIES
    assert method_currencies("bank_account", "SEK", CARD_CURRENCIES) == ("SEK",)
