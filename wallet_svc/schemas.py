"""HTTP schemas of wallet_svc (validated at the edge; amounts are int minor units)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from common.money import Currency, MinorUnits

MAX_OVERDRAFT = 10**15


class WalletCreate(BaseModel):
    """``POST /wallets``; ``overdraft_limit`` and ``owner_id`` are for admins only."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"currency": "USD"}]})

    currency: Currency
    overdraft_limit: MinorUnits = Field(default=0, ge=0, le=MAX_OVERDRAFT)
    owner_id: str | None = Field(default=None, min_length=1, max_length=128)


class FreezeRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "suspected fraud"}]}
    )

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


class WalletsPage(BaseModel):
    items: list[WalletPublic]
    next_cursor: str | None


class EntriesPage(BaseModel):
    items: list[EntryPublic]
    next_cursor: str | None


class BalanceAt(BaseModel):
    """``GET /wallets/{id}/entries?as_of=``: the balance at that time."""

    wallet_id: str
    as_of: datetime
    balance: Balance


class WalletPending(BaseModel):
    """``POST /wallets`` answered before the decider did (202)."""

    id: str
    status: str


class CommandPending(BaseModel):
    """A wallet command answered before the decider did (202)."""

    command_id: str
    status: str
    wallet: WalletPublic


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
