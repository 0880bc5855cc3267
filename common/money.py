"""The currencies paystream accepts and their ISO 4217 minor-unit exponents: amounts are
integers in the minor unit (cents for USD, yen for JPY) everywhere, never floats."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, StrictInt, WithJsonSchema

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


def _known(code: str) -> str:
    if code not in EXPONENTS:
        raise ValueError(f"unsupported currency {code!r}")
    return code


# A currency code as every HTTP schema takes it (the OpenAPI document lists them all).
Currency = Annotated[
    str,
    AfterValidator(_known),
    WithJsonSchema({"type": "string", "enum": list(EXPONENTS), "examples": ["USD"]}),
]


def _whole(value: object) -> object:
    """JSON Schema's ``integer`` takes 1.0 as 1: so do we, exactly, and nothing fractional."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


# An amount in minor units: a JSON integer (1.0 is 1), never a string, a bool or a fraction.
MinorUnits = Annotated[StrictInt, BeforeValidator(_whole)]
