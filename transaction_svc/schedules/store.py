"""Postgres access for schedules and their runs (``transactions.schedules``,
``transactions.schedule_runs``).

The scheduler claims due schedules with ``FOR UPDATE SKIP LOCKED`` (`claim_due`): a
schedule being run by one scheduler is skipped by every other, and its row stays locked
until its run is recorded and its next run set, in the same database transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from transaction_svc.store import newest_first

S = "transactions.schedules"
R = "transactions.schedule_runs"
COLUMNS = (
    "s.id, s.owner_id, s.owner_role, s.owner_email_verified, s.kind, s.body, s.interval, "
    "s.cron, s.timezone, s.start_at, s.end_at, s.max_runs, s.runs, s.status, s.next_run_at, "
    "s.created_at, s.updated_at"
)
SHOWN = "s.status <> 'deleted'"


async def create(engine: AsyncEngine, schedule: dict[str, Any]) -> Row[Any]:
    async with engine.begin() as conn:
        return (
            await conn.execute(
                text(
                    f"INSERT INTO {S} AS s (id, owner_id, owner_role, owner_email_verified, "
                    "kind, body, interval, cron, timezone, start_at, end_at, max_runs, status, "
                    "next_run_at, created_at, updated_at) VALUES (:id, :owner_id, :owner_role, "
                    ":owner_email_verified, :kind, CAST(:body AS jsonb), :interval, :cron, "
                    ":timezone, :start_at, :end_at, :max_runs, :status, :next_run_at, :now, "
                    f":now) RETURNING {COLUMNS}"
                ),
                schedule | {"body": orjson.dumps(schedule["body"]).decode()},
            )
        ).one()


async def get(engine: AsyncEngine, schedule_id: str) -> Row[Any] | None:
    async with engine.connect() as conn:
        return (
            await conn.execute(
                text(f"SELECT {COLUMNS} FROM {S} s WHERE s.id = :id AND {SHOWN}"),
                {"id": schedule_id},
            )
        ).one_or_none()


async def runs_of(engine: AsyncEngine, schedule_id: str) -> Sequence[Row[Any]]:
    """A schedule's runs, oldest first, each with its transaction's status now."""
    async with engine.connect() as conn:
        result = await conn.execute(
            text(
                "SELECT r.run, r.at, r.transaction_id, r.error, "
                "COALESCE(t.status, CASE WHEN r.transaction_id IS NULL THEN 'failed' "
                f"ELSE 'pending' END) AS status FROM {R} r "
                "LEFT JOIN transactions.transactions t ON t.id = r.transaction_id "
                "WHERE r.schedule_id = :id ORDER BY r.run"
            ),
            {"id": schedule_id},
        )
        return result.all()


async def search(
    engine: AsyncEngine, owner: str | None, cursor: tuple[datetime, str] | None, limit: int
) -> Sequence[Row[Any]]:
    """A page of schedules newest first: ``owner``'s, or everyone's for None."""
    sql, params = newest_first(
        f"SELECT {COLUMNS} FROM {S} s",
        "s",
        [(owner, "s.owner_id = :owner", "owner"), (True, SHOWN, "shown")],
        cursor,
        limit,
    )
    async with engine.connect() as conn:
        return (await conn.execute(text(sql), params)).all()


async def change(
    engine: AsyncEngine,
    schedule_id: str,
    owner: str,
    changes: dict[str, Any],
    now: datetime,
    unless: tuple[str, ...],
) -> Row[Any] | None:
    """Set ``changes`` on ``owner``'s schedule unless its status is one of ``unless``;
    None when there is no such schedule (the caller tells why)."""
    sets = ", ".join(f"{k} = :{k}" for k in changes)
    async with engine.begin() as conn:
        return (
            await conn.execute(
                text(
                    f"UPDATE {S} s SET {sets}, updated_at = :now WHERE s.id = :id "
                    "AND s.owner_id = :owner AND s.status <> ALL(:unless) "
                    f"RETURNING {COLUMNS}"
                ),
                changes | {"id": schedule_id, "owner": owner, "now": now, "unless": list(unless)},
            )
        ).one_or_none()


async def claim_due(conn: AsyncConnection, now: datetime, limit: int) -> Sequence[Row[Any]]:
    """Active schedules due at ``now``, locked until ``conn``'s transaction ends; those
    another scheduler holds are skipped."""
    result = await conn.execute(
        text(
            f"SELECT {COLUMNS} FROM {S} s WHERE s.status = 'active' AND s.next_run_at <= :now "
            "ORDER BY s.next_run_at LIMIT :limit FOR UPDATE SKIP LOCKED"
        ),
        {"now": now, "limit": limit},
    )
    return result.all()


FAILED = ("failed", "reversed")  # a transaction that moved nothing in the end


async def failed_in_a_row(conn: AsyncConnection, schedule_id: str, most: int) -> int:
    """How many of the schedule's latest runs (up to ``most``) failed in a row: refused
    when submitted, or their transaction failed or was reversed. A run still pending
    ends the count (its outcome is not known yet)."""
    result = await conn.execute(
        text(
            "SELECT r.transaction_id IS NULL OR t.status = ANY(:failed) AS failed "
            f"FROM {R} r LEFT JOIN transactions.transactions t ON t.id = r.transaction_id "
            "WHERE r.schedule_id = :id ORDER BY r.run DESC LIMIT :most"
        ),
        {"id": schedule_id, "most": most, "failed": list(FAILED)},
    )
    count = 0
    for (failed,) in result:
        if not failed:
            break
        count += 1
    return count


async def pause(conn: AsyncConnection, schedule_id: str, now: datetime) -> None:
    await conn.execute(
        text(
            f"UPDATE {S} SET status = 'paused', next_run_at = NULL, updated_at = :now "
            "WHERE id = :id"
        ),
        {"id": schedule_id, "now": now},
    )


async def record_run(
    conn: AsyncConnection, run: dict[str, Any], next_run_at: datetime | None, now: datetime
) -> None:
    """The run (its number, occurrence, transaction or error) and what follows it: the
    next occurrence, or ``completed`` when there is none."""
    await conn.execute(
        text(
            f"INSERT INTO {R} (schedule_id, run, at, transaction_id, error) "
            "VALUES (:schedule_id, :run, :at, :transaction_id, :error) "
            "ON CONFLICT DO NOTHING"
        ),
        run,
    )
    await conn.execute(
        text(
            f"UPDATE {S} SET runs = :run, next_run_at = :next, updated_at = :now, "
            "status = CASE WHEN CAST(:next AS timestamptz) IS NULL THEN 'completed' "
            "ELSE status END WHERE id = :schedule_id"
        ),
        {"run": run["run"], "schedule_id": run["schedule_id"], "next": next_run_at, "now": now},
    )
