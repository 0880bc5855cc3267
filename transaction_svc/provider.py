"""pgw_svc's provider API, as transaction_svc calls it: over HTTP, as its own service
client (``common.service_token.ServiceTokens``), with the saga's idempotency keys.

Exactly one charge, refund or payout per key, whatever fails: a create that times out,
gets a 5xx or loses its connection may or may not have been made, so before sending it
again the client asks the provider what it made with that key
(``GET /internal/charges?idempotency_key=``); only a 404 there, or no answer to the
question either, sends the create again, with the same key, which the provider answers
with the first row if it made one. The client asks until the provider answers: an
unreachable provider leaves the payment ``processing``, never failed while its charge
may exist. A refusal (4xx with a ``code``)
is an answer: the payment fails with that code, nothing was made.

A charge or payout carries its deadline (``Paystream-Deadline``): the provider stores a
first create that it decides after it failed ``deadline_passed``, so once the provider
answers again after an outage past the deadline, its answer is final either way (what it
made in time, or that failure) and the payment ends; refunds carry none (a compensation
is made however late).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from cachetools import TTLCache
from prometheus_client import Counter

from common.metrics import PROVIDER_CALLS
from common.service_token import ServiceTokens
from contracts import payment as pay
from contracts.provider import (
    DEADLINE_HEADER,
    ChargeCard,
    ProviderCommand,
    RefundCharge,
    SendPayout,
)

log = logging.getLogger("paystream.provider")

RETRIED = Counter(
    "paystream_provider_calls_retried_total",
    "Provider creates whose outcome was unknown (timeout, 5xx, lost connection) and that "
    "were asked about and sent again",
    ["kind"],
)
# what each command can end in; their series exist from the start (at 0), so the first
# call is a rise that rate() sees, not a series born at 1
OUTCOMES = {
    ChargeCard: ("ChargeSucceeded", "ChargePending", "ChargeFailed", "error"),
    RefundCharge: ("ChargeRefunded", "error"),
    SendPayout: ("PayoutSucceeded", "PayoutFailed", "error"),
}
PATHS = {
    ChargeCard: "/internal/charges",
    RefundCharge: "/internal/refunds",
    SendPayout: "/internal/payouts",
}
UNKNOWN_OUTCOME = frozenset({401, 408, 425, 429})  # besides 5xx: try again after asking


@dataclass(frozen=True, slots=True)
class Method:
    """A payment method as the provider describes it to the money services."""

    id: str
    type: str  # "card" or "bank_account"
    currencies: tuple[str, ...]
    max_amount: int


def declare_provider_metrics() -> None:
    """Create every (command, outcome) series of ``paystream_provider_call_seconds``."""
    for command, outcomes in OUTCOMES.items():
        for outcome in outcomes:
            PROVIDER_CALLS.labels(command.__name__, outcome)


@dataclass(frozen=True, slots=True)
class Refused:
    """The provider refused the create (4xx): nothing was made."""

    code: str


class ProviderClient:
    """``method`` answers from memory for ``method_ttl_s`` after the provider described a
    method (an owner's method changes only by deletion, and a charge or payout of a method
    deleted meanwhile is refused by the provider itself, failing the payment with its
    code); the connection pool keeps as many connections as requests run at once."""

    def __init__(
        self,
        pgw_url: str,
        tokens: ServiceTokens,
        timeout_s: float = 5.0,
        max_backoff_s: float = 5.0,
        method_ttl_s: float = 30.0,
    ) -> None:
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
        self._client = httpx.AsyncClient(
            base_url=pgw_url, auth=tokens, timeout=timeout_s, limits=limits
        )
        self._max_backoff_s = max_backoff_s
        self._methods: TTLCache[tuple[str, str], Method] = TTLCache(100_000, method_ttl_s)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def method(self, method_id: str, owner_id: str) -> Method | None:
        """The owner's method, or None when it is unknown, deleted or someone else's.
        Raises ``httpx.HTTPError`` when the provider cannot answer."""
        known = self._methods.get((method_id, owner_id))
        if known is not None:
            return known
        r = await self._client.get(
            f"/internal/payment-methods/{method_id}", params={"owner_id": owner_id}
        )
        if r.status_code == 404:
            return None
        r.raise_for_status()
        body = r.json()
        method = Method(body["id"], body["type"], tuple(body["currencies"]), body["max_amount"])
        self._methods[(method_id, owner_id)] = method
        return method

    async def void(self, charge_id: str) -> str:
        """Void the charge ``charge_id`` if it is still pending (or authorized); its status
        afterwards: ``voided``, or what the provider decided first (``captured``,
        ``failed``), or ``not_found``. Raises ``httpx.HTTPError`` when it cannot answer."""
        r = await self._client.post(f"/internal/charges/{charge_id}/void")
        if r.status_code == 404:
            return "not_found"
        if r.status_code == 409:
            return str(r.json().get("charge_status", "decided"))
        r.raise_for_status()
        return str(r.json()["status"])

    async def carry(
        self, command: ProviderCommand, deadline: datetime | None = None
    ) -> pay.ProviderOutcome:
        """Make what ``command`` asks at the provider, once, by ``deadline`` (a charge or
        payout; None: no deadline); return the provider's answer (timed and counted by
        command and outcome: ``paystream_provider_call_seconds``)."""
        started = time.perf_counter()
        outcome = "error"
        try:
            answer = await self._answer(command, deadline)
            outcome = type(answer).__name__
            return answer
        finally:
            PROVIDER_CALLS.labels(type(command).__name__, outcome).observe(
                time.perf_counter() - started
            )

    async def _answer(
        self, command: ProviderCommand, deadline: datetime | None
    ) -> pay.ProviderOutcome:
        row = await self._create(command, deadline)
        base: dict[str, Any] = {
            "payment_id": command.transaction_id,
            "wallet_id": command.wallet_id,
            "amount": command.amount,
            "currency": command.currency,
        }
        match command:
            case ChargeCard():
                return _charge_outcome(row, base | {"fee": command.fee})
            case RefundCharge():
                if isinstance(row, Refused):  # cannot happen for a saga's full refund
                    raise RuntimeError(f"refund of {command.charge_id} refused: {row.code}")
                if command.payment_id:  # a card payment's refund: keyed by the payment
                    base["payment_id"] = command.payment_id
                return pay.ChargeRefunded(
                    **base,
                    fee=command.fee,
                    charge_id=command.charge_id,
                    refund_id=row["id"],
                    transaction_id=command.transaction_id if command.payment_id else "",
                )
            case SendPayout():
                if isinstance(row, Refused):
                    return pay.PayoutFailed(**base, payout_id=None, failure_reason=row.code)
                if row["status"] == "succeeded":
                    return pay.PayoutSucceeded(**base, payout_id=row["id"])
                reason = row.get("failure_reason") or "payout_failed"
                return pay.PayoutFailed(**base, payout_id=row["id"], failure_reason=reason)
        raise AssertionError(command)

    async def _create(
        self, command: ProviderCommand, deadline: datetime | None
    ) -> dict[str, Any] | Refused:
        path = PATHS[type(command)]
        body = _body(command)
        key = command.idempotency_key
        headers = {"Idempotency-Key": key}
        if deadline is not None:
            headers[DEADLINE_HEADER] = deadline.isoformat()
        backoff = 0.2
        while True:
            try:
                r = await self._client.post(path, json=body, headers=headers)
                if r.status_code in (200, 201):
                    return dict(r.json())
                if r.status_code < 500 and r.status_code not in UNKNOWN_OUTCOME:
                    return Refused(_code(r))
                reason = f"status {r.status_code}"
            except httpx.TransportError as exc:  # a timeout or a lost connection
                reason = type(exc).__name__
            RETRIED.labels(type(command).__name__).inc()
            found = await self._made(path, key)
            if found is not None:
                return found
            log.warning(
                "provider outcome unknown; sending again",
                extra={"transaction_id": command.transaction_id, "reason": reason},
            )
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self._max_backoff_s)

    async def _made(self, path: str, key: str) -> dict[str, Any] | None:
        """What the provider made with ``key``; None if nothing, or if it cannot say now."""
        try:
            r = await self._client.get(path, params={"idempotency_key": key})
        except httpx.TransportError:
            return None
        return dict(r.json()) if r.status_code == 200 else None


def _code(r: httpx.Response) -> str:
    """The refusal's problem ``code`` (a stable string the payment fails with)."""
    try:
        return str(r.json()["code"])
    except (ValueError, KeyError, TypeError):
        return f"provider_refused_{r.status_code}"


def _body(command: ProviderCommand) -> dict[str, Any]:
    """What the provider is asked to move: a charge or refund the amount and its fee (the
    card pays both, and gets both back from a full refund), a payout the amount."""
    amount = command.amount if isinstance(command, SendPayout) else command.amount + command.fee
    if isinstance(command, RefundCharge):
        return {"charge_id": command.charge_id, "amount": amount}
    return {
        "amount": amount,
        "currency": command.currency,
        "owner_id": command.owner_id,
        "payment_method_id": command.payment_method_id,
    }


def _charge_outcome(row: dict[str, Any] | Refused, base: dict[str, Any]) -> pay.ProviderOutcome:
    if isinstance(row, Refused):
        return pay.ChargeFailed(**base, charge_id=None, failure_reason=row.code)
    match row["status"]:
        case "captured" | "authorized":
            return pay.ChargeSucceeded(**base, charge_id=row["id"])
        case "pending":
            return pay.ChargePending(**base, charge_id=row["id"])
        case "voided":  # a card payment cancelled while its charge was pending
            return pay.ChargeVoided(**base, charge_id=row["id"])
    reason = row.get("failure_reason") or "charge_failed"
    return pay.ChargeFailed(**base, charge_id=row["id"], failure_reason=reason)
