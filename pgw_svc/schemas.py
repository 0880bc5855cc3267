"""HTTP schemas of the payment methods (validated at the edge).

The card number, CVC and IBAN are only bounded here; their real checks (Luhn, expiry,
CVC length, mod 97) are the domain's, so each refusal has its own stable code.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from common.money import Currency

HolderName = Annotated[str, Field(min_length=1, max_length=200)]

CARD_EXAMPLE: dict[str, Any] = {
    "type": "card", "number": "4242424242424242", "exp_month": 12, "exp_year": 2030,
    "cvc": "123", "holder_name": "Ann Lee",
}  # fmt: skip
BANK_EXAMPLE: dict[str, Any] = {
    "type": "bank_account", "iban": "GB33BUKB20201555555555", "holder_name": "Ann Lee",
}  # fmt: skip


class CardCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [CARD_EXAMPLE]})

    type: Literal["card"]
    number: str = Field(min_length=1, max_length=32, description="digits; spaces, dashes allowed")
    exp_month: int = Field(ge=1, le=12)
    exp_year: int = Field(ge=2000, le=2200)
    cvc: str = Field(min_length=1, max_length=8)
    holder_name: HolderName | None = None


class BankAccountCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [BANK_EXAMPLE]})

    type: Literal["bank_account"]
    iban: str = Field(min_length=1, max_length=64, description="spaces and any case allowed")
    holder_name: HolderName
    currency: Currency | None = Field(
        default=None, description="what the account pays in; by default its country's"
    )


PaymentMethodCreate = Annotated[CardCreate | BankAccountCreate, Field(discriminator="type")]


class CardPublic(BaseModel):
    id: str
    type: Literal["card"]
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    holder_name: str | None
    created_at: datetime


class BankAccountPublic(BaseModel):
    id: str
    type: Literal["bank_account"]
    country: str
    currency: str
    last4: str
    holder_name: str | None
    created_at: datetime


PaymentMethodPublic = Annotated[CardPublic | BankAccountPublic, Field(discriminator="type")]


class PaymentMethodsPage(BaseModel):
    items: list[PaymentMethodPublic]
    next_cursor: str | None


CARD_FIELDS = ("brand", "last4", "exp_month", "exp_year")
BANK_FIELDS = ("country", "currency", "last4")


def method_public(row: dict[str, object]) -> dict[str, object]:
    """The public view of a stored method: only its type's fields."""
    fields = CARD_FIELDS if row["type"] == "card" else BANK_FIELDS
    return {
        "id": str(row["id"]),
        "type": row["type"],
        **{name: row[name] for name in fields},
        "holder_name": row["holder_name"],
        "created_at": row["created_at"],
    }
