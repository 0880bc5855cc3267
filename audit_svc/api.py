"""The audit API: search, export and verify the audit log (api.md, "Audit").

For the roles ``auditor`` and ``admin`` only. Every query is itself recorded: an
``AuditLogQueried`` event (who, from where, which path and parameters) is on
``audit-events`` before the answer is given (a query that cannot be recorded is refused
with 503), and the projector appends it to the log like any other event.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import Field, TypeAdapter

from audit_svc.chain import instant_text
from audit_svc.deps import App, AuditApp
from audit_svc.schemas import EXAMPLE_RECORD, AuditPage, Verification
from audit_svc.store import Filters
from common.auth import Principal, require_roles
from common.bounds import Instant
from common.cursor import decode_cursor
from common.errors import Problem
from common.kafka.producer import send_envelope
from common.logging import current_correlation_id
from common.openapi import errors
from common.paging import fetch_page
from common.topics import AUDIT_EVENTS
from contracts.audit import AuditLogQueried
from contracts.envelope import Envelope

router = APIRouter()
PRODUCER = "audit_svc"
MAX_RANGE = 100_000  # records one export or verify may span
NDJSON = "application/x-ndjson"
CURSOR = TypeAdapter(Annotated[int, Field(ge=1, le=2**62)])  # seq of the last record
Auditor = Annotated[Principal, require_roles("auditor", "admin")]
Id = Annotated[str | None, Query(pattern=r"^[A-Za-z0-9._:-]{1,128}$")]
Seq = Annotated[int | None, Query(ge=1, le=2**62)]


def filters(
    actor_id: Id = None,
    user_id: Id = None,
    wallet_id: Id = None,
    transaction_id: Id = None,
    payment_id: Id = None,
    type: Annotated[str | None, Query(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,63}$")] = None,
    since: Annotated[Instant | None, Query(description="inclusive")] = None,
    until: Annotated[Instant | None, Query(description="exclusive")] = None,
) -> Filters:
    """The filters of a search or an export (each field has an index with ``seq``)."""
    if since is not None and until is not None and since >= until:
        raise Problem(422, "invalid_range", "since must be before until")
    return Filters(
        actor_id=actor_id,
        user_id=user_id,
        wallet_id=wallet_id,
        transaction_id=transaction_id,
        payment_id=payment_id,
        type=type,
        since=since,
        until=until,
    )


Filtered = Annotated[Filters, Depends(filters)]


@router.get(
    "/audit/logs",
    response_model=AuditPage,
    responses=errors(400, 403, 422, 503),
    summary="Search the audit log, newest first",
)
async def list_logs(
    app: App,
    request: Request,
    principal: Auditor,
    chosen: Filtered,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> dict[str, Any]:
    before = decode_cursor(cursor, CURSOR) if cursor else None
    await record_query(app, request, principal)
    items, next_cursor = await fetch_page(
        lambda n: app.log.page(chosen, before, n), limit, lambda r: r["seq"]
    )
    return {"items": items, "next_cursor": next_cursor}


@router.get(
    "/audit/logs/export",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {NDJSON: {"example": orjson.dumps(EXAMPLE_RECORD).decode() + "\n"}},
            "description": "One record per line, oldest first, streamed",
        },
        **errors(403, 422, 503),
    },
    summary="Export the records from from_seq to to_seq that match the filters (NDJSON)",
)
async def export_logs(
    app: App,
    request: Request,
    principal: Auditor,
    chosen: Filtered,
    from_seq: Annotated[int, Query(ge=1, le=2**62)] = 1,
    to_seq: Seq = None,
) -> StreamingResponse:
    last = await _last_seq(app, from_seq, to_seq)
    await record_query(app, request, principal)

    async def lines() -> AsyncIterator[bytes]:
        async for doc in app.log.stream(chosen, from_seq, last):
            yield (
                orjson.dumps(doc, default=instant_text, option=orjson.OPT_PASSTHROUGH_DATETIME)
                + b"\n"
            )

    return StreamingResponse(lines(), media_type=NDJSON)


@router.get(
    "/audit/verify",
    response_model=Verification,
    responses=errors(403, 422, 503),
    summary="Walk the chain from from_seq to to_seq and name the first broken link",
)
async def verify(
    app: App,
    request: Request,
    principal: Auditor,
    from_seq: Annotated[int, Query(ge=1, le=2**62)] = 1,
    to_seq: Seq = None,
) -> dict[str, Any]:
    last = await _last_seq(app, from_seq, to_seq)
    await record_query(app, request, principal)
    verdict = await app.log.verify(from_seq, last)
    return {"ok": verdict.ok, "checked": verdict.checked, "first_bad_seq": verdict.first_bad_seq}


async def _last_seq(app: AuditApp, from_seq: int, to_seq: int | None) -> int:
    """``to_seq``, or the head's seq; 422 when the range spans more than ``MAX_RANGE``."""
    if to_seq is not None and to_seq < from_seq:
        raise Problem(422, "invalid_range", "to_seq must not be before from_seq")
    last = to_seq if to_seq is not None else (await app.log.head())[0]
    if last - from_seq + 1 > MAX_RANGE:
        raise Problem(
            422,
            "range_too_large",
            f"at most {MAX_RANGE} records per request: ask for a narrower seq range",
        )
    return last


async def record_query(app: AuditApp, request: Request, principal: Principal) -> None:
    """Put who asked what on ``audit-events`` before answering (503 when it cannot)."""
    forwarded = request.headers.get("x-forwarded-for", "").split(",")[0].strip()
    address = forwarded or (request.client.host if request.client else None)
    event = AuditLogQueried(
        actor_id=principal.subject,
        actor_role=principal.role,
        path=request.url.path,
        query=dict(request.query_params),
        address=address,
    )
    envelope = Envelope.of(
        event, key=principal.subject, producer=PRODUCER, correlation_id=current_correlation_id()
    )
    try:
        await send_envelope(app.producer, AUDIT_EVENTS, envelope)
    except Exception as exc:
        raise Problem(503, "audit_unavailable", "the query could not be recorded") from exc
