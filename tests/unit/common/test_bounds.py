"""Dates and integers a client sends stay inside what Python, Postgres and int64 hold."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import TypeAdapter, ValidationError

from common.bounds import INT64_MAX, Instant, Int64

INSTANT = TypeAdapter(Instant)


def test_an_instant_is_aware_and_in_utc() -> None:
    assert INSTANT.validate_python("2026-03-01T12:00:00+02:00") == datetime(
        2026, 3, 1, 10, tzinfo=UTC
    )
    assert INSTANT.validate_python("2026-03-01T12:00:00.5Z") == datetime(
        2026, 3, 1, 12, 0, 0, 500_000, tzinfo=UTC
    )


@pytest.mark.parametrize(
    "value",
    [
        "0001-01-01T00:00:00+14:00",  # before year 1 in UTC
        "9999-12-31T23:59:59-14:00",  # after 9999 in UTC
        "2026-03-01T12:00:00",  # no offset: not RFC 3339
        "2026-03-01",
        "0.5",  # not a Unix time
        0.5,
    ],
)
def test_only_an_rfc3339_instant_in_the_utc_years_1_to_9999_is_valid(value: object) -> None:
    with pytest.raises(ValidationError):
        INSTANT.validate_python(value)


def test_int64_bounds() -> None:
    assert TypeAdapter(Int64).validate_python(INT64_MAX) == INT64_MAX
    with pytest.raises(ValidationError):
        TypeAdapter(Int64).validate_python(INT64_MAX + 1)
