"""HTTP shapes of schedules: what a client sends and what it is shown."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from common.bounds import Instant

Kind = Literal["transfer", "payment"]
Status = Literal["active", "paused", "completed"]


class ScheduleCreate(BaseModel):
    """A recurring transfer or payment: ``body`` as for ``POST /transfers`` or
    ``POST /payments``, every ``interval`` (ISO 8601 duration) or on ``cron`` (five
    fields, in ``timezone``), from ``start_at`` until ``end_at`` or ``max_runs`` runs."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "kind": "transfer",
                    "body": {
                        "from_wallet_id": "0190a3c4-5e6f-7a8b-9c0d-1e2f3a4b5c6d",
                        "to_wallet_id": "0190a3c4-5e6f-7a8b-9c0d-1e2f3a4b5c6e",
                        "amount": 50000,
                        "currency": "USD",
                        "description": "rent",
                    },
                    "interval": "P1M",
                    "start_at": "2026-01-31T09:00:00Z",
                    "max_runs": 12,
                    "timezone": "Europe/Berlin",
                }
            ]
        },
    )

    kind: Kind
    body: dict[str, Any]
    interval: str | None = Field(default=None, max_length=64, description="e.g. PT1M, P1D, P1M")
    cron: str | None = Field(default=None, max_length=128, description="e.g. '0 9 1 * *'")
    start_at: Instant
    end_at: Instant | None = None
    max_runs: int | None = Field(default=None, ge=1, le=100_000)
    timezone: str = Field(default="UTC", max_length=64, description="IANA, e.g. Europe/Berlin")


class ScheduleRun(BaseModel):
    run: int
    at: datetime  # the occurrence it ran for
    transaction_id: str | None  # None: refused as a direct request would have been
    status: str  # the transaction's status, or "failed" when refused
    error: str | None


class SchedulePublic(BaseModel):
    id: str
    kind: Kind
    body: dict[str, Any]
    interval: str | None
    cron: str | None
    timezone: str
    start_at: datetime
    end_at: datetime | None
    max_runs: int | None
    runs_count: int
    status: Status
    next_run_at: datetime | None
    created_at: datetime
    updated_at: datetime
    runs: list[ScheduleRun] | None = None  # GET /schedules/{id} only


class SchedulesPage(BaseModel):
    items: list[SchedulePublic]
    next_cursor: str | None
