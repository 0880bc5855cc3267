"""HTTP bodies of the notifications API (pydantic only at the edge).

Preferences are declared per category and channel: an unknown category or channel, or
turning a security message or an alert off, is refused by the model itself (422).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, StrictBool

NOTIFICATION_EXAMPLE: dict[str, Any] = {
    "id": "0192f7a4-1c2b-7d3e-8f40-123456789abc",
    "kind": "transfer_received",
    "category": "transfers",
    "channel": "email",
    "title": "You received 12.50 EUR",
    "status": "sent",
    "created_at": "2026-12-01T15:00:00Z",
    "read_at": None,
}


class NotificationPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [NOTIFICATION_EXAMPLE]})

    id: str
    kind: str
    category: str
    channel: Literal["email", "sms", "push"]
    title: str
    status: Literal["pending", "sent", "failed"]
    created_at: datetime
    read_at: datetime | None


class NotificationsPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [NOTIFICATION_EXAMPLE], "next_cursor": None}]}
    )

    items: list[NotificationPublic]
    next_cursor: str | None


class Switches(BaseModel):
    """Channels of a category: ``true`` on, ``false`` off, absent unchanged."""

    model_config = ConfigDict(extra="forbid")

    email: StrictBool | None = None
    sms: StrictBool | None = None
    push: StrictBool | None = None


class AlwaysOnSwitches(BaseModel):
    """Security messages and alerts go out by email, always: only ``true`` is accepted."""

    model_config = ConfigDict(extra="forbid")

    email: Literal[True] | None = None


class PreferencesIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"transfers": {"sms": True, "push": False}}]},
    )

    security: AlwaysOnSwitches | None = None
    alerts: AlwaysOnSwitches | None = None
    transfers: Switches | None = None
    deposits: Switches | None = None
    withdrawals: Switches | None = None
    merchant: Switches | None = None


class AlwaysOnPublic(BaseModel):
    email: bool


class SwitchesPublic(BaseModel):
    email: bool
    sms: bool
    push: bool


class Preferences(BaseModel):
    """Every category's channels as they are now (stored choices over the defaults)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "security": {"email": True},
                    "alerts": {"email": True},
                    "transfers": {"email": True, "sms": True, "push": False},
                    "deposits": {"email": True, "sms": False, "push": True},
                    "withdrawals": {"email": True, "sms": False, "push": True},
                    "merchant": {"email": True, "sms": False, "push": True},
                }
            ]
        }
    )

    security: AlwaysOnPublic
    alerts: AlwaysOnPublic
    transfers: SwitchesPublic
    deposits: SwitchesPublic
    withdrawals: SwitchesPublic
    merchant: SwitchesPublic
