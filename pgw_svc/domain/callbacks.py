"""Deciding a pending charge and retrying its callback: the rules, without the clock.

A pending charge is decided once (its later answer, `outcomes.settled`), and the decision
is reported to the money services by a signed callback that is sent until a 2xx. Between
attempts the wait doubles, from `RETRY_BASE_MS` up to `RETRY_CAP_MS`, so a receiver that
is down is not hammered and one that comes back is reached within a minute.
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


def retry_delay_ms(attempts: int) -> int:
    """How long to wait after the `attempts`-th failed delivery before the next one."""
    doublings = min(max(attempts, 1) - 1, 16)  # 500 ms * 2**16 is far past the cap
    return min(RETRY_CAP_MS, RETRY_BASE_MS * 2**doublings)
