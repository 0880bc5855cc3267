"""HTTP shapes of a batch of transfers (``POST /transfers/batch``, docs/transfers.md).

The batch itself is validated here (an object with 1 to ``MAX_ITEMS`` objects in
``items``); each item is validated on its own (``TransferBatchItem``), so a bad item
is that item's problem and never fails the others.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from common.idempotency import IdempotencyKey
from transaction_svc.schemas import TransferCreate

MAX_ITEMS = 1000
# a batch's body may be larger than a single request's (common.body's 64 KiB): 1,000
# items of about 250 bytes, with room for descriptions; the gateway's own limit is 1 MiB
BATCH_BODY_LIMIT = 1024 * 1024


class TransferBatchItem(TransferCreate):
    """One transfer of a batch: the body of a ``POST /transfers`` and its key."""

    idempotency_key: IdempotencyKey

    def transfer(self) -> TransferCreate:
        """The item as the single request it stands for (same key, same body: the same
        transfer, whichever endpoint made it)."""
        return TransferCreate.model_construct(**self.model_dump(exclude={"idempotency_key"}))


class TransferBatchCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "idempotency_key": "rent-2026-12",
                            "from_wallet_id": "0190a3c4-5e6f-7a8b-9c0d-1e2f3a4b5c6d",
                            "to_wallet_id": "0190a3c4-5e6f-7a8b-9c0d-1e2f3a4b5c6e",
                            "amount": 2550,
                            "currency": "USD",
                        }
                    ]
                }
            ]
        },
    )

    items: list[dict[str, Any]] = Field(
        min_length=1,
        max_length=MAX_ITEMS,
        description="1 to 1,000 transfers, each the body of POST /transfers with its "
        "`idempotency_key`; each is validated, accepted or refused on its own",
    )


class BatchItemResult(BaseModel):
    """One item's outcome: its transfer (id and current status) or its problem."""

    index: int
    idempotency_key: str | None
    transaction_id: str | None = None
    status: str | None = None
    failure_reason: str | None = None
    problem: dict[str, Any] | None = Field(
        default=None, description="the problem+json document this item alone was refused with"
    )


class BatchCounts(BaseModel):
    accepted: int
    refused: int
    by_status: dict[str, int]


class BatchLinks(BaseModel):
    self: str


class TransferBatchPublic(BaseModel):
    """A batch: ``done`` once every accepted transfer is terminal."""

    id: str
    status: Literal["processing", "done"]
    created_at: datetime
    counts: BatchCounts
    items: list[BatchItemResult]
    links: BatchLinks
