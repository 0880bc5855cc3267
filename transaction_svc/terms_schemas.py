"""HTTP shapes of the fee schedule and the limits (``terms_api.py``). Amounts are strict
integers in minor units; a PUT replaces the whole entry it names."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from common.money import Currency, MinorUnits
from transaction_svc.schemas import MAX_AMOUNT

FeeType = Literal["transfer", "deposit", "withdrawal", "payment"]  # pricing.carries_fee
LimitType = Literal["transfer", "payment", "refund", "deposit", "withdrawal"]  # every money POST
Role = Literal["user", "merchant", "admin"]  # the roles that move money


class FeeRuleSet(BaseModel):
    """The fee of one transaction type in one currency:
    ``fixed + ceil(amount * basis_points / 10000)``, at least ``minimum``, at most
    ``maximum`` (absent: no cap)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "transaction_type": "transfer",
                    "currency": "USD",
                    "basis_points": 150,
                    "fixed": 25,
                    "minimum": 30,
                    "maximum": 2000,
                }
            ]
        },
    )

    transaction_type: FeeType
    currency: Currency
    basis_points: int = Field(default=0, ge=0, le=10_000, strict=True)
    fixed: MinorUnits = Field(default=0, ge=0, le=MAX_AMOUNT)
    minimum: MinorUnits = Field(default=0, ge=0, le=MAX_AMOUNT)
    # absent: no cap. Not ``MinorUnits | None`` (see schemas.RefundCreate.amount)
    maximum: MinorUnits = Field(  # type: ignore[assignment]
        default=None, ge=0, le=MAX_AMOUNT, description="absent: no cap"
    )

    @model_validator(mode="after")
    def capped_above_minimum(self) -> FeeRuleSet:
        if self.maximum is not None and self.maximum < self.minimum:
            raise ValueError("maximum must not be below minimum")
        return self


class FeeRulePublic(BaseModel):
    transaction_type: str
    currency: str
    basis_points: int
    fixed: int
    minimum: int
    maximum: int | None
    updated_by: str
    updated_at: datetime


class FeeSchedule(BaseModel):
    """Every priced transaction type and currency; one not listed costs nothing."""

    items: list[FeeRulePublic]


class LimitSet(BaseModel):
    """The limits of one transaction type in one currency, for a role or for one user
    (exactly one of ``role`` and ``user_id``; a user's replace their role's)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "transaction_type": "transfer",
                    "currency": "USD",
                    "role": "user",
                    "per_transaction": 100_000,
                    "daily": 500_000,
                }
            ]
        },
    )

    transaction_type: LimitType
    currency: Currency
    role: Role | None = None
    user_id: UUID | None = None
    # absent: no such limit (see schemas.RefundCreate.amount for why not ``| None``)
    per_transaction: MinorUnits = Field(  # type: ignore[assignment]
        default=None, gt=0, le=MAX_AMOUNT, description="absent: no maximum per transaction"
    )
    daily: MinorUnits = Field(  # type: ignore[assignment]
        default=None, gt=0, le=MAX_AMOUNT, description="absent: no daily total"
    )

    @model_validator(mode="after")
    def one_subject(self) -> LimitSet:
        if (self.role is None) == (self.user_id is None):
            raise ValueError("give exactly one of role and user_id")
        return self


class LimitPublic(BaseModel):
    """A limit as set (``PUT /admin/limits``): whose it is and by whom."""

    transaction_type: str
    currency: str
    role: str | None
    user_id: str | None
    per_transaction: int | None
    daily: int | None
    updated_by: str
    updated_at: datetime


class LimitUse(BaseModel):
    """One of the caller's limits and what the caller used of it today (UTC)."""

    transaction_type: str
    currency: str
    per_transaction: int | None
    daily: int | None
    source: Literal["role", "user"]
    used_today: int
    remaining_today: int | None  # None: no daily total


class MyLimits(BaseModel):
    role: str
    day: date
    items: list[LimitUse]
