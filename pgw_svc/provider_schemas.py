"""HTTP schemas of the provider API that the money services call (service tokens only)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from common.money import Currency, MinorUnits

Amount = MinorUnits


class _Create(BaseModel):
    model_config = ConfigDict(extra="forbid")

    owner_id: str = Field(min_length=1, max_length=64, description="the method's owner")
    payment_method_id: uuid.UUID
    amount: Amount = Field(gt=0)
    currency: Currency


class ChargeCreate(_Create):
    """A charge of a stored card; ``capture=false`` only authorizes it (capture or void later)."""

    capture: bool = True


class PayoutCreate(_Create):
    """A payout to a stored bank account."""


class RefundCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    charge_id: uuid.UUID
    amount: Amount = Field(gt=0)


ChargeStatus = Literal["pending", "authorized", "captured", "voided", "failed"]


class ChargePublic(BaseModel):
    id: str
    idempotency_key: str
    payment_method_id: str
    amount: int
    currency: str
    status: ChargeStatus
    failure_reason: str | None
    captured_amount: int
    refunded_amount: int
    created_at: datetime
    updated_at: datetime


class RefundPublic(BaseModel):
    id: str
    idempotency_key: str
    charge_id: str
    amount: int
    currency: str
    status: Literal["succeeded"]
    created_at: datetime


class PayoutPublic(BaseModel):
    id: str
    idempotency_key: str
    payment_method_id: str
    amount: int
    currency: str
    status: Literal["succeeded", "failed"]
    failure_reason: str | None
    created_at: datetime


FIELDS: dict[type[BaseModel], tuple[str, ...]] = {
    model: tuple(model.model_fields) for model in (ChargePublic, RefundPublic, PayoutPublic)
}


def public(model: type[BaseModel], row: dict[str, Any]) -> dict[str, Any]:
    """The answer for a stored row: the model's fields, ids as strings."""
    return {
        name: str(row[name]) if isinstance(row[name], uuid.UUID) else row[name]
        for name in FIELDS[model]
    }
