"""HTTP shapes of the webhook endpoints (``/webhooks``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from transaction_svc.webhooks.catalog import ALL, DELIVERABLE

EVENT_NAMES = [*sorted(DELIVERABLE), ALL]


def _deliverable(name: str) -> str:
    if name != ALL and name not in DELIVERABLE:
        raise ValueError(f"not an event a merchant receives; one of {', '.join(EVENT_NAMES)}")
    return name


EventName = Annotated[
    str, AfterValidator(_deliverable), Field(json_schema_extra={"enum": EVENT_NAMES})
]


class WebhookCreate(BaseModel):
    """An endpoint to receive the merchant's payment events, signed with its secret."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "url": "https://shop.example.com/paystream/webhooks",
                    "events": ["PaymentCompleted", "PaymentFailed", "RefundCompleted"],
                    "description": "order fulfilment",
                }
            ]
        },
    )

    url: str = Field(
        min_length=1,
        max_length=2048,
        json_schema_extra={"format": "uri"},
        description="https; its host must resolve to public addresses only",
    )
    events: list[EventName] = Field(
        min_length=1, max_length=32, description='payment-events types, or ["*"] for all'
    )
    description: str | None = Field(default=None, max_length=280)


class WebhookPublic(BaseModel):
    id: str
    url: str
    events: list[str]
    description: str | None
    status: str = Field(description="enabled, or disabled after a run of failed attempts")
    consecutive_failures: int
    disabled_at: datetime | None
    created_at: datetime
    updated_at: datetime


class WebhookWithSecret(WebhookPublic):
    secret: str = Field(description="shown once: the HMAC-SHA256 key of Paystream-Signature")


class WebhooksPage(BaseModel):
    items: list[WebhookPublic]
    next_cursor: str | None


class AttemptPublic(BaseModel):
    attempt: int
    at: datetime
    status_code: int | None
    latency_ms: int
    error: str | None


class DeliveryPublic(BaseModel):
    id: str
    webhook_id: str
    event_id: str
    event_type: str
    payment_id: str
    status: str = Field(description="pending, delivered, or failed (given up)")
    next_attempt_at: datetime | None
    give_up_at: datetime
    give_up_reason: str | None = Field(
        description="when failed: refused (the endpoint answered a 4xx but 408 and 429) "
        "or expired (the next attempt would have come past give_up_at)"
    )
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime
    updated_at: datetime
    attempts: list[AttemptPublic]


class DeliveriesPage(BaseModel):
    items: list[DeliveryPublic]
    next_cursor: str | None
