"""The fee schedule and the limits over HTTP: ``GET /fees`` and ``GET /limits`` for anyone
signed in, ``PUT /admin/fees`` and ``PUT /admin/limits`` for admins.

Every change is published on ``transaction-events`` (``FeeScheduleChanged``,
``LimitChanged``, naming the admin in ``changed_by``), so the audit log records it: the
row is written, the event sent and acknowledged, and only then the row committed
(``changes.publish_change``: a change that could not be published is not made, 503).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request

from common.auth import CurrentPrincipal, Principal
from common.errors import Problem
from common.openapi import errors
from contracts.transaction import FeeScheduleChanged, LimitChanged
from transaction_svc import terms
from transaction_svc.changes import publish_change
from transaction_svc.deps import App
from transaction_svc.terms_schemas import (
    FeeRulePublic,
    FeeRuleSet,
    FeeSchedule,
    LimitPublic,
    LimitSet,
    MyLimits,
)

router = APIRouter()


def _admin_only(principal: Principal) -> None:
    if not principal.has_role("admin"):
        raise Problem(403, "forbidden", "only an admin changes fees and limits")


def _fee_rule(row: Any) -> dict[str, Any]:
    return {
        "transaction_type": row.kind,
        "currency": row.currency,
        "basis_points": row.basis_points,
        "fixed": row.fixed,
        "minimum": row.minimum,
        "maximum": row.maximum,
        "updated_by": row.updated_by,
        "updated_at": row.updated_at.isoformat(),
    }


@router.get("/fees", response_model=FeeSchedule)
async def get_fees(app: App, principal: CurrentPrincipal) -> dict[str, Any]:
    """The fee schedule: every priced transaction type and currency (others are free)."""
    return {"items": [_fee_rule(r) for r in await terms.fee_schedule(app.engine)]}


@router.put("/admin/fees", response_model=FeeRulePublic, responses=errors(403, 503))
async def set_fee(
    body: FeeRuleSet, app: App, principal: CurrentPrincipal, request: Request
) -> dict[str, Any]:
    """Set the fee of one transaction type in one currency (admins): it applies to the
    requests accepted from now on."""
    _admin_only(principal)
    rule = body.model_dump() | {"kind": body.transaction_type, "updated_by": principal.subject}
    change = FeeScheduleChanged(
        transaction_type=body.transaction_type,
        currency=body.currency,
        basis_points=body.basis_points,
        fixed=body.fixed,
        minimum=body.minimum,
        maximum=body.maximum,
        changed_by=principal.subject,
    )
    async with app.engine.begin() as conn:
        row = await terms.set_fee(conn, rule)
        await publish_change(app, request, change, f"fees:{body.transaction_type}:{body.currency}")
    return _fee_rule(row)


@router.put("/admin/limits", response_model=LimitPublic, responses=errors(403, 503))
async def set_limit(
    body: LimitSet, app: App, principal: CurrentPrincipal, request: Request
) -> dict[str, Any]:
    """Set the limits of one transaction type in one currency for a role, or for one user
    (replacing the role's for that user). Absent limits are none."""
    _admin_only(principal)
    user_id = str(body.user_id) if body.user_id else None
    subject = terms.user_subject(user_id) if user_id else terms.role_subject(str(body.role))
    limit = {
        "subject": subject,
        "kind": body.transaction_type,
        "currency": body.currency,
        "per_transaction": body.per_transaction,
        "daily": body.daily,
        "updated_by": principal.subject,
    }
    change = LimitChanged(
        transaction_type=body.transaction_type,
        currency=body.currency,
        role=body.role or "",
        user_id=user_id or "",
        per_transaction=body.per_transaction,
        daily=body.daily,
        changed_by=principal.subject,
    )
    async with app.engine.begin() as conn:
        row = await terms.set_limit(conn, limit)
        await publish_change(app, request, change, f"limits:{subject}")
    return {
        "transaction_type": body.transaction_type,
        "currency": body.currency,
        "role": body.role,
        "user_id": user_id,
        "per_transaction": body.per_transaction,
        "daily": body.daily,
        "updated_by": principal.subject,
        "updated_at": row.updated_at.isoformat(),
    }


@router.get("/limits", response_model=MyLimits)
async def get_limits(app: App, principal: CurrentPrincipal) -> dict[str, Any]:
    """The caller's limits (their own where an admin set some, else their role's) and
    what they used of each today (UTC; transactions that failed give theirs back)."""
    day = datetime.now(UTC).date()
    rows = await terms.limits_of(app.engine, principal.subject, principal.role, day)
    items = [
        {
            "transaction_type": r.kind,
            "currency": r.currency,
            "per_transaction": r.per_transaction,
            "daily": r.daily,
            "source": "user" if r.subject.startswith("user:") else "role",
            "used_today": r.used,
            "remaining_today": None if r.daily is None else max(r.daily - r.used, 0),
        }
        for r in rows
    ]
    return {"role": principal.role, "day": day.isoformat(), "items": items}
