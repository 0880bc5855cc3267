"""Which currencies a payment method can pay in.

A bank account pays in one currency: the one its owner names, or by default its
country's (an IBAN names the country, not the currency). A card pays in the currencies
the provider accepts for cards. A charge or payout in another currency is refused
before anything is stored. The caller has checked that a code is a known currency.
"""

from __future__ import annotations

from collections.abc import Collection

from pgw_svc.domain.rejections import PaymentMethodRejected, Rejection

EUROZONE = frozenset({
    "AT", "BE", "CY", "DE", "EE", "ES", "FI", "FR", "GR", "HR",
    "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PT", "SI", "SK",
})  # fmt: skip
NATIONAL_CURRENCIES: dict[str, str] = {
    "GB": "GBP",
    "CH": "CHF",
    "SE": "SEK",
    "NO": "NOK",
    "DK": "DKK",
    "PL": "PLN",
}


def country_currency(country: str) -> str | None:
    """The currency an account in ``country`` pays in by default, or None if it has none."""
    return "EUR" if country in EUROZONE else NATIONAL_CURRENCIES.get(country)


def account_currency(country: str, requested: str | None) -> str:
    """The currency of a new bank account: ``requested``, else its country's.

    Raises ``PaymentMethodRejected(currency_required)`` when neither names one.
    """
    currency = requested or country_currency(country)
    if currency is None:
        raise PaymentMethodRejected(Rejection.CURRENCY_REQUIRED)
    return currency


def method_currencies(
    method_type: str, account_currency: str | None, card_currencies: Collection[str]
) -> tuple[str, ...]:
    """What a stored method pays in: a card, the card currencies; an account, its own."""
    if method_type == "card":
        return tuple(card_currencies)
    return () if account_currency is None else (account_currency,)
