"""Input types bounded to what Python, Postgres and int64 columns can all hold.

``0001-01-01T00:00:00+14:00`` parses as a datetime, yet it is before year 1 in UTC:
converting it (as asyncpg does) overflows. Every datetime a client sends, in a query or
inside a cursor, is therefore read as :data:`Instant` (aware, converted to UTC, inside
the years 1..9999), and every integer that reaches a bigint column as :data:`Int64`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, Field

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


def _in_utc(value: datetime) -> datetime:
    """The same instant in UTC (a naive value is taken as UTC); out of range -> error."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("the date is out of range (years 1 to 9999 in UTC)") from None


Instant = Annotated[datetime, AfterValidator(_in_utc)]
Int64 = Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX)]
