"""When a schedule's runs fall: an ISO 8601 interval or a cron expression, in a time zone.

Pure (no clock: "now" is passed in). An interval's occurrences are counted from the
start (``start + n * interval``), never chained from the previous run, so ``P1M`` from
31 January falls on 28 (or 29) February and then on 31 March. Intervals of whole days,
months or years keep the wall-clock time in the schedule's time zone across a DST
change; shorter ones (``PT1H``) are exact elapsed time. A cron expression is evaluated
in the schedule's time zone (cronsim's DST rules).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeAlias
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import isodate
from cronsim import CronSim, CronSimError

from common.errors import Problem

DAY = timedelta(days=1)
Step: TypeAlias = timedelta | isodate.Duration


@dataclass(frozen=True, slots=True)
class Timing:
    """How a schedule recurs: exactly one of ``interval`` and ``cron``, from ``start``."""

    start: datetime  # aware
    zone: ZoneInfo
    interval: Step | None = None
    cron: str | None = None

    def first_at_or_after(self, t: datetime) -> datetime | None:
        """The first occurrence at or after ``t`` (UTC), or None if there is none (not
        even before the end of year 9999)."""
        try:
            return self._first_at_or_after(max(t, self.start))
        except (OverflowError, ValueError, StopIteration):
            return None

    def _first_at_or_after(self, t: datetime) -> datetime | None:
        if self.cron is not None:
            return _cron_from(self.cron, self.zone, t)
        assert self.interval is not None
        n = _count_below(self.interval, t - self.start)
        while True:
            at = self._nth(n)
            if at >= t:
                return at
            n += 1

    def _nth(self, n: int) -> datetime:
        step = self.interval
        assert step is not None
        if _calendar(step):  # wall clock in the zone
            local = self.start.astimezone(self.zone).replace(tzinfo=None) + n * step
            return local.replace(tzinfo=self.zone).astimezone(UTC)
        return (self.start + n * step).astimezone(UTC)


def _calendar(step: Step) -> bool:
    if isinstance(step, isodate.Duration):
        return True
    return step % DAY == timedelta(0)


def _count_below(step: Step, elapsed: timedelta) -> int:
    """A number of steps that surely ends at or before ``elapsed`` from the start (a
    month counted as 31 days, a year as 366), to start the search near the answer."""
    if elapsed <= timedelta(0):
        return 0
    if isinstance(step, isodate.Duration):
        longest = step.tdelta + timedelta(days=31 * int(step.months) + 366 * int(step.years))
    else:
        longest = step
    return max(0, elapsed // longest - 1)


def _cron_from(expr: str, zone: ZoneInfo, t: datetime) -> datetime | None:
    # cronsim yields matches strictly after its start and works to the minute
    it = CronSim(expr, t.astimezone(zone) - timedelta(minutes=1))
    for at in it:
        if at >= t:
            return at.astimezone(UTC)
    return None


def zone_of(name: str) -> ZoneInfo:
    """An IANA time zone; 422 ``unknown_timezone`` otherwise."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise Problem(422, "unknown_timezone", f"{name!r} is not an IANA time zone") from None


def interval_of(text: str, minimum_s: float) -> Step:
    """A positive ISO 8601 duration (``PT1M``, ``P1D``, ``P1M``) no shorter than
    ``minimum_s`` seconds; 422 ``invalid_interval`` or ``interval_too_short``."""
    start = datetime(2000, 1, 1, tzinfo=UTC)
    try:
        step = isodate.parse_duration(text)
        length = (start + step) - start  # fractional months or years, or past year 9999: none
    except (isodate.ISO8601Error, ValueError, OverflowError):
        raise Problem(422, "invalid_interval", f"{text!r} is not an ISO 8601 duration") from None
    if length <= timedelta(0):
        raise Problem(422, "invalid_interval", "the interval must be longer than zero")
    if length < timedelta(seconds=minimum_s):
        raise Problem(
            422,
            "interval_too_short",
            f"the interval must be at least {minimum_s:g} s",
            minimum_s=minimum_s,
        )
    return step


def cron_of(expr: str) -> str:
    """A five-field cron expression cronsim accepts; 422 ``invalid_cron`` otherwise."""
    try:
        CronSim(expr, datetime(2000, 1, 1, tzinfo=UTC))
    except CronSimError as exc:
        raise Problem(422, "invalid_cron", f"{expr!r} is not a cron expression: {exc}") from None
    return expr
