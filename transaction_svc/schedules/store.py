"""Postgres access for schedules and their runs (``transactions.schedules``,
``transactions.schedule_runs``).

The scheduler claims due schedules with ``FOR UPDATE SKIP LOCKED`` (`claim_due`): a
schedule being run by one scheduler is skipped by every other, and its row stays locked
until its run is recorded and its next run set, in the same database transaction. Once
a run's outcome is known it is settled (`ended_runs`, `settle`): counted in its
schedule's failures in a row, which pause the schedule at the configured number.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from transaction_svc.status import TERMINAL
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


async def ended_runs(conn: AsyncConnection, limit: int) -> Sequence[Row[Any]]:
    """Runs not yet settled whose outcome is known, oldest first per schedule, locked
    until ``conn``'s transaction ends (those another scheduler holds are skipped): each
    with ``failed`` (refused when submitted, or its transaction failed or was reversed),
    why, and what its schedule sends."""
    result = await conn.execute(
        text(
            "SELECT r.schedule_id, r.run, r.at, r.transaction_id, s.owner_id, s.kind, "
            "s.body, r.transaction_id IS NULL OR t.status = ANY(:failed) AS failed, "
            "COALESCE(r.error, t.failure_reason, t.status) AS reason "
            f"FROM {R} r JOIN {S} s ON s.id = r.schedule_id "
            "LEFT JOIN transactions.transactions t ON t.id = r.transaction_id "
            "WHERE NOT r.settled AND (r.transaction_id IS NULL OR t.status = ANY(:terminal)) "
            "ORDER BY r.schedule_id, r.run LIMIT :limit FOR UPDATE OF r SKIP LOCKED"
        ),
        {"failed": list(FAILED), "terminal": sorted(TERMINAL), "limit": limit},
    )
    return result.all()


async def settle(conn: AsyncConnection, run: Any, most: int, now: datetime) -> tuple[int, bool]:
    """``run`` settled and counted: a failure adds one to its schedule's failures in a
    row, any other outcome sets them to 0; the ``most``-th pauses the schedule if it is
    active. The failures in a row, and whether this paused it."""
    await conn.execute(
        text(f"UPDATE {R} SET settled = true WHERE schedule_id = :id AND run = :run"),
        {"id": run.schedule_id, "run": run.run},
    )
    counted = (
        await conn.execute(
            text(
                f"WITH old AS (SELECT id, status, failures FROM {S} WHERE id = :id FOR UPDATE) "
                f"UPDATE {S} s SET failures = CASE WHEN :failed THEN old.failures + 1 ELSE 0 END, "
                "status = CASE WHEN :failed AND old.failures + 1 >= :most "
                "AND old.status = 'active' THEN 'paused' ELSE old.status END, "
                "next_run_at = CASE WHEN :failed AND old.failures + 1 >= :most "
                "AND old.status = 'active' THEN NULL ELSE s.next_run_at END, "
                "updated_at = :now FROM old WHERE s.id = old.id "
                "RETURNING s.failures, old.status = 'active' AND s.status = 'paused' AS paused"
            ),
            {"id": run.schedule_id, "failed": run.failed, "most": most, "now": now},
        )
    ).one()
    return counted.failures, counted.paused


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
