"""The time as a parameter: code that reads the clock takes a ``Clock`` (the real one by
default), so that its tests move time on instead of waiting for it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]  # an aware datetime: now


def utc_now() -> datetime:
    """The real clock, in UTC."""
    return datetime.now(UTC)
