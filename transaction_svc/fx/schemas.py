"""HTTP shapes of FX. Rates are decimal strings on the wire, both ways: a JSON number is
refused as a rate (it would have been a float on the way); amounts are integers in minor
units."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, WithJsonSchema

from common.money import Currency, MinorUnits
from transaction_svc.fx.rates import PIVOT, SIGNIFICANT
from transaction_svc.schemas import MAX_AMOUNT

RATE_PATTERN = r"^[0-9]{1,12}(\.[0-9]{1,12})?$"
_RATE = re.compile(RATE_PATTERN)


def _rate(value: object) -> Decimal:
    if not isinstance(value, str) or not _RATE.fullmatch(value):
        raise ValueError('a rate is a decimal string such as "0.9213"')
    rate = Decimal(value)
    if rate <= 0:
        raise ValueError("a rate is above zero")
    if len(rate.normalize().as_tuple().digits) > SIGNIFICANT:
        raise ValueError(f"a rate has at most {SIGNIFICANT} significant digits")
    return rate


# A rate as a client sends it: a decimal string, above zero, at most 12 significant digits.
RateString = Annotated[
    Decimal,
    PlainValidator(_rate),
    WithJsonSchema({"type": "string", "pattern": RATE_PATTERN, "examples": ["0.9213"]}),
]
RateOut = Annotated[str, Field(pattern=r"^[0-9]+(\.[0-9]+)?$", examples=["0.9213"])]


class CurrencyPublic(BaseModel):
    code: str
    minor_units: int = Field(description="ISO 4217 exponent: 2 for USD, 0 for JPY, 3 for KWD")


class Currencies(BaseModel):
    items: list[CurrencyPublic]


class RatesPublic(BaseModel):
    base: str
    rates: dict[str, RateOut] = Field(description="units of each currency per one `base`")
    as_of: datetime | None = Field(description="when the latest change was made")


class RatesSet(BaseModel):
    """New rates of some currencies against the pivot currency (the others keep theirs)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"base": PIVOT, "rates": {"EUR": "0.9213"}}]},
    )

    base: Literal["USD"] = Field(default="USD", description="rates are set against USD")
    rates: dict[Currency, RateString] = Field(min_length=1, max_length=64)


class RatePoint(BaseModel):
    rate: RateOut
    as_of: datetime
    source: str = Field(
        description="where the change came from: config, feed or admin; in_force for the "
        "rate already in force at the start of the range"
    )


class RateHistory(BaseModel):
    base: str
    quote: str
    items: list[RatePoint]
    next_cursor: str | None


class QuoteCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"from_currency": "USD", "to_currency": "EUR", "amount": 10000}]
        },
    )

    from_currency: Currency
    to_currency: Currency
    amount: MinorUnits = Field(gt=0, le=MAX_AMOUNT, description="in from_currency's minor units")


class QuotePublic(BaseModel):
    id: str
    from_currency: str
    to_currency: str
    rate: RateOut = Field(description="units of to_currency per one from_currency")
    from_amount: int = Field(description="what the payer's wallet gives, in its minor units")
    to_amount: int = Field(
        description="what the payee's wallet gets, in its minor units: from_amount at the "
        "rate, rounded down"
    )
    fee: int = Field(description="the transfer fee in from_currency, paid on top")
    created_at: datetime
    expires_at: datetime
