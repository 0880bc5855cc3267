"""``/webhooks``: a merchant's endpoints for its payment events, their deliveries, a
secret rotation, re-enabling and redelivery. Merchants only (anyone else: 403), each
merchant sees only its own endpoints (another's: 404).

The secret is shown once, when the endpoint is made or its secret rotated; after a
rotation the old secret keeps signing beside the new one for ``webhook_secret_overlap_s``.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response

from common.auth import Principal, require_roles
from common.errors import Problem
from common.openapi import errors
from contracts.ids import uuid7
from transaction_svc.api import page_by_creation
from transaction_svc.deps import App
from transaction_svc.webhooks import store
from transaction_svc.webhooks.schemas import (
    DeliveriesPage,
    DeliveryPublic,
    WebhookCreate,
    WebhookPublic,
    WebhooksPage,
    WebhookWithSecret,
)
from transaction_svc.webhooks.targets import TargetPolicy, check_target

router = APIRouter()
Merchant = Annotated[Principal, require_roles("merchant")]
WebhookId = Annotated[str, Path(max_length=64)]
SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def endpoint_public(row: Any, secret: str | None = None) -> dict[str, Any]:
    body = {
        "id": row.id,
        "url": row.url,
        "events": list(row.events),
        "description": row.description,
        "status": row.status,
        "consecutive_failures": row.consecutive_failures,
        "disabled_at": row.disabled_at,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }
    return body if secret is None else body | {"secret": secret}


def delivery_public(row: Any, attempts: list[Any]) -> dict[str, Any]:
    return {
        "id": row.id,
        "webhook_id": row.endpoint_id,
        "event_id": row.event_id,
        "event_type": row.event_type,
        "payment_id": row.payment_id,
        "status": row.status,
        "next_attempt_at": row.next_attempt_at if row.status == "pending" else None,
        "give_up_at": row.give_up_at,
        "give_up_reason": row.give_up_reason,
        "last_status_code": row.last_status_code,
        "last_error": row.last_error,
        "delivered_at": row.delivered_at,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
        "attempts": [
            {
                "attempt": a.attempt,
                "at": a.at,
                "status_code": a.status_code,
                "latency_ms": a.latency_ms,
                "error": a.error,
            }
            for a in attempts
        ],
    }


def _not_found(webhook_id: str) -> Problem:
    return Problem(404, "webhook_not_found", f"no webhook {webhook_id}")


async def _own(app: App, webhook_id: str, merchant: Principal) -> Any:
    row = await store.get_endpoint(app.engine, webhook_id, merchant.subject)
    if row is None:
        raise _not_found(webhook_id)
    return row


@router.post(
    "/webhooks", status_code=201, response_model=WebhookWithSecret, responses=errors(403, 422)
)
async def create_webhook(app: App, body: WebhookCreate, merchant: Merchant) -> dict[str, Any]:
    """Register an endpoint for the merchant's payment events; the answer holds its
    ``secret``, which is never shown again."""
    await check_target(body.url, TargetPolicy.of(app.settings))
    secret = new_secret()
    row = await store.create_endpoint(
        app.engine,
        {
            "id": str(uuid7()),
            "merchant_id": merchant.subject,
            "url": body.url,
            "events": sorted(set(body.events)),
            "description": body.description,
            "secret": secret,
            "now": datetime.now(UTC),
        },
        app.settings.webhook_endpoints_per_merchant,
    )
    return endpoint_public(row, secret)


@router.get("/webhooks", response_model=WebhooksPage, responses=errors(403))
async def list_webhooks(
    app: App,
    merchant: Merchant,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> dict[str, Any]:
    """The merchant's endpoints, newest first."""
    rows, next_cursor = await page_by_creation(
        cursor,
        limit,
        lambda after, n: store.search_endpoints(app.engine, merchant.subject, after, n),
    )
    return {"items": [endpoint_public(r) for r in rows], "next_cursor": next_cursor}


@router.get("/webhooks/{webhook_id}", response_model=WebhookPublic, responses=errors(403, 404))
async def get_webhook(app: App, webhook_id: WebhookId, merchant: Merchant) -> dict[str, Any]:
    return endpoint_public(await _own(app, webhook_id, merchant))


@router.delete("/webhooks/{webhook_id}", status_code=204, responses=errors(403, 404))
async def delete_webhook(app: App, webhook_id: WebhookId, merchant: Merchant) -> Response:
    """Remove the endpoint and its deliveries: nothing more is sent to it."""
    if not await store.delete_endpoint(app.engine, webhook_id, merchant.subject):
        raise _not_found(webhook_id)
    return Response(status_code=204)


@router.post(
    "/webhooks/{webhook_id}/rotate-secret",
    response_model=WebhookWithSecret,
    responses=errors(403, 404),
)
async def rotate_secret(app: App, webhook_id: WebhookId, merchant: Merchant) -> dict[str, Any]:
    """A new secret (shown once); deliveries carry a signature by the old one too for
    ``webhook_secret_overlap_s`` (24 h by default), so a receiver can switch over."""
    now = datetime.now(UTC)
    secret = new_secret()
    until = now + timedelta(seconds=app.settings.webhook_secret_overlap_s)
    row = await store.update_endpoint(
        app.engine, webhook_id, merchant.subject, store.ROTATE, secret=secret, until=until, now=now
    )
    if row is None:
        raise _not_found(webhook_id)
    return endpoint_public(row, secret)


@router.post(
    "/webhooks/{webhook_id}/enable", response_model=WebhookPublic, responses=errors(403, 404)
)
async def enable_webhook(app: App, webhook_id: WebhookId, merchant: Merchant) -> dict[str, Any]:
    """Enable an endpoint disabled after its failures: its waiting deliveries go out."""
    row = await store.update_endpoint(
        app.engine, webhook_id, merchant.subject, store.ENABLE, now=datetime.now(UTC)
    )
    if row is None:
        raise _not_found(webhook_id)
    return endpoint_public(row)


@router.get(
    "/webhooks/{webhook_id}/deliveries", response_model=DeliveriesPage, responses=errors(403, 404)
)
async def list_deliveries(
    app: App,
    webhook_id: WebhookId,
    merchant: Merchant,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> dict[str, Any]:
    """The endpoint's deliveries, newest first, each with every attempt."""
    await _own(app, webhook_id, merchant)
    rows, next_cursor = await page_by_creation(
        cursor, limit, lambda after, n: store.search_deliveries(app.engine, webhook_id, after, n)
    )
    attempts = await store.attempts_of(app.engine, [r.id for r in rows])
    return {
        "items": [delivery_public(r, attempts[r.id]) for r in rows],
        "next_cursor": next_cursor,
    }


@router.post(
    "/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
    status_code=202,
    response_model=DeliveryPublic,
    responses=errors(403, 404),
)
async def redeliver(
    app: App,
    webhook_id: WebhookId,
    delivery_id: Annotated[str, Path(max_length=64)],
    merchant: Merchant,
) -> dict[str, Any]:
    """Send a delivery again now (delivered, given up or still pending), with a new
    retry horizon; the payment's later events wait for it, to keep their order."""
    await _own(app, webhook_id, merchant)
    now = datetime.now(UTC)
    give_up_at = app.settings.webhook_retry.give_up_at(now)
    row = await store.redeliver(app.engine, webhook_id, delivery_id, now, give_up_at)
    if row is None:
        raise Problem(404, "delivery_not_found", f"no delivery {delivery_id}")
    attempts = await store.attempts_of(app.engine, [row.id])
    return delivery_public(row, attempts[row.id])
