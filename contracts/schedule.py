"""Public schedule messages on `transaction-events` (key `schedule:<schedule_id>`): what
the scheduler tells of a schedule's runs (docs/schedules.md), for its owner to hear.

`occurrence` is the run's occurrence time, epoch ms. Each message's envelope id is
derived from the schedule and the run, so one sent again is the same message.
"""

from __future__ import annotations

from contracts.message import Message


class ScheduledRunFailed(Message, frozen=True):
    """Run `run` of the `kind` (transfer or payment) schedule `schedule_id` of `owner_id`
    moved nothing: it was refused when submitted (`reason` the problem code,
    `transaction_id` empty), or its transaction failed or was reversed (`reason` the
    transaction's failure reason, e.g. `insufficient_funds`, `wallet_frozen`)."""

    schedule_id: str
    owner_id: str
    kind: str
    run: int
    occurrence: int
    amount: int
    currency: str
    reason: str
    transaction_id: str = ""


class SchedulePaused(Message, frozen=True):
    """The schedule paused itself: its last `failures` runs failed in a row, the last
    (`run`) for `reason`. It runs again only when its owner resumes it."""

    schedule_id: str
    owner_id: str
    kind: str
    run: int
    failures: int
    amount: int
    currency: str
    reason: str
