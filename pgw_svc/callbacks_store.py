"""Pending charges and their callbacks in Postgres (schema ``pgw``): what is due, by row.

Deciding a charge sets its final status and ``callback_due_at`` in one update, so the
decision and the duty to report it are committed together. A sender claims due rows by
moving ``callback_due_at`` past its send timeout (a lease) and counting the attempt; rows
are taken with ``FOR UPDATE SKIP LOCKED``, so several pgw_svc processes share the work
without waiting for each other, and a sender that dies leaves the row due again when its
lease ends. A callback given up (``common.retry.GiveUp``) is no longer due and keeps
when and why, with the last answer it got.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

_DUE_PENDING = text("""
SELECT id, capture, amount FROM pgw.charges
WHERE status = 'pending' AND created_at <= :made_before
ORDER BY created_at LIMIT :n FOR UPDATE SKIP LOCKED
""")
_DECIDE = text("""
UPDATE pgw.charges
SET status = :status, failure_reason = :failure_reason, captured_amount = :captured_amount,
    updated_at = :now, callback_due_at = :now, callback_first_due_at = :now
WHERE id = :id
""")
_CLAIM = text("""
UPDATE pgw.charges SET callback_due_at = :lease_until, callback_attempts = callback_attempts + 1
WHERE id IN (
    SELECT id FROM pgw.charges WHERE callback_due_at <= :now
    ORDER BY callback_due_at LIMIT :n FOR UPDATE SKIP LOCKED
)
RETURNING id, idempotency_key, status, amount, currency, failure_reason, callback_attempts,
    callback_first_due_at
""")
_DELIVERED = text("""
UPDATE pgw.charges SET callback_delivered_at = :now, callback_due_at = NULL WHERE id = :id
""")
_RETRY_AT = text("""
UPDATE pgw.charges SET callback_due_at = :at, callback_last_answer = :answer
WHERE id = :id AND callback_delivered_at IS NULL
""")
_GIVE_UP = text("""
UPDATE pgw.charges
SET callback_due_at = NULL, callback_last_answer = :answer, callback_given_up_at = :now,
    callback_give_up_reason = :reason
WHERE id = :id AND callback_delivered_at IS NULL
""")
_NEXT = text("""
SELECT (SELECT min(created_at) FROM pgw.charges WHERE status = 'pending') AS pending,
       (SELECT min(callback_due_at) FROM pgw.charges WHERE callback_due_at IS NOT NULL) AS due
""")


class PgChargeCallbacks:
    """The rows behind the settlement of pending charges and the delivery of callbacks."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def decide(
        self,
        made_before: datetime,
        now: datetime,
        batch: int,
        decision: Callable[[dict[str, Any]], dict[str, Any]],
    ) -> int:
        """Decide up to ``batch`` charges pending since before ``made_before``:
        ``decision(row)`` gives each one's new columns. Returns how many were decided."""
        async with self.engine.begin() as conn:
            params = {"made_before": made_before, "n": batch}
            rows = (await conn.execute(_DUE_PENDING, params)).mappings().all()
            if rows:
                await conn.execute(
                    _DECIDE, [{"id": r["id"], "now": now, **decision(dict(r))} for r in rows]
                )
        return len(rows)

    async def claim(self, now: datetime, lease_until: datetime, batch: int) -> list[dict[str, Any]]:
        """Take up to ``batch`` callbacks due at ``now`` until ``lease_until``."""
        params = {"now": now, "lease_until": lease_until, "n": batch}
        async with self.engine.begin() as conn:
            return [dict(r) for r in (await conn.execute(_CLAIM, params)).mappings()]

    async def delivered(self, charge_id: object, now: datetime) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(_DELIVERED, {"id": charge_id, "now": now})

    async def retry_at(self, charge_id: object, at: datetime, answer: str) -> None:
        """Send the charge's callback again at ``at`` (after an attempt that got ``answer``)."""
        async with self.engine.begin() as conn:
            await conn.execute(_RETRY_AT, {"id": charge_id, "at": at, "answer": answer})

    async def give_up(self, charge_id: object, now: datetime, reason: str, answer: str) -> None:
        """Send the charge's callback no more, for ``reason``, its last attempt got ``answer``."""
        params = {"id": charge_id, "now": now, "reason": reason, "answer": answer}
        async with self.engine.begin() as conn:
            await conn.execute(_GIVE_UP, params)

    async def next_times(self) -> tuple[datetime | None, datetime | None]:
        """The oldest pending charge's creation and the earliest due callback, if any."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(_NEXT)).one()
        return row.pending, row.due
