"""Admin page cursors and email normalization."""

from __future__ import annotations

import pytest

from common.errors import Problem
from contracts.ids import uuid7
from user_svc.accounts import decode_cursor, encode_cursor
from user_svc.identity import normalize_email


def test_a_cursor_round_trips_to_the_same_user_id() -> None:
    user_id = uuid7()
    assert decode_cursor(encode_cursor(user_id)) == user_id


def test_a_garbage_cursor_is_a_400() -> None:
    with pytest.raises(Problem) as bad:
        decode_cursor("not-a-cursor!!")
    assert (bad.value.status, bad.value.code) == (400, "invalid_cursor")


def test_emails_are_normalized_to_lower_case() -> None:
    assert normalize_email("Alice.Smith@Example.COM") == "alice.smith@example.com"


@pytest.mark.parametrize("raw", ["no-at-sign", "a@", "@example.com", "a b@example.com"])
def test_invalid_emails_are_422(raw: str) -> None:
    with pytest.raises(Problem) as bad:
        normalize_email(raw)
    assert (bad.value.status, bad.value.code) == (422, "invalid_email")
