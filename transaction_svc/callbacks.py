"""The provider's signed callback: a pending charge decided (``contracts.provider``).

pgw_svc POSTs ``ChargeCallback`` with ``Paystream-Signature`` (``common.signatures``, the
shared ``provider_callback_secret``). A bad or stale signature is a 401, a replayed one
(the same signature seen within twice the five-minute window, remembered in Redis) a
409, and neither changes anything. An accepted callback for a deposit still waiting for
its charge (the amount and its fee: what the saga asked the card for) is published on
``payment-events`` as ``ChargeSucceeded`` or ``ChargeFailed``
(``ChargeVoided`` for a pending charge voided by a card payment's cancel),
with the id the saga would derive for it, so a callback delivered twice is one event to
every consumer; the saga worker credits the wallet (or fails the deposit) from there.
For a deposit whose charge is already decided, a callback that agrees is answered 204
and publishes nothing, one that contradicts it is a 409 ``charge_already_decided``
(logged): the public topic never says both.
Not routed by the gateway and not in the OpenAPI document: only the provider calls it.
"""

from __future__ import annotations

import logging
import time
from typing import Annotated

import msgspec
from fastapi import APIRouter, Header, Request, Response

from common.errors import Problem
from common.kafka.producer import send_envelope
from common.signatures import DEFAULT_TOLERANCE_S, SignatureRejected, verify
from common.topics import PAYMENT_EVENTS
from contracts import payment as pay
from contracts.provider import ChargeCallback
from transaction_svc import store
from transaction_svc.deps import App, TransactionApp
from transaction_svc.domain.state import SagaStatus, saga_from_dict
from transaction_svc.outbound import payment_envelope

log = logging.getLogger("paystream.provider_callbacks")
router = APIRouter(include_in_schema=False)
CHARGE_KEY_SUFFIX = ":charge"  # a deposit's charge key is "{transaction id}:charge"
CHARGED = ("deposit", "payment")  # what charges a card: deposits, card payments (merchants.md)


@router.post("/internal/provider/callbacks", status_code=204)
async def provider_callback(
    request: Request,
    app: App,
    signature: Annotated[str | None, Header(alias="Paystream-Signature")] = None,
) -> Response:
    body = await request.body()
    if not signature:
        raise Problem(401, "signature_missing", "the Paystream-Signature header is required")
    secret = app.settings.provider_callback_secret.get_secret_value().encode()
    try:
        verified = verify(signature, body, secret, int(time.time()))
    except SignatureRejected as exc:
        raise Problem(
            401, f"signature_{exc.reason}", "the callback's signature is refused"
        ) from None
    try:
        callback = msgspec.json.decode(body, type=ChargeCallback)
    except msgspec.DecodeError as exc:  # ValidationError too
        raise Problem(422, "validation_error", f"not a charge callback: {exc}") from None
    first = await app.redis.set(
        f"provider-callback:{verified.signature}", 1, nx=True, ex=2 * DEFAULT_TOLERANCE_S
    )
    if not first:
        raise Problem(409, "callback_replayed", "this signed callback was already received")
    event = await _charge_decided(app, callback)
    if event is not None:
        envelope = payment_envelope(event, request.state.correlation_id, None)
        await send_envelope(app.producer, PAYMENT_EVENTS, envelope, request.state.traceparent)
    return Response(status_code=204)


async def _charge_decided(
    app: TransactionApp, callback: ChargeCallback
) -> pay.ProviderOutcome | None:
    """The event the callback decides, or None when the deposit's charge is already
    decided the same way."""
    tx = callback.idempotency_key.removesuffix(CHARGE_KEY_SUFFIX)
    row = await store.get(app.engine, tx) if tx != callback.idempotency_key else None
    if row is None or row.kind not in CHARGED or not row.saga:
        raise Problem(404, "transaction_not_found", "no deposit or payment is charged so")
    if (callback.amount, callback.currency) != (row.amount + row.fee, row.currency):
        raise Problem(422, "amount_mismatch", "the callback's amount is not what was charged")
    saga = saga_from_dict(row.saga)
    if saga.status is not SagaStatus.CHARGING:
        charged = any(s.step == "charge" and s.status == "done" for s in saga.steps)
        if charged == (callback.status == "captured"):
            return None  # told again what the deposit already went on with
        log.error(
            "provider callback contradicts a decided charge",
            extra={"transaction_id": tx, "charge_id": callback.charge_id},
        )
        raise Problem(409, "charge_already_decided", "this deposit's charge is already decided")
    base = {
        "payment_id": tx,
        "wallet_id": row.to_wallet_id,
        "amount": row.amount,
        "currency": row.currency,
        "fee": row.fee,
    }
    if callback.status == "captured":
        return pay.ChargeSucceeded(**base, charge_id=callback.charge_id)
    if callback.status == "failed":
        reason = callback.failure_reason or "charge_failed"
        return pay.ChargeFailed(**base, charge_id=callback.charge_id, failure_reason=reason)
    if callback.status == "voided":  # a card payment cancelled while its charge was pending
        return pay.ChargeVoided(**base, charge_id=callback.charge_id)
    raise Problem(422, "validation_error", f"a callback decides a charge: {callback.status}")
