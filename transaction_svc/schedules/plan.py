"""What a schedule does at each run: which money POST, with which body, under which key,
and when the next run falls (shared by the API, which vets run 1, and the scheduler).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ValidationError

from common.errors import Problem, validation_errors
from transaction_svc.api import TRANSFERS, MoneyPost
from transaction_svc.payments_api import PAYMENTS
from transaction_svc.schedules.timing import Timing, cron_of, interval_of, zone_of
from transaction_svc.schemas import PaymentCreate

POSTS: dict[str, MoneyPost] = {"transfer": TRANSFERS, "payment": PAYMENTS}
INSTANT = timedelta(microseconds=1)


def timing_of(
    interval: str | None, cron: str | None, timezone: str, start: datetime, minimum_s: float
) -> Timing:
    """The recurrence of a schedule; 422 when it has both or neither of interval and cron,
    or either is not one."""
    if (interval is None) == (cron is None):
        raise Problem(422, "interval_or_cron", "give exactly one of interval (ISO 8601) and cron")
    zone = zone_of(timezone)
    if interval is not None:
        return Timing(start, zone, interval=interval_of(interval, minimum_s))
    assert cron is not None
    return Timing(start, zone, cron=cron_of(cron))


def request_of(kind: str, body: dict[str, Any], run: int) -> BaseModel:
    """The body of run ``run`` as its POST's own model validates it (422 ``invalid_body``
    naming what is wrong). A payment's ``order_id`` gets ``#<run>``: one payment per order."""
    post = POSTS[kind]
    if kind == "transfer" and body.get("quote_id") is not None:
        raise Problem(422, "quote_not_schedulable", "a quote is used once; schedule without one")
    try:
        request = post.model.model_validate(body)
    except ValidationError as exc:
        errors = validation_errors(exc.errors(), ("body", "body"))
        raise Problem(422, "invalid_body", f"not a valid {kind} body", errors=errors) from None
    if isinstance(request, PaymentCreate):
        request = request.model_copy(update={"order_id": f"{request.order_id}#{run}"})
    return request


def key_of(schedule_id: str, occurrence: datetime) -> str:
    """The Idempotency-Key of the run for ``occurrence``: the schedule and the occurrence
    time (UTC), the same for every attempt at it, by any scheduler, after any restart."""
    return f"schedule:{schedule_id}:{occurrence.astimezone(UTC).isoformat()}"


def next_after(
    timing: Timing,
    slot: datetime,
    now: datetime,
    runs: int,
    max_runs: int | None,
    end_at: datetime | None,
) -> datetime | None:
    """The occurrence after run ``runs`` (for ``slot``) at ``now``, or None when the
    schedule is over. Catch-up rule: occurrences missed while nothing ran are not run one
    by one; the late run stands for them and the next is the first not yet past."""
    if max_runs is not None and runs >= max_runs:
        return None
    at = timing.first_at_or_after(max(slot + INSTANT, now))
    if at is None or (end_at is not None and at > end_at):
        return None
    return at


def resume_at(
    timing: Timing, now: datetime, runs: int, max_runs: int | None, end_at: datetime | None
) -> datetime | None:
    """The next run of a schedule resumed at ``now``: the first occurrence not yet past
    (those that fell while it was paused are skipped), or None when none is left."""
    return next_after(timing, now, now, runs, max_runs, end_at)
