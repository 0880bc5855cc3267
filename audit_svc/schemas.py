"""HTTP schemas of audit_svc (api.md, "Audit")."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

EXAMPLE_RECORD: dict[str, Any] = {
    "seq": 42,
    "event_id": "0190f3c2-7a1e-7c3b-9d2e-4f5a6b7c8d9e",
    "type": "UserRegistered",
    "topic": "user-events",
    "occurred_at": "2026-01-01T12:00:00.123Z",
    "actor": {"kind": "user", "id": "u-1", "role": None, "address": None},
    "subjects": {"user_ids": ["u-1"], "wallet_ids": [], "transaction_ids": [], "payment_ids": []},
    "keys": ["type:UserRegistered", "actor_id:u-1", "user_id:u-1"],
    "correlation_id": "0190f3c2-7a1d-7000-8000-000000000001",
    "data": {"user_id": "u-1", "email": "a***@example.com", "full_name": "A. K.", "role": "user"},
    "prev_hash": "9f2c…",
    "hash": "4be1…",
}


class Actor(BaseModel):
    kind: str  # user | admin | service
    id: str
    role: str | None
    address: str | None


class Subjects(BaseModel):
    user_ids: list[str]
    wallet_ids: list[str]
    transaction_ids: list[str]
    payment_ids: list[str]


class AuditRecord(BaseModel):
    """One record of the audit log; ``data`` is the event's data, masked."""

    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE_RECORD]})

    seq: int
    event_id: str
    type: str
    topic: str
    occurred_at: datetime
    actor: Actor
    subjects: Subjects
    # what the filters match: type, actor and subjects (hashed with the rest; none in a
    # record written before keys existed)
    keys: list[str] = []
    correlation_id: str | None
    data: dict[str, Any]
    prev_hash: str
    hash: str


class AuditPage(BaseModel):
    """Newest first; ``next_cursor`` asks for the page after this one."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [EXAMPLE_RECORD], "next_cursor": "NDE"}]}
    )

    items: list[AuditRecord]
    next_cursor: str | None


class Verification(BaseModel):
    """``first_bad_seq``: the first record whose link is broken (edited, or missing)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"ok": True, "checked": 120, "first_bad_seq": None},
                {"ok": False, "checked": 41, "first_bad_seq": 42},
            ]
        }
    )

    ok: bool
    checked: int
    first_bad_seq: int | None
