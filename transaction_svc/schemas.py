"""HTTP shapes of transaction_svc. Amounts are strict integers in minor units."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from common.money import Currency, MinorUnits

MAX_AMOUNT = 10**15


class _Money(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # bounds on the field, not in an Annotated alias after MinorUnits' validator: there
    # pydantic leaves them out of the JSON Schema ("gt" instead of "exclusiveMinimum")
    amount: MinorUnits = Field(gt=0, le=MAX_AMOUNT)
    currency: Currency


class TransferCreate(_Money):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "from_wallet_id": "0190a3c4-5e6f-7a8b-9c0d-1e2f3a4b5c6d",
                    "to_wallet_id": "0190a3c4-5e6f-7a8b-9c0d-1e2f3a4b5c6e",
                    "amount": 2550,
                    "currency": "USD",
                    "description": "lunch",
                }
            ]
        }
    )

    from_wallet_id: UUID
    to_wallet_id: UUID
    description: str | None = Field(default=None, max_length=280)


class DepositCreate(_Money):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "wallet_id": "0190a3c4-5e6f-7a8b-9c0d-1e2f3a4b5c6d",
                    "amount": 10000,
                    "currency": "USD",
                    "payment_method_id": "0190a3c4-5e6f-7a8b-9c0d-1e2f3a4b5c70",
                }
            ]
        }
    )

    wallet_id: UUID
    payment_method_id: UUID = Field(description="a card of the caller's (POST /payment-methods)")


class WithdrawalCreate(_Money):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "wallet_id": "0190a3c4-5e6f-7a8b-9c0d-1e2f3a4b5c6d",
                    "amount": 2500,
                    "currency": "USD",
                    "payout_method_id": "0190a3c4-5e6f-7a8b-9c0d-1e2f3a4b5c71",
                }
            ]
        }
    )

    wallet_id: UUID
    payout_method_id: UUID = Field(description="a bank account of the caller's")


class SagaStep(BaseModel):
    step: str
    status: str
    at: int | str | None


class TransactionLinks(BaseModel):
    self: str


class TransactionPublic(BaseModel):
    """A transfer, deposit or withdrawal and where its saga is."""

    id: str
    type: Literal["transfer", "deposit", "withdrawal"]
    status: str
    amount: int
    currency: str
    fee: int
    from_wallet_id: str | None
    to_wallet_id: str | None
    description: str | None
    failure_reason: str | None
    steps: list[SagaStep]
    created_at: datetime
    updated_at: datetime
    links: TransactionLinks


class TransactionsPage(BaseModel):
    items: list[TransactionPublic]
    next_cursor: str | None
