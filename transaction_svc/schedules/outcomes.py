"""What the scheduler tells of runs once their outcome is known (docs/schedules.md).

A run's outcome is known when it was refused at submission or its transaction ended.
Each such run is settled once, in the scheduler's pass: counted in its schedule's
failures in a row (``store.settle``, which pauses the schedule at
``schedule_pause_after_failures``), and, if it failed, told to the owner as
``ScheduledRunFailed``, with ``SchedulePaused`` when it paused the schedule. The messages
are sent to ``transaction-events`` and acknowledged before the settle commits, with
envelope ids derived from the schedule and the run: a crash in between sends them
again as the same messages, which notification_worker tells once.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Any

from common.kafka.producer import send_envelopes
from common.topics import TRANSACTION_EVENTS
from contracts.envelope import Envelope
from contracts.message import Message
from contracts.schedule import ScheduledRunFailed, SchedulePaused
from contracts.time import epoch_ms
from transaction_svc.deps import TransactionApp
from transaction_svc.outbound import PRODUCER
from transaction_svc.schedules import store

log = logging.getLogger(__name__)
EVENT_IDS = uuid.UUID("3b8f6c0e-5d1a-4f7e-9c2b-7a4e1d0f6b93")  # namespace of their ids


def told(run: Any, failures: int, paused: bool) -> list[Message]:
    """What the owner hears of a settled ``run``: nothing if it moved money; its failure,
    and the pause if it paused the schedule, if not."""
    if not run.failed:
        return []
    what = {"schedule_id": run.schedule_id, "owner_id": run.owner_id, "kind": run.kind,
            "run": run.run, "amount": run.body["amount"], "currency": run.body["currency"],
            "reason": run.reason}  # fmt: skip
    messages: list[Message] = [
        ScheduledRunFailed(
            **what, occurrence=epoch_ms(run.at), transaction_id=run.transaction_id or ""
        )
    ]
    if paused:
        messages.append(SchedulePaused(**what, failures=failures))
    return messages


def envelope_of(message: Message, schedule_id: str, run: int) -> Envelope:
    """The message keyed by its schedule, its id the same every time it is sent."""
    event_id = uuid.uuid5(EVENT_IDS, f"{schedule_id}:{run}:{type(message).__name__}")
    return Envelope.of(
        message, key=f"schedule:{schedule_id}", producer=PRODUCER, event_id=str(event_id)
    )


async def settle_ended(state: TransactionApp, now: datetime, batch: int) -> int:
    """Settle up to ``batch`` runs whose outcome is known; how many."""
    most = state.settings.schedule_pause_after_failures
    async with state.engine.begin() as conn:
        runs = await store.ended_runs(conn, batch)
        out: list[tuple[str, Envelope]] = []
        for run in runs:
            failures, paused = await store.settle(conn, run, most, now)
            if paused:
                extra = {"schedule_id": run.schedule_id, "failures": failures}
                log.info("schedule paused after failures", extra=extra)
            out += [
                (TRANSACTION_EVENTS, envelope_of(m, run.schedule_id, run.run))
                for m in told(run, failures, paused)
            ]
        if out:
            await send_envelopes(state.producer, out)
    return len(runs)
