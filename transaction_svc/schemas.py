"""HTTP shapes of transaction_svc. Amounts are strict integers in minor units."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

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
    quote_id: UUID | None = Field(
        default=None,
        description="a quote of the caller's (POST /fx/quotes) to pay a wallet in another "
        "currency: amount and currency are the quote's from_amount and from_currency",
    )


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


MetadataKey = Annotated[str, StringConstraints(min_length=1, max_length=40)]
MetadataValue = Annotated[str, StringConstraints(max_length=500)]


class PaymentCreate(_Money):
    """A payment to a merchant for one of its orders, from the payer's wallet in the
    payment's currency or charged to the payer's card: exactly one of ``from_wallet_id``
    and ``payment_method_id`` (one payment per ``(merchant_id, order_id)``)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "merchant_id": "0190a3c4-5e6f-7a8b-9c0d-1e2f3a4b5c72",
                    "order_id": "order-1042",
                    "amount": 4999,
                    "currency": "USD",
                    "from_wallet_id": "0190a3c4-5e6f-7a8b-9c0d-1e2f3a4b5c6d",
                    "description": "2 tickets",
                    "customer_email": "ada@example.com",
                    "metadata": {"cart": "c-77"},
                }
            ]
        }
    )

    merchant_id: UUID = Field(description="the user id of the merchant paid")
    order_id: str = Field(min_length=1, max_length=128, description="the merchant's order")
    from_wallet_id: UUID | None = Field(
        default=None, description="the payer's wallet, in the payment's currency"
    )
    payment_method_id: UUID | None = Field(
        default=None, description="a card of the payer's (POST /payment-methods)"
    )
    description: str | None = Field(default=None, max_length=280)
    customer_email: str | None = Field(default=None, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    customer_name: str | None = Field(default=None, min_length=1, max_length=200)
    metadata: dict[MetadataKey, MetadataValue] | None = Field(default=None, max_length=20)

    @model_validator(mode="after")
    def one_source(self) -> PaymentCreate:
        if (self.from_wallet_id is None) == (self.payment_method_id is None):
            raise ValueError("give exactly one of from_wallet_id and payment_method_id")
        return self


class RefundCreate(BaseModel):
    """All that is left of the payment (no ``amount``), or part of it."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"amount": 1000, "reason": "one returned"}]}
    )

    # absent: all that is left. Not ``MinorUnits | None``: pydantic writes a union
    # member's bounds as "gt"/"le", no JSON Schema keywords (a null is refused instead)
    amount: MinorUnits = Field(  # type: ignore[assignment]
        default=None, gt=0, le=MAX_AMOUNT, description="absent: all that is left to refund"
    )
    reason: str | None = Field(default=None, max_length=280)


class Refund(RefundCreate):
    """A refund request with the payment it refunds (from the path)."""

    payment_id: str


class SagaStep(BaseModel):
    step: str
    status: str
    at: int | str | None


class TransactionLinks(BaseModel):
    self: str


class PaymentSummary(BaseModel):
    """What a payment's transaction says of the payment (``GET /payments/{id}``: all)."""

    merchant_id: str
    order_id: str
    provider: Literal["wallet", "card"]
    status: str
    refunded_amount: int
    provider_payment_id: str | None = None


class RefundSummary(BaseModel):
    payment_id: str


class ConversionSummary(BaseModel):
    quote_id: str
    to_amount: int = Field(description="what the payee's wallet gets, in its minor units")
    to_currency: str


class TransactionPublic(BaseModel):
    """A transfer, deposit, withdrawal, payment or refund and where its saga is."""

    id: str
    type: Literal["transfer", "deposit", "withdrawal", "payment", "refund"]
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
    payment: PaymentSummary | None = None  # a payment's
    refund: RefundSummary | None = None  # a refund's
    conversion: ConversionSummary | None = None  # a transfer's that converts (docs/fx.md)


class RefundPublic(BaseModel):
    id: str
    amount: int
    status: str
    reason: str | None
    failure_reason: str | None
    created_at: datetime


class PaymentLinks(BaseModel):
    self: str
    transaction: str


class PaymentPublic(BaseModel):
    """A payment to a merchant: ``status`` is pending, processing, completed, failed,
    partially_refunded or refunded."""

    id: str
    merchant_id: str
    order_id: str
    payer_id: str
    amount: int
    currency: str
    provider: Literal["wallet", "card"]
    status: str
    refunded_amount: int
    from_wallet_id: str | None
    description: str | None
    customer_email: str | None
    customer_name: str | None
    metadata: dict[str, str] | None
    provider_payment_id: str | None
    failure_reason: str | None
    refunds: list[RefundPublic]
    created_at: datetime
    updated_at: datetime
    links: PaymentLinks


class PaymentsPage(BaseModel):
    items: list[PaymentPublic]
    next_cursor: str | None


class TransactionsPage(BaseModel):
    items: list[TransactionPublic]
    next_cursor: str | None
