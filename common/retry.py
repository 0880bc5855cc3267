"""When a failed HTTP delivery is sent again, and when it is given up: one rule for the
provider's signed callbacks (``pgw_svc.settlement``) and merchants' webhooks
(``transaction_svc.webhooks.worker``).

An answer that may change (no answer, a 5xx, 408, 429, or a 1xx/3xx: redirects are not
followed) is tried again after a backoff that doubles from ``base_ms`` up to ``cap_ms``,
less a random share of up to ``jitter`` (so receivers that failed together are not all
retried at one instant), or later when the receiver's ``Retry-After`` asks. Any other 4xx
is the receiver's final word: sending the same body again would get the same, so the
delivery is given up at once, as it is after ``max_attempts`` attempts or when the next
attempt would come more than ``max_age_ms`` after it was first due. Pure: the clock's
reading and the random draw are passed in, and the callers store the next time with the
delivery, so retries survive a restart (an in-process retry helper's waits would not).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from enum import StrEnum

RETRIED_4XX = frozenset({408, 429})  # besides every 5xx: the receiver may answer otherwise later
MAX_DOUBLINGS = 62  # base * 2**62 is far past any cap


class GiveUp(StrEnum):
    """Why a delivery is no longer sent."""

    REFUSED = "refused"  # a 4xx that sending the same body again cannot change
    ATTEMPTS_EXHAUSTED = "attempts_exhausted"
    EXPIRED = "expired"  # due for longer than max_age_ms, or asked to wait past it


def is_final(status: int | None) -> bool:
    """Whether ``status`` (None: no answer) is the receiver's final word: a 4xx but 408, 429."""
    return status is not None and 400 <= status < 500 and status not in RETRIED_4XX


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


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """The backoff (``base_ms`` doubling to ``cap_ms``, scaled by ``1 - jitter * draw``)
    and the limits (``max_attempts``, None for none; ``max_age_ms`` from the first due
    time: the horizon) of one kind of delivery."""

    base_ms: int
    cap_ms: int
    max_age_ms: int
    max_attempts: int | None = None
    jitter: float = 0.0

    def __post_init__(self) -> None:
        if min(self.base_ms, self.cap_ms, self.max_age_ms) < 0 or not 0 <= self.jitter <= 1:
            raise ValueError(f"not a retry policy: {self}")

    def backoff_ms(self, attempts: int, draw: float = 0.0) -> int:
        """The wait after the ``attempts``-th failed attempt; ``draw`` in [0, 1)."""
        doublings = min(max(attempts, 1) - 1, MAX_DOUBLINGS)
        ceiling = min(self.cap_ms, self.base_ms * 2**doublings)
        return round(ceiling * (1.0 - self.jitter * draw))

    def give_up_at(self, first_due: datetime) -> datetime:
        """The horizon of a delivery first due (or sent again) at ``first_due``."""
        return first_due + timedelta(milliseconds=self.max_age_ms)

    def after_failure(
        self, *, attempts: int, status: int | None, retry_after_ms: int | None, age_ms: int,
        draw: float = 0.0,
    ) -> int | GiveUp:  # fmt: skip
        """After the ``attempts``-th attempt failed with ``status`` (None: no answer), due
        for ``age_ms``: the wait in ms before the next attempt (at least ``retry_after_ms``
        when the receiver asked), or why the delivery is given up."""
        if is_final(status):
            return GiveUp.REFUSED
        if self.max_attempts is not None and attempts >= self.max_attempts:
            return GiveUp.ATTEMPTS_EXHAUSTED
        wait = max(self.backoff_ms(attempts, draw), retry_after_ms or 0)
        if age_ms + wait > self.max_age_ms:
            return GiveUp.EXPIRED
        return wait
