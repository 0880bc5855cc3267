"""PAYSTREAM_SEED_SERVICE_CLIENTS: "client_id=secret,..." read into pairs; a bad value is
refused with a message that names no secret."""

from __future__ import annotations

import pytest

from user_svc.seeded_clients import parse_seeds

SECRET = "Zq8-secret-value-that-must-stay-hidden"


def test_pairs_are_read_and_a_secret_may_hold_equals_signs() -> None:
    value = f"transaction_svc={SECRET}, audit_svc=abc=def=ghi-0123456789 ,"
    assert parse_seeds(value) == {
        "transaction_svc": SECRET,
        "audit_svc": "abc=def=ghi-0123456789",
    }


def test_nothing_configured_seeds_nothing() -> None:
    assert parse_seeds("") == {}


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (SECRET, "entry 1 is not client_id=secret"),
        (f"a={SECRET},={SECRET}", "entry 2 is not client_id=secret"),
        ("a=", "entry 1 is not client_id=secret"),
        ("a=short-Zq8", "shorter than 16"),
        (f"a={SECRET},a={SECRET}x", "a is seeded twice"),
    ],
)
def test_a_bad_value_is_refused_without_showing_a_secret(value: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason) as refused:
        parse_seeds(value)
    assert "Zq8" not in str(refused.value)
