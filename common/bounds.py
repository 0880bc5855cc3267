"""Input types bounded to what Python, Postgres and int64 columns can all hold.

``0001-01-01T00:00:00+14:00`` parses as a datetime, yet it is before year 1 in UTC:
converting it (as asyncpg does) overflows. Every datetime a client sends, in a query or
inside a cursor, is therefore read as :data:`Instant` (RFC 3339, converted to UTC, inside
the years 1..9999), and every integer that reaches a bigint column as :data:`Int64`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


_RFC3339 = re.compile(r"\d{4}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d(\.\d{1,6})?([Zz]|[+-]\d\d:\d\d)")


def _rfc3339(value: object) -> object:
    """Only an RFC 3339 date-time (what the OpenAPI ``date-time`` format says), never a
    number read as a Unix time nor a bare date."""
    if isinstance(value, datetime) or (isinstance(value, str) and _RFC3339.fullmatch(value)):
        return value
    raise ValueError("expected an RFC 3339 date-time such as 2026-01-31T12:00:00Z")


def _in_utc(value: datetime) -> datetime:
    """The same instant in UTC (a naive value is taken as UTC); out of range -> error."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("the date is out of range (years 1 to 9999 in UTC)") from None


Instant = Annotated[datetime, BeforeValidator(_rfc3339), AfterValidator(_in_utc)]
Int64 = Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX)]
