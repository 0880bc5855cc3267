"""``POST /payments/{id}/cancel``: the payer (or an admin) cancels a card payment whose
charge the provider has not decided yet (the asynchronous card: ``ChargePending``).

The cancel voids the pending charge at pgw_svc. The provider decides a pending charge
under its row's lock and a void changes only a charge still pending, so either the void
wins (the charge is ``voided``: nothing is charged, and the provider's signed callback
says so, which ends the payment ``cancelled`` through the saga, like any decision) or
the decision came first (``409 payment_not_cancellable``: the payment goes on as the
provider decided). The callback, not this request, carries the outcome to the saga, so a
crash after the void loses nothing. Asked again, the cancel answers the same. A wallet
payment is decided by the wallet as soon as it is made (its debit is appended with the
request) and is not cancellable; nor is a card payment whose charge is not at the
provider yet (asked again a moment later, it is).
"""

from __future__ import annotations

from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Header, Path, Response

from common.auth import CurrentPrincipal
from common.errors import Problem
from common.idempotency import WriteHeaders
from common.openapi import errors
from common.prefer import prefer_wait
from transaction_svc import payments, store
from transaction_svc.api import READERS, represent
from transaction_svc.deps import App
from transaction_svc.domain.merchant import CARD
from transaction_svc.domain.state import SagaStatus, saga_from_dict
from transaction_svc.schemas import TransactionPublic
from transaction_svc.status import TERMINAL, payment_status

router = APIRouter()


def _not_cancellable(status: str, why: str) -> Problem:
    return Problem(409, "payment_not_cancellable", why, payment_status=status)


@router.post(
    "/payments/{payment_id}/cancel",
    status_code=202,
    response_model=TransactionPublic,
    responses=errors(403, 404, 409, 503),
)
async def cancel_payment(
    payment_id: Annotated[str, Path(max_length=64)],
    app: App,
    principal: CurrentPrincipal,
    response: Response,
    headers: Annotated[WriteHeaders, Header()],
) -> dict[str, Any]:
    """Cancel a card payment still waiting for the provider: nothing is charged, and it
    ends ``cancelled`` (``Prefer: wait=N`` answers once it has). By its payer or an admin."""
    payment = await payments.get_payment(app.engine, payment_id)
    visible = payment is not None and (
        principal.has_role(*READERS) or principal.subject in (payment.payer_id, payment.merchant_id)
    )
    if payment is None or not visible:
        raise Problem(404, "payment_not_found", f"no payment {payment_id}")
    if principal.subject != payment.payer_id and not principal.has_role("admin"):
        raise Problem(403, "not_payment_payer", "only the payer or an admin cancels a payment")
    row = await store.get(app.engine, payment_id)
    assert row is not None  # a payment's row is written with its transaction
    status = payment_status(row.status, payment.amount, payment.refunded)
    saga = saga_from_dict(row.saga) if row.saga else None
    if saga is None or saga.status is not SagaStatus.CANCELLED:
        if payment.provider != CARD:
            raise _not_cancellable(status, "a wallet payment is decided as soon as it is made")
        if saga is None or saga.status is not SagaStatus.CHARGING or not saga.charge_id:
            raise _not_cancellable(status, "only a payment whose charge is pending is cancelled")
        wait_s = prefer_wait(headers.prefer)
        fut = app.waiters.expect(payment_id) if wait_s else None
        try:
            charge = await app.provider.void(saga.charge_id)
        except httpx.HTTPError:
            raise Problem(503, "provider_unavailable", "the provider did not answer") from None
        if charge != "voided":
            raise _not_cancellable(status, f"the provider decided the charge first: {charge}")
        if fut is not None:
            await app.waiters.wait(payment_id, fut, wait_s)
            row = await store.get(app.engine, payment_id)
            assert row is not None
    if row.status in TERMINAL:
        response.status_code = 200
    return represent(row)
