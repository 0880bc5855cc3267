"""Times on the wire: int epoch milliseconds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_ms(now: int | datetime) -> int:
    """Epoch milliseconds of `now` (an int epoch ms, or an aware datetime)."""
    if isinstance(now, datetime):
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        return (now - _EPOCH) // timedelta(milliseconds=1)
    return now
