"""The scheduler: starts each due run of every active schedule, exactly once.

Each pass claims due schedules (``store.claim_due``: ``FOR UPDATE SKIP LOCKED``, so two
schedulers never hold the same one) and, for each, submits the run through the money
POST's own path (``MoneyPost.answer``) as the schedule's owner, with the Idempotency-Key
``schedule:<id>:<occurrence>``; then records the run and the next occurrence in the same
database transaction that holds the lock. A crash after the submit and before that
commit leaves the row as it was: the next pass submits the same run again, under the
same key, and the transaction's idempotency answers with the first one (appending it
again if it never reached Kafka). A run refused as a direct request would be
(``Problem``: a wallet gone, a limit) is recorded failed with its code, and the schedule
goes on; a transfer refused later by the ledger (insufficient funds) shows ``failed`` in
its run through its transaction. Each pass first settles the runs whose outcome became
known (``outcomes``): a failure is told to the owner, and the
``schedule_pause_after_failures``-th in a row pauses the schedule.

Now is read from a ``Clock`` (the real one unless a test passes its own); when runs fall
is pure code that takes it (``plan``, ``timing``).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from common.auth import Principal
from common.clock import Clock, utc_now
from common.errors import Problem
from common.idempotency import MoneyHeaders
from common.trace import child_traceparent
from transaction_svc.api import Caller
from transaction_svc.deps import TransactionApp
from transaction_svc.schedules import store
from transaction_svc.schedules.outcomes import settle_ended
from transaction_svc.schedules.plan import POSTS, key_of, next_after, request_of, timing_of

log = logging.getLogger(__name__)


class Scheduler:
    """Runs due schedules with the command API's own state (``TransactionApp``)."""

    def __init__(self, state: TransactionApp, batch: int = 50, clock: Clock = utc_now) -> None:
        self.state = state
        self.batch = batch
        self.clock = clock

    async def run_due(self) -> int:
        """One pass: every schedule due now (up to ``batch``) run once; how many."""
        now = self.clock()
        async with self.state.engine.begin() as conn:
            due = await store.claim_due(conn, now, self.batch)
            for row in due:
                await self._run(conn, row, now)
        return len(due)

    async def settle(self) -> int:
        """Settle the runs whose outcome is known (up to ``batch``); how many."""
        return await settle_ended(self.state, self.clock(), self.batch)

    async def _run(self, conn: AsyncConnection, row: Any, now: datetime) -> None:
        run = row.runs + 1
        key = key_of(row.id, row.next_run_at)
        principal = Principal(
            subject=row.owner_id, role=row.owner_role, email_verified=row.owner_email_verified
        )
        caller = Caller(principal, key, child_traceparent(None), None)
        headers = MoneyHeaders.model_validate({"idempotency-key": key})
        transaction_id, error = None, None
        try:
            body = request_of(row.kind, row.body, run)
            answer = await POSTS[row.kind].answer(self.state, caller, body, headers)
            transaction_id = answer.body["id"]
        except Problem as exc:
            error = exc.code
        timing = timing_of(row.interval, row.cron, row.timezone, row.start_at, 0)
        upcoming = next_after(timing, row.next_run_at, now, run, row.max_runs, row.end_at)
        done = {"schedule_id": row.id, "run": run, "at": row.next_run_at}
        done |= {"transaction_id": transaction_id, "error": error}
        await store.record_run(conn, done, upcoming, now)
        log.info(
            "schedule run",
            extra={"schedule_id": row.id, "run": run, "transaction_id": transaction_id,
                   "error": error},
        )  # fmt: skip

    async def run_forever(self, poll_s: float) -> None:
        """Pass after pass (settle, then run what is due); a full batch is followed at once
        by the next, otherwise the next pass waits ``poll_s``. A pass that fails (Kafka or
        Postgres away) is retried."""
        while True:
            try:
                settled = await self.settle()
                ran = await self.run_due()
            except Exception:
                log.exception("scheduler pass failed")
                settled = ran = 0
            if ran < self.batch and settled < self.batch:
                await asyncio.sleep(poll_s)
