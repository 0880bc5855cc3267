"""Deciding a pending charge and retrying its callback: the rules, without the clock.

A pending charge is decided once (its later answer, `outcomes.settled`), and the decision
is reported to the money services by a signed callback, as a real provider sends its
webhooks: an answer that may change (no answer, a 5xx, 408, 429) is tried again, the wait
doubling from `RETRY_BASE_MS` up to `RETRY_CAP_MS` (or longer when the receiver's
`Retry-After` asks), so a receiver that is down is not hammered and one that comes back is
reached within a minute; any other 4xx is the receiver's final word, and sending the same
body again would get the same, so the callback is given up at once, as it is after
`CallbackLimits.max_attempts` attempts or once it has been due for `max_age_ms`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum

from pgw_svc.domain.outcomes import Outcome, Status

RETRY_BASE_MS = 500
RETRY_CAP_MS = 60_000
RETRIED_4XX = frozenset({408, 429})  # besides every 5xx: the receiver may answer otherwise later


class GiveUp(StrEnum):
    """Why a callback is no longer sent."""

    REFUSED = "refused"  # a 4xx that sending the same body again cannot change
    ATTEMPTS_EXHAUSTED = "attempts_exhausted"
    EXPIRED = "expired"  # due for longer than max_age_ms, or asked to wait past it


@dataclass(frozen=True, slots=True, kw_only=True)
class CallbackLimits:
    """How long a callback the receiver does not take is sent at most."""

    max_attempts: int
    max_age_ms: int


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


def retry_after_ms(value: str | None, now: datetime) -> int | None:
    """The wait a ``Retry-After`` header asks for (delay-seconds or an HTTP-date, RFC 9110
    10.2.3), None when there is none or it cannot be read; a date already past is 0."""
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return int(value) * 1000
    try:
        at = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if at.tzinfo is None:  # "-0000": UTC as the HTTP-date form says
        return None
    return max(0, round((at - now).total_seconds() * 1000))


def after_failure(
    *, attempts: int, status: int | None, retry_after: int | None, age_ms: int,
    limits: CallbackLimits,
) -> int | GiveUp:  # fmt: skip
    """After the ``attempts``-th attempt failed with ``status`` (None: no answer), due for
    ``age_ms``: the wait in ms before the next attempt (at least ``retry_after`` ms when the
    receiver asked), or why the callback is given up."""
    if status is not None and 400 <= status < 500 and status not in RETRIED_4XX:
        return GiveUp.REFUSED
    if attempts >= limits.max_attempts:
        return GiveUp.ATTEMPTS_EXHAUSTED
    wait = max(retry_delay_ms(attempts), retry_after or 0)
    if age_ms + wait > limits.max_age_ms:
        return GiveUp.EXPIRED
    return wait
