"""When a failed webhook delivery is tried again: exponential backoff with jitter, up to a
horizon. Pure (the random draw and the clock are passed in), so the schedule is tested
without waiting; the worker stores the next time with the delivery, so retries survive a
restart (an in-process retry helper such as tenacity's waits would not)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from transaction_svc.settings import TransactionSettings


@dataclass(frozen=True, slots=True)
class RetrySchedule:
    """The delay before attempt ``n + 1`` after ``n`` failed ones is
    ``min(cap, base * 2 ** (n - 1))``, scaled by a jitter factor in ``[1 - jitter, 1]``,
    so endpoints that failed together are not all retried at the same instant."""

    base_s: float
    cap_s: float
    horizon_s: float
    jitter: float = 0.5

    @classmethod
    def of(cls, settings: TransactionSettings) -> RetrySchedule:
        return cls(
            base_s=settings.webhook_retry_base_s,
            cap_s=settings.webhook_retry_max_s,
            horizon_s=settings.webhook_retry_horizon_s,
        )

    def delay(self, failed_attempts: int, draw: float) -> float:
        """Seconds to wait after ``failed_attempts`` (>= 1) failures; ``draw`` in [0, 1)."""
        exponent = min(max(failed_attempts - 1, 0), 62)  # 2**62 s is past any cap
        ceiling = min(self.cap_s, self.base_s * 2.0**exponent)
        return ceiling * (1.0 - self.jitter * draw)

    def next_attempt(
        self, failed_attempts: int, now: datetime, give_up_at: datetime, draw: float
    ) -> datetime | None:
        """When to try again, or None when that would be past ``give_up_at``: given up."""
        at = now + timedelta(seconds=self.delay(failed_attempts, draw))
        return at if at <= give_up_at else None

    def give_up_at(self, start: datetime) -> datetime:
        """The horizon of a delivery (re)started at ``start``."""
        return start + timedelta(seconds=self.horizon_s)
