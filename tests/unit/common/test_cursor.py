"""One cursor encoding and one error for every list (common.cursor)."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime

import pytest
from pydantic import TypeAdapter

from common.bounds import Instant, Int64
from common.cursor import decode_cursor, encode_cursor
from common.errors import Problem

ENTRY = TypeAdapter(tuple[Instant, Int64])


def _forged(json_text: str) -> str:
    return base64.urlsafe_b64encode(json_text.encode()).decode().rstrip("=")


def test_a_cursor_round_trips_its_sort_key() -> None:
    at = datetime(2026, 1, 2, 3, 4, 5, 678, tzinfo=UTC)
    assert decode_cursor(encode_cursor([at, 42]), ENTRY) == (at, 42)
    user = uuid.uuid4()
    assert decode_cursor(encode_cursor(str(user)), TypeAdapter(uuid.UUID)) == user


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor!!",
        encode_cursor({"a": 1}),
        encode_cursor(["2026-01-01T00:00:00+00:00"]),
        encode_cursor(["0001-01-01T00:00:00+14:00", 1]),
        encode_cursor(["9999-12-31T23:59:59-14:00", 1]),
        _forged('["2026-01-01T00:00:00+00:00", 9223372036854775808]'),
        _forged('["2026-01-01T00:00:00+00:00", -9223372036854775809]'),
        _forged('["2026-01-01T00:00:00+00:00", 1e400]'),
        "A" * 600,
    ],
)
def test_a_cursor_this_api_did_not_give_out_is_a_400(cursor: str) -> None:
    with pytest.raises(Problem) as bad:
        decode_cursor(cursor, ENTRY)
    assert (bad.value.status, bad.value.code) == (400, "invalid_cursor")
