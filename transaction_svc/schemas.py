"""HTTP shapes of transaction_svc. Amounts are strict integers in minor units."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator

from common.money import EXPONENTS

MAX_AMOUNT = 10**15
Amount = Annotated[StrictInt, Field(gt=0, le=MAX_AMOUNT)]


class _Money(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: Amount
    currency: str = Field(min_length=3, max_length=3)

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, value: str) -> str:
        if value not in EXPONENTS:
            raise ValueError(f"unsupported currency {value!r}")
        return value


class TransferCreate(_Money):
    from_wallet_id: UUID
    to_wallet_id: UUID
    description: str | None = Field(default=None, max_length=280)


class DepositCreate(_Money):
    wallet_id: UUID
    payment_method_id: str | None = Field(default=None, max_length=64)
