"""Payments to merchants and their refunds: ``POST /payments`` (a money POST like a
transfer, on ``api.submit``), ``GET /payments/{id}``, ``GET /payments`` and
``POST /payments/{id}/refunds``.

A merchant is a user whose role is ``merchant`` (``transactions.merchants``, projected
from ``user-events``); it is paid into its wallet in the payment's currency (the wallet
directory). The claim of a payment also records its order (one payment per order), the
claim of a refund its share of the payment (never above what was paid): see
``payments.py`` and docs/merchants.md.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request, Response

from common.auth import CurrentPrincipal, Principal
from common.errors import Problem
from common.fastlane import FastRoute
from common.idempotency import MoneyHeaders
from common.openapi import errors
from contracts.transaction import PaymentRequested, RefundRequested
from transaction_svc import payments
from transaction_svc.api import (
    MONEY_ANSWERS,
    READERS,
    Caller,
    MoneyPost,
    Record,
    answer_slow,
    deadline_of,
    no_check,
    owned_wallet,
    page_by_creation,
    usable_method,
)
from transaction_svc.deps import App, TransactionApp
from transaction_svc.domain.merchant import CARD, WALLET
from transaction_svc.schemas import (
    PaymentCreate,
    PaymentPublic,
    PaymentsPage,
    Refund,
    RefundCreate,
    TransactionPublic,
)
from transaction_svc.status import payment_status

router = APIRouter()
PAYMENT_ANSWERS = MONEY_ANSWERS | errors(403, 404, 409, 422)


def _check_payment(body: PaymentCreate) -> None:
    return None


async def build_payment(
    state: TransactionApp, caller: Caller, body: PaymentCreate, tx_id: str, now: datetime
) -> tuple[dict[str, Any], Any, Record]:
    """The payer's wallet or card, then the merchant and its wallet in the currency."""
    payer, merchant_id = caller.principal.subject, str(body.merchant_id)
    if merchant_id == payer:
        raise Problem(422, "cannot_pay_yourself", "a merchant cannot pay its own order")
    src, method, provider = "", "", WALLET
    if body.from_wallet_id is not None:
        src = str(body.from_wallet_id)
        wallets = await state.directory.get(state.engine, [src], caller.authorization)
        owned_wallet(wallets, caller.principal, src, body.currency)
    else:
        method, provider = str(body.payment_method_id), CARD
    payee = await payments.merchant(state.engine, merchant_id, body.currency)
    if not payee.is_merchant:
        raise Problem(404, "merchant_not_found", f"no merchant {merchant_id}")
    if payee.wallet_id is None:
        raise Problem(
            422,
            "merchant_currency_unsupported",
            f"merchant {merchant_id} takes no payments in {body.currency}",
        )
    if method:  # asked of the provider last: the checks above cost it nothing
        await usable_method(state, payer, method, "card", body.amount, body.currency)
    row = {
        "id": tx_id,
        "kind": "payment",
        "owner_id": payer,
        "from_wallet_id": src or None,
        "to_wallet_id": payee.wallet_id,
        "amount": body.amount,
        "currency": body.currency,
        "fee": 0,
        "description": body.description,
        "created_at": now,
        # what the first answer shows of the payment (store.COLUMNS)
        "merchant_id": merchant_id,
        "order_id": body.order_id,
        "payment_provider": provider,
        "provider_payment_id": None,
        "refunded": 0,
        "refund_of": None,
    }
    event = PaymentRequested(
        transaction_id=tx_id,
        from_wallet_id=src,
        to_wallet_id=payee.wallet_id,
        amount=body.amount,
        currency=body.currency,
        merchant_id=merchant_id,
        order_id=body.order_id,
        provider=provider,
        deadline=deadline_of(state.settings, now),
        payment_method_id=method,
        owner_id=payer,
    )
    order = {
        "id": tx_id,
        "merchant_id": merchant_id,
        "order_id": body.order_id,
        "payer_id": payer,
        "provider": provider,
        "amount": body.amount,
        "currency": body.currency,
        "customer_email": body.customer_email,
        "customer_name": body.customer_name,
        "metadata": body.metadata,
        "created_at": now,
    }
    return row, event, payments.record_payment(order)


def _may_see(principal: Principal, payment: Any) -> bool:
    subject = principal.subject
    return principal.has_role(*READERS) or subject in (payment.payer_id, payment.merchant_id)


async def build_refund(
    state: TransactionApp, caller: Caller, body: Refund, tx_id: str, now: datetime
) -> tuple[dict[str, Any], Any, Record]:
    """The payment, refundable by this caller, and the amount (all that is left if none
    was given), checked again under the payment's lock when the refund is recorded. A
    wallet payment is refunded to the payer's wallet, a card payment to the card."""
    principal = caller.principal
    payment = await payments.get_payment(state.engine, body.payment_id)
    if payment is None or not _may_see(principal, payment):
        raise Problem(404, "payment_not_found", f"no payment {body.payment_id}")
    if principal.subject != payment.merchant_id and not principal.has_role("admin"):
        raise Problem(403, "not_payment_merchant", "only the merchant paid or an admin refunds")
    if payment.transaction_status != "completed":
        status = payment_status(payment.transaction_status, payment.amount, payment.refunded)
        raise Problem(
            422,
            "payment_not_refundable",
            f"only a completed payment is refunded; this one is {status}",
            payment_status=status,
        )
    remaining = payment.amount - payment.reserved
    amount = remaining if body.amount is None else body.amount
    if amount > remaining or amount <= 0:
        raise payments.exceeds(remaining)
    row = {
        "id": tx_id,
        "kind": "refund",
        "owner_id": principal.subject,
        "from_wallet_id": payment.to_wallet_id,
        "to_wallet_id": payment.from_wallet_id,
        "amount": amount,
        "currency": payment.currency,
        "fee": 0,
        "description": body.reason,
        "created_at": now,
        "refund_of": payment.id,
    }
    event = RefundRequested(
        transaction_id=tx_id,
        payment_id=payment.id,
        from_wallet_id=payment.to_wallet_id,
        to_wallet_id=payment.from_wallet_id or "",
        amount=amount,
        currency=payment.currency,
        merchant_id=payment.merchant_id,
        order_id=payment.order_id,
        deadline=deadline_of(state.settings, now),
        # a card payment's refund goes back to the card: a refund of its charge
        charge_id=payment.provider_payment_id if payment.provider == CARD else "",
    )
    return row, event, payments.record_refund(tx_id, payment.id, amount, body.reason)


PAYMENTS = MoneyPost("/payments", PaymentCreate, _check_payment, build_payment, out=True)
REFUNDS = MoneyPost("/payments/{payment_id}/refunds", Refund, no_check, build_refund, out=True)
FAST_ROUTES = [FastRoute("POST", PAYMENTS.path, PAYMENTS.path, PAYMENTS.fast)]


@router.post(
    "/payments", status_code=202, response_model=TransactionPublic, responses=PAYMENT_ANSWERS
)
async def create_payment(
    app: App,
    body: PaymentCreate,
    request: Request,
    response: Response,
    principal: CurrentPrincipal,
    headers: Annotated[MoneyHeaders, Header()],
) -> dict[str, Any]:
    """Pay a merchant (``merchant_id``) for its order ``order_id`` from the caller's
    wallet: one payment per order, a second one is a 409 ``duplicate_order`` naming the
    first, whatever its ``Idempotency-Key``."""
    return await answer_slow(PAYMENTS, app, request, response, principal, body, headers)


@router.post(
    "/payments/{payment_id}/refunds",
    status_code=202,
    response_model=TransactionPublic,
    responses=PAYMENT_ANSWERS,
)
async def create_refund(
    payment_id: Annotated[str, Path(max_length=64)],
    app: App,
    body: RefundCreate,
    request: Request,
    response: Response,
    principal: CurrentPrincipal,
    headers: Annotated[MoneyHeaders, Header()],
) -> dict[str, Any]:
    """Give the payer back part of a completed payment (``amount``) or all that is left
    (no ``amount``), from the merchant's wallet to the payer's: by the merchant paid or an
    admin. The refunds of a payment never add up to more than it."""
    refund = Refund(**body.model_dump(exclude_unset=True), payment_id=payment_id)
    return await answer_slow(REFUNDS, app, request, response, principal, refund, headers)


def represent_payment(row: Any, refunds: list[Any]) -> dict[str, Any]:
    return {
        "id": row.id,
        "merchant_id": row.merchant_id,
        "order_id": row.order_id,
        "payer_id": row.payer_id,
        "amount": row.amount,
        "currency": row.currency,
        "provider": row.provider,
        "status": payment_status(row.transaction_status, row.amount, row.refunded),
        "refunded_amount": row.refunded,
        "from_wallet_id": row.from_wallet_id,
        "description": row.description,
        "customer_email": row.customer_email,
        "customer_name": row.customer_name,
        "metadata": row.metadata,
        "provider_payment_id": row.provider_payment_id,
        "failure_reason": row.failure_reason,
        "refunds": [
            {
                "id": r.id,
                "amount": r.amount,
                "status": r.status,
                "reason": r.reason,
                "failure_reason": r.failure_reason,
                "created_at": r.created_at.isoformat(),
            }
            for r in refunds
        ],
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
        "links": {
            "self": f"/api/v1/payments/{row.id}",
            "transaction": f"/api/v1/transactions/{row.id}",
        },
    }


@router.get("/payments/{payment_id}", response_model=PaymentPublic, responses=errors(404))
async def get_payment(
    payment_id: Annotated[str, Path(max_length=64)], app: App, principal: CurrentPrincipal
) -> dict[str, Any]:
    """A payment and its refunds: for its payer, its merchant, admins and auditors."""
    row = await payments.get_payment(app.engine, payment_id)
    if row is None or not _may_see(principal, row):
        raise Problem(404, "payment_not_found", f"no payment {payment_id}")
    refunds = await payments.refunds_of(app.engine, [row.id])
    return represent_payment(row, refunds[row.id])


@router.get("/payments", response_model=PaymentsPage)
async def list_payments(
    app: App,
    principal: CurrentPrincipal,
    merchant_id: Annotated[str | None, Query(max_length=64)] = None,
    order_id: Annotated[str | None, Query(max_length=128)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> dict[str, Any]:
    """Payments the caller paid or was paid (every payment for admins and auditors),
    newest first; ``merchant_id`` and ``order_id`` narrow them (an order: one at most)."""
    party = None if principal.has_role(*READERS) else principal.subject
    rows, next_cursor = await page_by_creation(
        cursor,
        limit,
        lambda after, n: payments.search_payments(
            app.engine,
            party=party,
            merchant_id=merchant_id,
            order_id=order_id,
            cursor=after,
            limit=n,
        ),
    )
    refunds = await payments.refunds_of(app.engine, [r.id for r in rows])
    return {
        "items": [represent_payment(r, refunds[r.id]) for r in rows],
        "next_cursor": next_cursor,
    }
