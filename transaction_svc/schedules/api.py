"""``/schedules``: recurring transfers and payments (docs/schedules.md).

A schedule is made only if its first run would be accepted as a direct request made now
(the POST's own model and every check it makes before recording: ``MoneyPost.vet``).
Only its owner sees or changes it (anyone else: 404); admins and auditors may read.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response

from common.auth import CurrentPrincipal, Principal
from common.errors import Problem
from common.openapi import errors
from contracts.ids import uuid7
from transaction_svc.api import READERS, Caller, page_by_creation
from transaction_svc.deps import App, TransactionApp
from transaction_svc.schedules import store
from transaction_svc.schedules.plan import POSTS, request_of, resume_at, timing_of
from transaction_svc.schedules.schemas import ScheduleCreate, SchedulePublic, SchedulesPage

router = APIRouter(tags=["schedules"])
ScheduleId = Annotated[str, Path(max_length=64)]


def represent(row: Any, runs: list[Any] | None = None) -> dict[str, Any]:
    shown = {
        "id": row.id,
        "kind": row.kind,
        "body": row.body,
        "interval": row.interval,
        "cron": row.cron,
        "timezone": row.timezone,
        "start_at": row.start_at,
        "end_at": row.end_at,
        "max_runs": row.max_runs,
        "runs_count": row.runs,
        "status": row.status,
        "next_run_at": row.next_run_at,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }
    if runs is not None:
        shown["runs"] = [r._asdict() for r in runs]
    return shown


def _not_found(schedule_id: str) -> Problem:
    return Problem(404, "schedule_not_found", f"no schedule {schedule_id}")


@router.post(
    "/schedules", status_code=201, response_model=SchedulePublic, responses=errors(403, 404, 422)
)
async def create_schedule(
    app: App, body: ScheduleCreate, request: Request, principal: CurrentPrincipal
) -> dict[str, Any]:
    """Run ``body`` (as ``POST /transfers`` or ``POST /payments`` takes it) as the caller
    at each occurrence; 422 when the recurrence or the body would be refused."""
    now = datetime.now(UTC)
    minimum = app.settings.schedule_min_interval_s
    timing = timing_of(body.interval, body.cron, body.timezone, body.start_at, minimum)
    if body.end_at is not None and body.end_at <= body.start_at:
        raise Problem(422, "end_before_start", "end_at must be after start_at")
    first = request_of(body.kind, body.body, 1)
    caller = Caller(
        principal,
        request.state.correlation_id,
        request.state.traceparent,
        request.headers.get("authorization"),
    )
    await POSTS[body.kind].vet(app, caller, first, now)
    next_run_at = timing.first_at_or_after(max(body.start_at, now))
    if next_run_at is None or (body.end_at is not None and next_run_at > body.end_at):
        raise Problem(422, "no_runs", "the schedule has no occurrence before end_at")
    row = await store.create(
        app.engine,
        {
            "id": str(uuid7()),
            "owner_id": principal.subject,
            "owner_role": principal.role,
            "owner_email_verified": principal.email_verified,
            "kind": body.kind,
            "body": body.body,
            "interval": body.interval,
            "cron": body.cron,
            "timezone": body.timezone,
            "start_at": body.start_at,
            "end_at": body.end_at,
            "max_runs": body.max_runs,
            "status": "active",
            "next_run_at": next_run_at,
            "now": now,
        },
    )
    return represent(row)


@router.get("/schedules", response_model=SchedulesPage)
async def list_schedules(
    app: App,
    principal: CurrentPrincipal,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> dict[str, Any]:
    """The caller's schedules (everyone's for admins and auditors), newest first."""
    owner = None if principal.has_role(*READERS) else principal.subject
    rows, next_cursor = await page_by_creation(
        cursor, limit, lambda after, n: store.search(app.engine, owner, after, n)
    )
    return {"items": [represent(r) for r in rows], "next_cursor": next_cursor}


async def _visible(app: TransactionApp, principal: Principal, schedule_id: str) -> Any:
    row = await store.get(app.engine, schedule_id)
    if row is None or (row.owner_id != principal.subject and not principal.has_role(*READERS)):
        raise _not_found(schedule_id)
    return row


@router.get("/schedules/{schedule_id}", response_model=SchedulePublic, responses=errors(404))
async def get_schedule(
    schedule_id: ScheduleId, app: App, principal: CurrentPrincipal
) -> dict[str, Any]:
    """A schedule with its runs, oldest first, each with its transaction's status now."""
    row = await _visible(app, principal, schedule_id)
    return represent(row, list(await store.runs_of(app.engine, schedule_id)))


async def _change(
    app: TransactionApp,
    principal: Principal,
    schedule_id: str,
    changes: dict[str, Any],
    now: datetime,
    unless: tuple[str, ...] = ("completed", "deleted"),
) -> Any:
    """``changes`` made to the caller's own schedule unless its status is in ``unless``
    (409); 404 for a schedule the caller does not own."""
    row = await store.change(app.engine, schedule_id, principal.subject, changes, now, unless)
    if row is None:
        current = await _visible(app, principal, schedule_id)
        if current.owner_id != principal.subject:
            raise _not_found(schedule_id)  # readers read, only the owner changes
        raise Problem(409, "schedule_completed", f"schedule {schedule_id} is {current.status}")
    return row


@router.post(
    "/schedules/{schedule_id}/pause", response_model=SchedulePublic, responses=errors(404, 409)
)
async def pause_schedule(
    schedule_id: ScheduleId, app: App, principal: CurrentPrincipal
) -> dict[str, Any]:
    """No run until it is resumed."""
    now = datetime.now(UTC)
    changes = {"status": "paused", "next_run_at": None}
    return represent(await _change(app, principal, schedule_id, changes, now))


@router.post(
    "/schedules/{schedule_id}/resume", response_model=SchedulePublic, responses=errors(404, 409)
)
async def resume_schedule(
    schedule_id: ScheduleId, app: App, principal: CurrentPrincipal
) -> dict[str, Any]:
    """Runs again from the first occurrence not yet past (those missed while paused are
    not run), its failures in a row counted from 0; a schedule with none left is
    completed."""
    now = datetime.now(UTC)
    row = await _visible(app, principal, schedule_id)
    if row.status == "active":
        return represent(row)
    timing = timing_of(row.interval, row.cron, row.timezone, row.start_at, 0)
    upcoming = resume_at(timing, now, row.runs, row.max_runs, row.end_at)
    status = "active" if upcoming is not None else "completed"
    changes = {"status": status, "next_run_at": upcoming, "failures": 0}
    return represent(await _change(app, principal, schedule_id, changes, now))


@router.delete("/schedules/{schedule_id}", status_code=204, responses=errors(404))
async def delete_schedule(
    schedule_id: ScheduleId, app: App, principal: CurrentPrincipal
) -> Response:
    """No run any more; the schedule is gone from every answer (its transactions stay)."""
    now = datetime.now(UTC)
    changes = {"status": "deleted", "next_run_at": None}
    await _change(app, principal, schedule_id, changes, now, unless=("deleted",))
    return Response(status_code=204)
