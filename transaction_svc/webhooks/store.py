"""Postgres access for webhooks: a merchant's endpoints, their deliveries and attempts.

A delivery is recorded once per (endpoint, event) by the delivery worker, in the
transaction that stores its consumed offsets (``record``: the unique key drops a replay).
``claim_due`` hands out only the head of each (endpoint, payment) line, so a payment's
events reach an endpoint in order: the next waits until the one before was delivered or
given up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from common.errors import Problem
from common.retry import GiveUp
from transaction_svc.store import newest_first

E = "transactions.webhook_endpoints"
D = "transactions.webhook_deliveries"
A = "transactions.webhook_attempts"
ENDPOINT_COLUMNS = (
    "e.id, e.merchant_id, e.url, e.events, e.description, e.status, e.consecutive_failures, "
    "e.disabled_at, e.created_at, e.updated_at"
)
Cursor = tuple[datetime, str] | None  # the last row's (created_at, id)
DELIVERY_COLUMNS = (
    "d.id, d.endpoint_id, d.event_id, d.event_type, d.payment_id, d.status, d.attempts, "
    "d.next_attempt_at, d.give_up_at, d.give_up_reason, d.last_status_code, d.last_error, "
    "d.delivered_at, d.created_at, d.updated_at"
)


async def create_endpoint(engine: AsyncEngine, endpoint: dict[str, Any], most: int) -> Row[Any]:
    """Insert ``endpoint`` unless its merchant already has ``most`` (422
    ``webhook_limit_reached``); the merchant's creations are serialised by a lock."""
    async with engine.begin() as conn:
        await conn.execute(
            text("SELECT pg_advisory_xact_lock(hashtext('webhooks:' || :m))"),
            {"m": endpoint["merchant_id"]},
        )
        count = (
            await conn.execute(
                text(f"SELECT count(*) FROM {E} WHERE merchant_id = :m"),
                {"m": endpoint["merchant_id"]},
            )
        ).scalar_one()
        if count >= most:
            raise Problem(
                422, "webhook_limit_reached", f"a merchant has at most {most} endpoints", limit=most
            )
        return (
            await conn.execute(
                text(
                    f"INSERT INTO {E} AS e (id, merchant_id, url, events, description, secret, "
                    "created_at, updated_at) VALUES (:id, :merchant_id, :url, :events, "
                    f":description, :secret, :now, :now) RETURNING {ENDPOINT_COLUMNS}"
                ),
                endpoint,
            )
        ).one()


async def get_endpoint(engine: AsyncEngine, endpoint_id: str, merchant_id: str) -> Row[Any] | None:
    async with engine.connect() as conn:
        return (
            await conn.execute(
                text(f"SELECT {ENDPOINT_COLUMNS} FROM {E} e WHERE id = :id AND merchant_id = :m"),
                {"id": endpoint_id, "m": merchant_id},
            )
        ).one_or_none()


async def _newest(
    engine: AsyncEngine, select: str, owner: tuple[str, str], cursor: Cursor, limit: int
) -> list[Row[Any]]:
    """A page of ``select`` (ending in its table's alias) newest first, of one owner:
    ``(column, value)``."""
    alias = select.rsplit(" ", 1)[1]
    column, value = owner
    sql, params = newest_first(
        select, alias, [(value, f"{alias}.{column} = :owner", "owner")], cursor, limit
    )
    async with engine.connect() as conn:
        return list(await conn.execute(text(sql), params))


async def search_endpoints(
    engine: AsyncEngine, merchant_id: str, cursor: Cursor, limit: int
) -> list[Row[Any]]:
    select = f"SELECT {ENDPOINT_COLUMNS} FROM {E} e"
    return await _newest(engine, select, ("merchant_id", merchant_id), cursor, limit)


async def delete_endpoint(engine: AsyncEngine, endpoint_id: str, merchant_id: str) -> bool:
    """Remove the endpoint with its deliveries (nothing more is sent to it)."""
    async with engine.begin() as conn:
        gone = await conn.execute(
            text(f"DELETE FROM {E} WHERE id = :id AND merchant_id = :m RETURNING id"),
            {"id": endpoint_id, "m": merchant_id},
        )
        return gone.one_or_none() is not None


async def update_endpoint(
    engine: AsyncEngine, endpoint_id: str, merchant_id: str, assignments: str, **params: Any
) -> Row[Any] | None:
    """The endpoint after ``SET assignments`` (a fixed clause of the caller's), or None."""
    async with engine.begin() as conn:
        return (
            await conn.execute(
                text(
                    f"UPDATE {E} AS e SET {assignments}, updated_at = :now "
                    f"WHERE id = :id AND merchant_id = :m RETURNING {ENDPOINT_COLUMNS}"
                ),
                {"id": endpoint_id, "m": merchant_id, **params},
            )
        ).one_or_none()


ROTATE = "previous_secret = e.secret, previous_secret_until = :until, secret = :secret"
ENABLE = "status = 'enabled', consecutive_failures = 0, disabled_at = NULL"


async def search_deliveries(
    engine: AsyncEngine, endpoint_id: str, cursor: Cursor, limit: int
) -> list[Row[Any]]:
    select = f"SELECT {DELIVERY_COLUMNS} FROM {D} d"
    return await _newest(engine, select, ("endpoint_id", endpoint_id), cursor, limit)


async def attempts_of(engine: AsyncEngine, delivery_ids: Sequence[str]) -> dict[str, list[Any]]:
    """Each delivery's attempts, first to last."""
    found: dict[str, list[Any]] = {i: [] for i in delivery_ids}
    if delivery_ids:
        async with engine.connect() as conn:
            rows = await conn.execute(
                text(
                    f"SELECT delivery_id, attempt, at, status_code, latency_ms, error FROM {A} "
                    "WHERE delivery_id = ANY(:ids) ORDER BY delivery_id, attempt"
                ),
                {"ids": list(delivery_ids)},
            )
            for r in rows:
                found[r.delivery_id].append(r)
    return found


async def redeliver(
    engine: AsyncEngine, endpoint_id: str, delivery_id: str, now: datetime, give_up_at: datetime
) -> Row[Any] | None:
    """Send the delivery again from now, with a new horizon (it is the head of its
    payment's line again, so that payment's later events wait for it)."""
    async with engine.begin() as conn:
        return (
            await conn.execute(
                text(
                    f"UPDATE {D} AS d SET status = 'pending', next_attempt_at = :now, "
                    "give_up_at = :give_up_at, give_up_reason = NULL, updated_at = :now "
                    f"WHERE id = :id AND endpoint_id = :e RETURNING {DELIVERY_COLUMNS}"
                ),
                {"id": delivery_id, "e": endpoint_id, "now": now, "give_up_at": give_up_at},
            )
        ).one_or_none()


# ---------------------------------------------------------------- the delivery worker


async def subscribers(conn: AsyncConnection, merchant_ids: Sequence[str]) -> list[Row[Any]]:
    """The endpoints of these merchants (enabled or not: a disabled one's deliveries wait)."""
    rows = await conn.execute(
        text(f"SELECT id, merchant_id, events, created_at FROM {E} WHERE merchant_id = ANY(:m)"),
        {"m": list(merchant_ids)},
    )
    return list(rows)


async def merchants_of(conn: AsyncConnection, payment_ids: Sequence[str]) -> dict[str, str]:
    """payment id -> merchant id, for the payments of ``payment_ids`` that are payments to
    a merchant (the provider's events of a card payment name no merchant)."""
    rows = await conn.execute(
        text("SELECT id, merchant_id FROM transactions.payments WHERE id = ANY(:ids)"),
        {"ids": list(payment_ids)},
    )
    return {r.id: r.merchant_id for r in rows}


async def record(conn: AsyncConnection, deliveries: Sequence[dict[str, Any]]) -> None:
    """Insert deliveries not recorded yet (a replayed event is dropped by its key)."""
    if deliveries:
        await conn.execute(
            text(
                f"INSERT INTO {D} (id, endpoint_id, event_id, event_type, payment_id, "
                "source_offset, body, next_attempt_at, give_up_at, created_at, updated_at) "
                "VALUES (:id, :endpoint_id, :event_id, :event_type, :payment_id, "
                ":source_offset, :body, :now, :give_up_at, :now, :now) "
                "ON CONFLICT (endpoint_id, event_id) DO NOTHING"
            ),
            list(deliveries),
        )


@dataclass(frozen=True, slots=True)
class Due:
    """A delivery handed out to be sent, with what its endpoint needs to sign it."""

    id: str
    endpoint_id: str
    event_id: str
    body: str
    attempts: int
    give_up_at: datetime
    url: str
    secrets: tuple[str, ...]  # the current secret first, the previous one while it holds


async def claim_due(engine: AsyncEngine, now: datetime, most: int, lease_s: float) -> list[Due]:
    """Up to ``most`` deliveries due now, each the head of its (endpoint, payment) line,
    of enabled endpoints; each is leased (its next attempt moved ``lease_s`` on), so a
    worker that dies while sending leaves it to be sent again after the lease."""
    async with engine.begin() as conn:
        rows = await conn.execute(
            text(
                f"WITH due AS (SELECT d.id FROM {D} d JOIN {E} e ON e.id = d.endpoint_id "
                "WHERE d.status = 'pending' AND d.next_attempt_at <= :now "
                "AND e.status = 'enabled' AND NOT EXISTS (SELECT 1 FROM "
                f"{D} p WHERE p.endpoint_id = d.endpoint_id AND p.payment_id = d.payment_id "
                "AND p.status = 'pending' AND p.source_offset < d.source_offset) "
                "ORDER BY d.next_attempt_at LIMIT :most FOR UPDATE OF d SKIP LOCKED) "
                f"UPDATE {D} AS d SET next_attempt_at = :now + make_interval(secs => :lease) "
                f"FROM due, {E} e WHERE d.id = due.id AND e.id = d.endpoint_id "
                "RETURNING d.id, d.endpoint_id, d.event_id, d.body, d.attempts, d.give_up_at, "
                "e.url, e.secret, CASE WHEN e.previous_secret_until > :now "
                "THEN e.previous_secret END AS previous_secret"
            ),
            {"now": now, "most": most, "lease": lease_s},
        )
        return [
            Due(
                id=r.id,
                endpoint_id=r.endpoint_id,
                event_id=r.event_id,
                body=r.body,
                attempts=r.attempts,
                give_up_at=r.give_up_at,
                url=r.url,
                secrets=(r.secret,) + ((r.previous_secret,) if r.previous_secret else ()),
            )
            for r in rows
        ]


async def next_due(engine: AsyncEngine) -> datetime | None:
    """The earliest next attempt of any pending delivery (to sleep until then)."""
    async with engine.connect() as conn:
        return (
            await conn.execute(
                text(f"SELECT min(next_attempt_at) FROM {D} WHERE status = 'pending'")
            )
        ).scalar()


@dataclass(frozen=True, slots=True)
class Attempt:
    """What one attempt of a delivery came to."""

    delivery_id: str
    endpoint_id: str
    number: int  # 1 for the first attempt
    at: datetime
    status_code: int | None
    latency_ms: int
    error: str | None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


async def settle(
    engine: AsyncEngine, attempt: Attempt, next_step: datetime | GiveUp | None, disable_after: int
) -> None:
    """Record ``attempt`` and its outcome in one transaction: delivered (``next_step``
    None); or tried again at ``next_step``; or given up for that reason. The endpoint's run
    of failures is reset by a success and disables it once it reaches ``disable_after``."""
    ok = attempt.succeeded
    retry_at = next_step if isinstance(next_step, datetime) else None
    reason = next_step.value if isinstance(next_step, GiveUp) and not ok else None
    status = "delivered" if ok else ("pending" if retry_at is not None else "failed")
    async with engine.begin() as conn:
        await conn.execute(
            text(
                f"INSERT INTO {A} (delivery_id, attempt, at, status_code, latency_ms, error) "
                "SELECT :id, :n, :at, :code, :ms, :error WHERE EXISTS "
                f"(SELECT 1 FROM {D} WHERE id = :id) ON CONFLICT DO NOTHING"
            ),
            {
                "id": attempt.delivery_id,
                "n": attempt.number,
                "at": attempt.at,
                "code": attempt.status_code,
                "ms": attempt.latency_ms,
                "error": attempt.error,
            },
        )
        await conn.execute(
            text(
                f"UPDATE {D} SET status = :status, attempts = GREATEST(attempts, :n), "
                "last_status_code = :code, last_error = :error, updated_at = :at, "
                "next_attempt_at = COALESCE(:retry_at, next_attempt_at), give_up_reason = :reason, "
                "delivered_at = CASE WHEN :ok THEN :at ELSE delivered_at END WHERE id = :id"
            ),
            {
                "id": attempt.delivery_id,
                "status": status,
                "n": attempt.number,
                "code": attempt.status_code,
                "error": attempt.error,
                "at": attempt.at,
                "retry_at": retry_at,
                "reason": reason,
                "ok": ok,
            },
        )
        await conn.execute(
            text(
                f"UPDATE {E} SET consecutive_failures = CASE WHEN :ok THEN 0 "
                "ELSE consecutive_failures + 1 END, "
                "status = CASE WHEN NOT :ok AND consecutive_failures + 1 >= :most "
                "THEN 'disabled' ELSE status END, "
                "disabled_at = CASE WHEN NOT :ok AND consecutive_failures + 1 >= :most "
                "AND status = 'enabled' THEN :at ELSE disabled_at END, updated_at = :at "
                "WHERE id = :e"
            ),
            {"e": attempt.endpoint_id, "ok": ok, "most": disable_after, "at": attempt.at},
        )
