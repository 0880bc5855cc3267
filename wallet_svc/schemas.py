"""HTTP schemas of wallet_svc (validated at the edge; amounts are int minor units)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator

from common.money import EXPONENTS

MAX_OVERDRAFT = 10**15


class WalletCreate(BaseModel):
    """``POST /wallets``; ``overdraft_limit`` and ``owner_id`` are for admins only."""

    model_config = ConfigDict(extra="forbid")

    currency: str = Field(min_length=3, max_length=3)
    overdraft_limit: StrictInt = Field(default=0, ge=0, le=MAX_OVERDRAFT)
    owner_id: str | None = Field(default=None, min_length=1, max_length=128)

    @field_validator("currency")
    @classmethod
    def _supported(cls, value: str) -> str:
        if value not in EXPONENTS:
            raise ValueError(f"unsupported currency {value!r}")
        return value


class FreezeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", max_length=500)


class Balance(BaseModel):
    ledger: int
    available: int


class WalletPublic(BaseModel):
    id: str
    owner_id: str
    currency: str
    status: str
    balance: Balance
    overdraft_limit: int
    created_at: datetime | None


class Posting(BaseModel):
    account: str
    amount: int
    currency: str


class EntryPublic(BaseModel):
    event_id: str
    kind: str
    amount: int
    currency: str
    transaction_id: str | None
    ledger_after: int
    available_after: int
    occurred_at: datetime
    postings: list[Posting]


class Page(BaseModel):
    items: list[Any]
    next_cursor: str | None


class BalanceAt(BaseModel):
    as_of: datetime
    balance: Balance


def wallet_public(row: dict[str, Any]) -> dict[str, Any]:
    """The public shape of a wallet row or cached document (plain dict, orjson-ready)."""
    return {
        "id": str(row["id"]),
        "owner_id": row["owner_id"],
        "currency": row["currency"],
        "status": row["status"],
        "balance": {"ledger": int(row["ledger"]), "available": int(row["available"])},
        "overdraft_limit": int(row["overdraft_limit"]),
        "created_at": row["created_at"],
    }
