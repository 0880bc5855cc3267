"""Money as integer minor units with ISO 4217 exponents. No float ever touches it."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

# ISO 4217 minor-unit exponents of the currencies paystream accepts.
EXPONENTS: dict[str, int] = {
    "USD": 2,
    "EUR": 2,
    "GBP": 2,
    "CHF": 2,
    "CAD": 2,
    "AUD": 2,
    "NZD": 2,
    "SEK": 2,
    "NOK": 2,
    "DKK": 2,
    "PLN": 2,
    "CZK": 2,
    "HUF": 2,
    "INR": 2,
    "CNY": 2,
    "BRL": 2,
    "MXN": 2,
    "ZAR": 2,
    "SGD": 2,
    "HKD": 2,
    "TRY": 2,
    "NGN": 2,
    "KES": 2,
    "JPY": 0,
    "KRW": 0,
    "ISK": 0,
    "CLP": 0,
    "VND": 0,
    "UGX": 0,
    "BHD": 3,
    "KWD": 3,
    "OMR": 3,
    "JOD": 3,
    "TND": 3,
}


class MoneyError(ValueError):
    """An amount or currency that paystream refuses."""


def exponent(currency: str) -> int:
    try:
        return EXPONENTS[currency]
    except KeyError:
        raise MoneyError(f"unsupported currency {currency!r}") from None


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in the currency's minor unit (cents for USD, yen for JPY)."""

    amount: int
    currency: str

    def __post_init__(self) -> None:
        if type(self.amount) is not int:  # bool and float are refused
            raise MoneyError("amount must be an integer number of minor units")
        exponent(self.currency)

    @classmethod
    def of(cls, major: str | int | Decimal, currency: str) -> Money:
        """Parse a major-unit amount ("25.50" USD -> 2550); excess precision is refused."""
        if isinstance(major, float):
            raise MoneyError("floats are not accepted for money")
        try:
            value = Decimal(str(major))
        except InvalidOperation:
            raise MoneyError(f"not a number: {major!r}") from None
        exp = exponent(currency)
        minor = value.scaleb(exp)
        if minor != minor.to_integral_value():
            raise MoneyError(f"{currency} has {exp} decimal places; {major} has more")
        return cls(int(minor), currency)

    def _same(self, other: Money) -> None:
        if self.currency != other.currency:
            raise MoneyError(f"currency mismatch: {self.currency} vs {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def to_major_str(self) -> str:
        """ "25.50" for Money(2550, "USD"); for display only."""
        exp = exponent(self.currency)
        return str(Decimal(self.amount).scaleb(-exp).quantize(Decimal(1).scaleb(-exp)))

    def to_dict(self) -> dict[str, int | str]:
        return {"amount": self.amount, "currency": self.currency}
