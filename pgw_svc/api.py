"""The public payment-methods API (paths without ``/api/v1``: the gateway strips it).

A card or bank account is checked and tokenised by the domain before anything is stored,
so the number, CVC and IBAN never reach the database, a log or a response. A method
someone else owns is a 404 (its existence is not leaked).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import TypeAdapter

from common.auth import CurrentPrincipal, Principal
from common.cursor import decode_cursor
from common.errors import Problem
from common.openapi import errors
from common.paging import fetch_page
from common.responses import OrjsonResponse
from contracts.ids import uuid7
from pgw_svc.deps import App
from pgw_svc.domain import PaymentMethodRejected, tokenize_bank_account, tokenize_card
from pgw_svc.schemas import (
    BankAccountCreate,
    PaymentMethodCreate,
    PaymentMethodPublic,
    PaymentMethodsPage,
    method_public,
)

router = APIRouter(tags=["payment-methods"])

OWNER_ROLES = ("user", "merchant")
METHODS_CURSOR = TypeAdapter(uuid.UUID)  # the id of the last method


def _owner(principal: Principal) -> str:
    if not principal.has_role(*OWNER_ROLES):
        raise Problem(403, "forbidden", "only users and merchants own payment methods")
    return principal.subject


def _method_uuid(method_id: str) -> str:
    try:
        return str(uuid.UUID(method_id))
    except ValueError:
        raise Problem(404, "payment_method_not_found", "no such payment method") from None


def _token_columns(body: PaymentMethodCreate, key: bytes, now: datetime) -> dict[str, Any]:
    """The stored columns of a checked method; a refusal is a 422 with the domain's code."""
    try:
        if isinstance(body, BankAccountCreate):
            account = tokenize_bank_account(
                iban=body.iban, fingerprint_key=key, currency=body.currency
            )
            return {"type": "bank_account", "brand": None, "exp_month": None, "exp_year": None,
                    "country": account.country, "currency": account.currency,
                    "last4": account.last4, "fingerprint": account.fingerprint}  # fmt: skip
        card = tokenize_card(
            number=body.number, exp_month=body.exp_month, exp_year=body.exp_year,
            cvc=body.cvc, today=now.date(), fingerprint_key=key,
        )  # fmt: skip
    except PaymentMethodRejected as rejected:
        detail = f"the payment method was refused: {rejected}"
        raise Problem(422, rejected.reason.value, detail) from None
    return {"type": "card", "brand": card.brand.value, "exp_month": card.exp_month,
            "exp_year": card.exp_year, "country": None, "currency": None, "last4": card.last4,
            "fingerprint": card.fingerprint}  # fmt: skip


@router.post(
    "/payment-methods", status_code=201, response_model=PaymentMethodPublic, responses=errors(403)
)
async def add_payment_method(
    app: App, body: PaymentMethodCreate, principal: CurrentPrincipal
) -> Response:
    """Add a card or bank account for the caller; only its token is kept."""
    owner = _owner(principal)
    now = datetime.now(UTC)
    columns = _token_columns(body, app.fingerprint_key, now)
    owned = {"id": uuid7(), "owner_id": owner, "holder_name": body.holder_name}
    row = await app.methods.add({**columns, **owned, "created_at": now})
    return OrjsonResponse(
        method_public(row), status_code=201, headers={"Location": f"/payment-methods/{row['id']}"}
    )


@router.get("/payment-methods", response_model=PaymentMethodsPage, responses=errors(403))
async def list_payment_methods(
    app: App,
    principal: CurrentPrincipal,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> Response:
    """The caller's payment methods, oldest first."""
    owner = _owner(principal)
    after = str(decode_cursor(cursor, METHODS_CURSOR)) if cursor else None
    rows, next_cursor = await fetch_page(
        lambda n: app.methods.page(owner, after, n), limit, lambda r: str(r["id"])
    )
    return OrjsonResponse({"items": [method_public(r) for r in rows], "next_cursor": next_cursor})


@router.get(
    "/payment-methods/{method_id}", response_model=PaymentMethodPublic, responses=errors(403, 404)
)
async def get_payment_method(app: App, method_id: str, principal: CurrentPrincipal) -> Response:
    """One of the caller's payment methods."""
    owner = _owner(principal)
    row = await app.methods.get(_method_uuid(method_id))
    if row is None or row["owner_id"] != owner:
        raise Problem(404, "payment_method_not_found", "no such payment method")
    return OrjsonResponse(method_public(row))


@router.delete("/payment-methods/{method_id}", status_code=204, responses=errors(403, 404))
async def delete_payment_method(app: App, method_id: str, principal: CurrentPrincipal) -> Response:
    """Remove one of the caller's payment methods (kept, marked deleted, for history)."""
    owner = _owner(principal)
    if not await app.methods.delete(_method_uuid(method_id), owner, datetime.now(UTC)):
        raise Problem(404, "payment_method_not_found", "no such payment method")
    return Response(status_code=204)
