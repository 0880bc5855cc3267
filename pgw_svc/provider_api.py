"""The provider API of the money services: charges (authorize, capture, void), refunds,
payouts, and their status by the caller's idempotency key.

Service tokens only (role ``service``); each row belongs to the service client that made
it. Not routed by the gateway (no ``/internal`` route) and not in any OpenAPI document.
A create with a key already used answers what the first one stored (same body) or 409
(another body): the outcome is drawn by key, so nothing is charged or paid twice.

A charge or payout may carry a deadline (``Paystream-Deadline``, an RFC 3339 instant): the
caller stops waiting for it then. A first create that the provider decides after it is
stored failed with ``deadline_passed`` (``domain.PAST_DEADLINE``) and moves no money; being
stored, every later create with that key gets the same answer, and since one key stores
one row, a create decided in time and a late one with the same key answer alike.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, NamedTuple

from fastapi import APIRouter, Depends, Header, Query
from fastapi.responses import Response
from pydantic import AwareDatetime, BaseModel

from common.auth import Principal
from common.errors import Problem
from common.idempotency import IdempotencyKey, MoneyHeaders, key_reused, request_hash
from common.openapi import errors
from common.responses import OrjsonResponse
from contracts.ids import uuid7
from contracts.provider import DEADLINE_HEADER
from pgw_svc.deps import App, PgwApp, Service
from pgw_svc.domain import PAST_DEADLINE, Outcome, charge_status
from pgw_svc.keyed import Keyed, PgKeyedRows
from pgw_svc.provider_schemas import (
    ChargeCreate,
    ChargePublic,
    PayoutCreate,
    PayoutPublic,
    RefundCreate,
    RefundPublic,
    public,
)


async def _provider_latency(app: App) -> None:
    """Every provider call takes ``pgw_latency_ms`` first, as a remote provider would."""
    if app.latency_ms:
        await asyncio.sleep(app.latency_ms / 1000)


router = APIRouter(
    prefix="/internal", tags=["provider"], include_in_schema=False,
    dependencies=[Depends(_provider_latency)],
)  # fmt: skip

Headers = Annotated[MoneyHeaders, Header()]
Deadline = Annotated[
    AwareDatetime | None,
    Header(alias=DEADLINE_HEADER, description="when the caller stops waiting for it"),
]
KeyQuery = Annotated[IdempotencyKey, Query()]


def _answer(model: type[BaseModel], stored: Keyed, body_hash: str) -> Response:
    """201 with the stored row; a replay says so; the key with another body is 409."""
    if stored.row["request_hash"] != body_hash:
        raise key_reused()
    headers = {} if stored.fresh else {"Idempotent-Replayed": "true"}
    return OrjsonResponse(public(model, stored.row), status_code=201, headers=headers)


async def _method(app: PgwApp, body: ChargeCreate | PayoutCreate, kind: str) -> dict[str, Any]:
    """The owner's method of ``kind`` within the provider's maximum and paying in the
    body's currency, or the refusal."""
    if body.amount > app.max_amount:
        raise Problem(422, "amount_too_large", f"the provider's maximum is {app.max_amount}",
                      max_amount=app.max_amount)  # fmt: skip
    method = await app.methods.owned(str(body.payment_method_id), body.owner_id)
    if method is None:
        raise Problem(404, "payment_method_not_found", "the owner has no such payment method")
    if method["type"] != kind:
        raise Problem(422, f"not_a_{kind}", f"the payment method is not a {kind}")
    currencies = app.currencies(method)
    if body.currency not in currencies:
        raise Problem(422, "currency_unsupported",
                      f"the payment method pays in {', '.join(currencies)}, not {body.currency}",
                      currencies=list(currencies))  # fmt: skip
    return method


def _found(row: dict[str, Any] | None, model: type[BaseModel], code: str) -> Response:
    if row is None:
        raise Problem(404, code, "nothing was made with this idempotency key")
    return OrjsonResponse(public(model, row))


class MethodRequest(NamedTuple):
    """Who asks, for what, under which key: a charge of a card or a payout to an account."""

    principal: Principal
    body: ChargeCreate | PayoutCreate
    key: str
    deadline: datetime | None


def _keyed_row(principal: Principal, key: str, body_hash: str, now: datetime) -> dict[str, Any]:
    return {"id": uuid7(), "client_id": principal.subject, "idempotency_key": key,
            "request_hash": body_hash, "created_at": now}  # fmt: skip


class Decide(NamedTuple):
    """How a create decides: the provider's answer for the method, and the row's own
    columns for an answer made at an instant."""

    draw: Callable[[dict[str, Any]], Outcome]
    columns: Callable[[Outcome, datetime], dict[str, Any]]


async def _create(
    app: PgwApp, rows: PgKeyedRows, model: type[BaseModel], request: MethodRequest, decide: Decide
) -> Response:
    """The key's first answer again, or: check the method, decide the outcome (failed
    past the deadline), store it."""
    principal, body, key, deadline = request
    body_hash = request_hash(body)
    first = await rows.by_key(principal.subject, key)
    if first is not None:
        return _answer(model, Keyed(first, fresh=False), body_hash)
    method = await _method(app, body, "card" if isinstance(body, ChargeCreate) else "bank_account")
    now = datetime.now(UTC)
    outcome = PAST_DEADLINE if deadline is not None and now > deadline else decide.draw(method)
    columns = decide.columns(outcome, now)
    reason = outcome.failure_reason
    row = _keyed_row(principal, key, body_hash, now) | {
        "payment_method_id": body.payment_method_id, "amount": body.amount,
        "currency": body.currency, "status": outcome.status.value,
        "failure_reason": None if reason is None else reason.value,
    }  # fmt: skip
    return _answer(model, await rows.create(row | columns), body_hash)


@router.post("/charges", status_code=201, response_model=ChargePublic,
             responses=errors(403, 404, 409, 422))  # fmt: skip
async def create_charge(
    app: App, body: ChargeCreate, principal: Service, headers: Headers, deadline: Deadline = None
) -> Response:
    """Charge a stored card: authorize it, and capture at once unless ``capture`` is false."""
    key = headers.idempotency_key

    def columns(outcome: Outcome, now: datetime) -> dict[str, Any]:
        status = charge_status(outcome, body.capture)
        captured = body.amount if status == "captured" else 0
        return {"status": status, "captured_amount": captured, "refunded_amount": 0,
                "capture": body.capture, "updated_at": now}  # fmt: skip

    decide = Decide(lambda card: app.scenarios.charge(card["fingerprint"], key), columns)
    request = MethodRequest(principal, body, key, deadline)
    answer = await _create(app, app.charges, ChargePublic, request, decide)
    app.settlement.wake()  # a pending charge is decided from its row, timed from now
    return answer


@router.get("/charges", response_model=ChargePublic, responses=errors(403, 404))
async def charge_by_key(app: App, principal: Service, idempotency_key: KeyQuery) -> Response:
    """The charge this client made with ``idempotency_key`` (what a timed-out caller asks)."""
    row = await app.charges.by_key(principal.subject, idempotency_key)
    return _found(row, ChargePublic, "charge_not_found")


async def _move(app: PgwApp, principal: Principal, charge_id: str, to: str) -> Response:
    """Capture or void an authorized charge; asked again, the same answer."""
    try:
        cid = str(uuid.UUID(charge_id))
    except ValueError:
        raise Problem(404, "charge_not_found", "no such charge") from None
    moved, row = await app.charges.move(principal.subject, cid, to, datetime.now(UTC))
    if row is None:
        raise Problem(404, "charge_not_found", "no such charge")
    if not moved and row["status"] != to:
        verb = "captured" if to == "captured" else "voided"
        raise Problem(409, "charge_not_authorized", f"a {row['status']} charge cannot be {verb}",
                      charge_status=row["status"])  # fmt: skip
    return OrjsonResponse(public(ChargePublic, row))


@router.post("/charges/{charge_id}/capture", response_model=ChargePublic,
             responses=errors(403, 404, 409))  # fmt: skip
async def capture_charge(app: App, charge_id: str, principal: Service) -> Response:
    """Capture the whole amount of an authorized charge."""
    return await _move(app, principal, charge_id, "captured")


@router.post("/charges/{charge_id}/void", response_model=ChargePublic,
             responses=errors(403, 404, 409))  # fmt: skip
async def void_charge(app: App, charge_id: str, principal: Service) -> Response:
    """Release an authorized charge, or cancel a pending one before it is decided (its
    callback then says ``voided``): nothing is captured."""
    answer = await _move(app, principal, charge_id, "voided")
    app.settlement.wake()  # a voided pending charge's callback is due now
    return answer


@router.post("/refunds", status_code=201, response_model=RefundPublic,
             responses=errors(403, 404, 409, 422))  # fmt: skip
async def create_refund(
    app: App, body: RefundCreate, principal: Service, headers: Headers
) -> Response:
    """Refund part or all of a captured charge; the refunds never sum past the capture."""
    key, body_hash = headers.idempotency_key, request_hash(body)
    first = await app.charges.refund_by_key(principal.subject, key)
    if first is not None:
        return _answer(RefundPublic, Keyed(first, fresh=False), body_hash)
    row = _keyed_row(principal, key, body_hash, datetime.now(UTC)) | {
        "charge_id": body.charge_id, "amount": body.amount, "status": "succeeded",
    }  # fmt: skip
    attempt = await app.charges.refund(row)
    charge = attempt.charge
    if attempt.refusal == "charge_not_found" or charge is None:
        raise Problem(404, "charge_not_found", "no such charge")
    if attempt.refusal == "charge_not_captured":
        raise Problem(409, "charge_not_captured", f"a {charge['status']} charge has nothing "
                      "to refund", charge_status=charge["status"])  # fmt: skip
    refundable = charge["captured_amount"] - charge["refunded_amount"]
    if attempt.refusal == "over_captured":
        raise Problem(422, "refund_exceeds_captured",
                      f"at most {refundable} of the charge is left to refund",
                      refundable=refundable)  # fmt: skip
    assert attempt.refund is not None
    return _answer(RefundPublic, attempt.refund, body_hash)


@router.get("/refunds", response_model=RefundPublic, responses=errors(403, 404))
async def refund_by_key(app: App, principal: Service, idempotency_key: KeyQuery) -> Response:
    """The refund this client made with ``idempotency_key``."""
    row = await app.charges.refund_by_key(principal.subject, idempotency_key)
    return _found(row, RefundPublic, "refund_not_found")


@router.post("/payouts", status_code=201, response_model=PayoutPublic,
             responses=errors(403, 404, 409, 422))  # fmt: skip
async def create_payout(
    app: App, body: PayoutCreate, principal: Service, headers: Headers, deadline: Deadline = None
) -> Response:
    """Pay out to a stored bank account; the failing test account fails ``account_closed``."""
    request = MethodRequest(principal, body, headers.idempotency_key, deadline)
    decide = Decide(lambda account: app.scenarios.payout(account["fingerprint"]), lambda *_: {})
    return await _create(app, app.payouts, PayoutPublic, request, decide)


@router.get("/payouts", response_model=PayoutPublic, responses=errors(403, 404))
async def payout_by_key(app: App, principal: Service, idempotency_key: KeyQuery) -> Response:
    """The payout this client made with ``idempotency_key``."""
    row = await app.payouts.by_key(principal.subject, idempotency_key)
    return _found(row, PayoutPublic, "payout_not_found")
