"""Bank account checks and tokenisation: IBAN normalisation, length per country, mod 97.

The token keeps the country, the last four characters and a keyed fingerprint; the full
IBAN is not part of it, so it cannot reach an event or a response by accident.
"""

from __future__ import annotations

from dataclasses import dataclass

from pgw_svc.domain.fingerprint import fingerprint
from pgw_svc.domain.rejections import PaymentMethodRejected, Rejection

# IBAN length per country (ISO 13616 registry) for the countries the provider pays out to.
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
    """What the provider shows of a bank account: country and last four, no full IBAN."""

    country: str
    last4: str
    fingerprint: str


def normalise_iban(raw: str) -> str:
    """The IBAN as the machine form: no spaces, upper case."""
    return "".join(raw.split()).upper()


def _as_number(text: str) -> int:
    """Letters become 10..35, as mod 97 wants (A=10, ..., Z=35)."""
    return int("".join(str(int(char, 36)) for char in text))


def iban_check_digits(country: str, bban: str) -> str:
    """The two check digits that make `country + digits + bban` pass mod 97."""
    remainder = _as_number(bban + country + "00") % 97
    return f"{98 - remainder:02d}"


def iban_valid(iban: str) -> bool:
    """True for a normalised IBAN of alphanumerics whose check digits pass mod 97."""
    if len(iban) < 5 or not iban.isascii() or not iban.isalnum():
        return False
    country, check, bban = iban[:2], iban[2:4], iban[4:]
    if not country.isalpha() or not check.isdigit() or not 2 <= int(check) <= 98:
        return False
    return _as_number(bban + country + check) % 97 == 1


def tokenize_bank_account(*, iban: str, fingerprint_key: bytes) -> BankAccountToken:
    """Check an IBAN and return its token, or raise `PaymentMethodRejected`.

    A country outside `IBAN_LENGTHS` is `unsupported_country`; a wrong length, a stray
    character or a failed mod 97 check is `invalid_iban`.
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
        country=country, last4=normal[-4:], fingerprint=fingerprint(fingerprint_key, normal)
    )
