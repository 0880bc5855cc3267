"""What the money services ask of a payment method before they start a deposit or a
withdrawal: whose it is, what it is, what it pays in and the provider's maximum, so a
request the provider would refuse is answered 4xx before any saga begins.

Service tokens only, like the provider API; not routed by the gateway and not in any
OpenAPI document. Unlike the provider calls it waits no ``pgw_latency_ms``: it reads the
method registry, it moves no money.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel

from common.errors import Problem
from common.openapi import errors
from common.responses import OrjsonResponse
from pgw_svc.deps import App, Service

router = APIRouter(prefix="/internal", tags=["provider"], include_in_schema=False)

OwnerQuery = Annotated[str, Query(min_length=1, max_length=64)]


class MethodLookup(BaseModel):
    id: str
    type: Literal["card", "bank_account"]
    currencies: list[str]
    max_amount: int  # the largest charge or payout, minor units


@router.get("/payment-methods/{method_id}", response_model=MethodLookup,
            responses=errors(403, 404))  # fmt: skip
async def lookup_method(app: App, method_id: str, owner_id: OwnerQuery, _: Service) -> Response:
    """``owner_id``'s method: another owner's, a deleted or an unknown one is a 404."""
    try:
        parsed = str(uuid.UUID(method_id))
    except ValueError:
        parsed = None
    found = None if parsed is None else await app.methods.owned(parsed, owner_id)
    if found is None:
        raise Problem(404, "payment_method_not_found", "the owner has no such payment method")
    return OrjsonResponse({"id": str(found["id"]), "type": found["type"],
                           "currencies": list(app.currencies(found)),
                           "max_amount": app.max_amount})  # fmt: skip
