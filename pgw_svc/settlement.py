"""The provider's background task: decide each pending charge ``pgw_async_delay_ms`` after
it was made, and report the decision with a signed callback until the receiver takes it,
refuses it for good (a 4xx but 408 and 429) or the limits are reached
(``common.retry.RetryPolicy.after_failure``); a callback given up is recorded on its row,
logged and counted (``paystream_provider_callback_attempts_total``).

It works only from rows (``callbacks_store``), so it survives restarts: a charge decided
before a crash still has its callback due. Delivery is at least once (a crash after the
POST and before ``delivered`` sends it again); the receiver dedupes by charge. The body
is ``contracts.provider.ChargeCallback``, signed with ``common.signatures`` over its exact
bytes with a fresh timestamp on every attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import msgspec

from common.metrics import PROVIDER_CALLBACK_OUTCOMES, PROVIDER_CALLBACKS
from common.retry import GiveUp, RetryPolicy, retry_after_ms
from common.signatures import HEADER, sign
from contracts.provider import ChargeCallback
from pgw_svc.callbacks_store import PgChargeCallbacks
from pgw_svc.domain import Outcome, Status, charge_status, settled

log = logging.getLogger("pgw_svc.settlement")

POLL_S = 1.0  # the longest sleep: charges made by another pgw_svc process wake nobody here
MIN_WAIT_S = 0.01
BATCH = 100


def decision(row: dict[str, Any]) -> dict[str, Any]:
    """The new columns of a pending charge: its later answer, as the provider gives it."""
    outcome = settled(Outcome(Status.PENDING))
    status = charge_status(outcome, row["capture"])
    reason = outcome.failure_reason
    return {"status": status, "failure_reason": None if reason is None else reason.value,
            "captured_amount": row["amount"] if status == "captured" else 0}  # fmt: skip


def callback_body(row: dict[str, Any]) -> bytes:
    """The JSON bytes the callback of a decided charge carries (and its signature covers)."""
    callback = ChargeCallback(
        charge_id=str(row["id"]), idempotency_key=row["idempotency_key"], status=row["status"],
        amount=row["amount"], currency=row["currency"], failure_reason=row["failure_reason"],
    )  # fmt: skip
    return msgspec.json.encode(callback)


class PendingSettlement:
    """Decides due pending charges and delivers due callbacks; ``wake()`` after a charge
    is made pending here, so its decision is timed from the row, not from a poll."""

    def __init__(
        self, store: PgChargeCallbacks, http: httpx.AsyncClient, *, url: str, secret: bytes,
        delay_ms: int, send_timeout_s: float, retry: RetryPolicy,
    ) -> None:  # fmt: skip
        self.store = store
        self.http = http
        self.url = url
        self._secret = secret
        self.delay = timedelta(milliseconds=delay_ms)
        self.send_timeout_s = send_timeout_s
        self.retry = retry
        self._wake = asyncio.Event()
        for outcome in PROVIDER_CALLBACK_OUTCOMES:  # each series from 0: a first one is a rise
            PROVIDER_CALLBACKS.labels(outcome)

    def wake(self) -> None:
        self._wake.set()

    async def step(self) -> None:
        """Decide what is due, then send what is due, each batch after batch."""
        now = datetime.now(UTC)
        while await self.store.decide(now - self.delay, now, BATCH, decision) == BATCH:
            pass
        lease = timedelta(seconds=self.send_timeout_s + 1)
        while True:
            now = datetime.now(UTC)
            claimed = await self.store.claim(now, now + lease, BATCH)
            await asyncio.gather(*(self._deliver(row) for row in claimed))
            if len(claimed) < BATCH:
                return

    async def _deliver(self, row: dict[str, Any]) -> None:
        body = callback_body(row)
        headers = {"content-type": "application/json", HEADER: sign(self._secret,
                   int(time.time()), body)}  # fmt: skip
        status: int | None = None
        retry_after: str | None = None
        try:
            response = await self.http.post(
                self.url, content=body, headers=headers, timeout=self.send_timeout_s
            )
            if response.is_success:
                await self.store.delivered(row["id"], datetime.now(UTC))
                PROVIDER_CALLBACKS.labels("delivered").inc()
                return
            status, retry_after = response.status_code, response.headers.get("retry-after")
            answer = str(status)
        except httpx.HTTPError as exc:
            answer = type(exc).__name__
        now = datetime.now(UTC)
        first_due = row["callback_first_due_at"] or now
        next_step = self.retry.after_failure(
            attempts=row["callback_attempts"], status=status,
            retry_after_ms=retry_after_ms(retry_after, now),
            age_ms=round((now - first_due).total_seconds() * 1000),
        )  # fmt: skip
        facts = {"charge_id": str(row["id"]), "attempt": row["callback_attempts"],
                 "answer": answer}  # fmt: skip
        if isinstance(next_step, GiveUp):
            PROVIDER_CALLBACKS.labels("given_up").inc()
            log.error("charge callback given up", extra=facts | {"reason": next_step.value})
            await self.store.give_up(row["id"], now, next_step.value, answer)
            return
        PROVIDER_CALLBACKS.labels("retry").inc()
        log.warning("charge callback not delivered; will retry",
                    extra=facts | {"retry_in_ms": next_step})  # fmt: skip
        await self.store.retry_at(row["id"], now + timedelta(milliseconds=next_step), answer)

    async def _idle(self) -> None:
        """Sleep until the next decision or callback is due (at most ``POLL_S``) or a wake."""
        pending, due = await self.store.next_times()
        times = [t for t in (pending and pending + self.delay, due) if t is not None]
        now = datetime.now(UTC)
        # at least a moment: a due row another process holds is skipped, not spun on
        wait = max(MIN_WAIT_S, min([POLL_S, *((t - now).total_seconds() for t in times)]))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), wait)
        self._wake.clear()

    async def run(self) -> None:
        """Loop until cancelled; a failure (Postgres away) is logged and tried again."""
        while True:
            try:
                await self.step()
                await self._idle()
            except Exception:
                log.exception("settling pending charges failed; retrying")
                await asyncio.sleep(POLL_S)
