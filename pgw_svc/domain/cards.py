"""Card checks and tokenisation: Luhn, brand, expiry, CVC, and a view without the number.

`tokenize_card` is the only place a card number and CVC pass through; what it returns
holds neither, so everything after it (storage, logs, events) cannot leak them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from stdnum import luhn

from pgw_svc.domain.fingerprint import fingerprint
from pgw_svc.domain.rejections import PaymentMethodRejected, Rejection

_SEPARATORS = str.maketrans("", "", " -")
MAX_YEARS_AHEAD = 50


class Brand(StrEnum):
    VISA = "visa"
    MASTERCARD = "mastercard"
    AMEX = "amex"
    DISCOVER = "discover"


# (brand, first digits as an inclusive numeric range over a prefix length, valid lengths)
_BRAND_RULES: tuple[tuple[Brand, int, int, int, frozenset[int]], ...] = (
    (Brand.AMEX, 2, 34, 34, frozenset({15})),
    (Brand.AMEX, 2, 37, 37, frozenset({15})),
    (Brand.VISA, 1, 4, 4, frozenset({13, 16, 19})),
    (Brand.MASTERCARD, 2, 51, 55, frozenset({16})),
    (Brand.MASTERCARD, 4, 2221, 2720, frozenset({16})),
    (Brand.DISCOVER, 4, 6011, 6011, frozenset({16, 17, 18, 19})),
    (Brand.DISCOVER, 3, 644, 649, frozenset({16, 17, 18, 19})),
    (Brand.DISCOVER, 2, 65, 65, frozenset({16, 17, 18, 19})),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class CardToken:
    """What the provider keeps of a card: no number, no CVC."""

    brand: Brand
    last4: str
    exp_month: int
    exp_year: int
    fingerprint: str


def luhn_check_digit(payload: str) -> str:
    """The digit that makes `payload + digit` pass the Luhn check."""
    return luhn.calc_check_digit(payload)


def luhn_valid(number: str) -> bool:
    """True when `number` is two or more ASCII digits whose last is the Luhn check digit."""
    return len(number) >= 2 and number.isascii() and number.isdigit() and luhn.is_valid(number)


def normalise_number(raw: str) -> str:
    """The number without the spaces and dashes people type."""
    return raw.translate(_SEPARATORS)


def detect_brand(number: str) -> Brand | None:
    """The brand whose prefix and length match `number`, or None."""
    for brand, width, low, high, lengths in _BRAND_RULES:
        prefix = number[:width]
        if len(prefix) == width and low <= int(prefix) <= high and len(number) in lengths:
            return brand
    return None


def check_expiry(exp_month: int, exp_year: int, today: date) -> None:
    """Refuse a month outside 1..12, a year too far ahead, or a card whose month has passed.

    A card is valid through the last day of its expiry month, so only the month counts.
    """
    if not 1 <= exp_month <= 12 or exp_year > today.year + MAX_YEARS_AHEAD:
        raise PaymentMethodRejected(Rejection.INVALID_EXPIRY)
    if (exp_year, exp_month) < (today.year, today.month):
        raise PaymentMethodRejected(Rejection.EXPIRED_CARD)


def check_cvc(cvc: str, brand: Brand) -> None:
    """Refuse a CVC that is not 3 digits (4 for Amex)."""
    length = 4 if brand is Brand.AMEX else 3
    if len(cvc) != length or not cvc.isascii() or not cvc.isdigit():
        raise PaymentMethodRejected(Rejection.INVALID_CVC)


def tokenize_card(
    *, number: str, exp_month: int, exp_year: int, cvc: str, today: date, fingerprint_key: bytes
) -> CardToken:
    """Check a card and return its token, or raise `PaymentMethodRejected`.

    `today` is the caller's clock (UTC date); `fingerprint_key` is the provider secret.
    """
    digits = normalise_number(number)
    if not 12 <= len(digits) <= 19 or not luhn_valid(digits):
        raise PaymentMethodRejected(Rejection.INVALID_NUMBER)
    brand = detect_brand(digits)
    if brand is None:
        raise PaymentMethodRejected(Rejection.UNSUPPORTED_BRAND)
    check_expiry(exp_month, exp_year, today)
    check_cvc(cvc, brand)
    return CardToken(
        brand=brand,
        last4=digits[-4:],
        exp_month=exp_month,
        exp_year=exp_year,
        fingerprint=fingerprint(fingerprint_key, digits),
    )
