"""Deciding a pending charge and how its callback is retried: the rules, without the clock.

A pending charge is decided once (its later answer, `outcomes.settled`), and the decision
is reported to the money services by a signed callback, as a real provider sends its
webhooks, on the shared delivery rule (`common.retry.RetryPolicy`: what is tried again,
what is given up): the wait doubles from `RETRY_BASE_MS` up to `RETRY_CAP_MS` without
jitter (or is longer when the receiver's `Retry-After` asks), so a receiver that is down
is not hammered and one that comes back is reached within a minute.
"""

from __future__ import annotations

from pgw_svc.domain.outcomes import Outcome, Status

RETRY_BASE_MS = 500
RETRY_CAP_MS = 60_000


def charge_status(outcome: Outcome, capture: bool) -> str:
    """A charge's status for the provider's answer: a success is `captured`, or
    `authorized` when the caller asked not to capture; otherwise the answer's status."""
    if outcome.status is Status.SUCCEEDED:
        return "captured" if capture else "authorized"
    return outcome.status.value
