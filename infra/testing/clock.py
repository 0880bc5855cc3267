"""A clock that a test moves on (``common.clock.Clock``): what a scheduler reads as now,
so that a test runs a day of occurrences without waiting for one."""

from __future__ import annotations

from datetime import datetime, timedelta


class FakeClock:
    """Now is what the test set it to; it moves only when the test says."""

    def __init__(self, now: datetime) -> None:
        if now.tzinfo is None:
            raise ValueError("a clock tells aware times")
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta) -> datetime:
        self.now += by
        return self.now

    def set(self, now: datetime) -> datetime:
        self.now = now
        return self.now
