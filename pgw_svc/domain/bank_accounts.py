"""Bank account checks and tokenisation: IBAN normalisation, length per country, mod 97.

The token keeps the country, the currency, the last four characters and a keyed
fingerprint; the full IBAN is not part of it, so it cannot reach an event or a response by accident.
"""

from __future__ import annotations

from dataclasses import dataclass

from stdnum import iban as stdnum_iban
from stdnum.iso7064 import mod_97_10

from pgw_svc.domain.currencies import account_currency
from pgw_svc.domain.fingerprint import fingerprint
from pgw_svc.domain.rejections import PaymentMethodRejected, Rejection

# The countries the provider pays out to, with their IBAN length (ISO 13616 registry).
# A payout policy as much as a length table: python-stdnum knows every registry country
# but exposes lengths only inside its per-country format check.
IBAN_LENGTHS: dict[str, int] = {
    "AT": 20,
    "BE": 16,
    "CH": 21,
    "DE": 22,
    "DK": 18,
    "ES": 24,
    "FI": 18,
    "FR": 27,
    "GB": 22,
    "IE": 22,
    "IT": 27,
    "LU": 20,
    "NL": 18,
    "NO": 15,
    "PL": 28,
    "PT": 25,
    "SE": 24,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class BankAccountToken:
    """What the provider shows of a bank account: country, currency, last four; no IBAN."""

    country: str
    currency: str
    last4: str
    fingerprint: str


def normalise_iban(raw: str) -> str:
    """The IBAN as the machine form: no spaces, upper case."""
    return "".join(raw.split()).upper()


def iban_check_digits(country: str, bban: str) -> str:
    """The two check digits that make `country + digits + bban` pass mod 97."""
    return stdnum_iban.calc_check_digits(country + "00" + bban)


def iban_valid(iban: str) -> bool:
    """True for a normalised IBAN of alphanumerics whose check digits pass mod 97.

    The standard allows check digits 02..98 only; mod 97 alone would also pass 99 for 02.
    """
    if len(iban) < 5 or not iban.isascii() or not iban.isalnum():
        return False
    country, check, bban = iban[:2], iban[2:4], iban[4:]
    if not country.isalpha() or not check.isdigit() or not 2 <= int(check) <= 98:
        return False
    return mod_97_10.is_valid(bban + country + check)


def tokenize_bank_account(
    *, iban: str, fingerprint_key: bytes, currency: str | None = None
) -> BankAccountToken:
    """Check an IBAN and return its token, or raise `PaymentMethodRejected`.

    A country outside `IBAN_LENGTHS` is `unsupported_country`; a wrong length, a stray
    character or a failed mod 97 check is `invalid_iban`. The account pays in `currency`,
    else its country's (`currencies.account_currency`: `currency_required` if none).
    """
    normal = normalise_iban(iban)
    country = normal[:2]
    if len(country) != 2 or not (country.isascii() and country.isalpha()):
        raise PaymentMethodRejected(Rejection.INVALID_IBAN)
    if country not in IBAN_LENGTHS:
        raise PaymentMethodRejected(Rejection.UNSUPPORTED_COUNTRY)
    if len(normal) != IBAN_LENGTHS[country] or not iban_valid(normal):
        raise PaymentMethodRejected(Rejection.INVALID_IBAN)
    return BankAccountToken(
        country=country,
        currency=account_currency(country, currency),
        last4=normal[-4:],
        fingerprint=fingerprint(fingerprint_key, normal),
    )
