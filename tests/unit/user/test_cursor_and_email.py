"""Email normalization."""

from __future__ import annotations

import pytest

from common.errors import Problem
from user_svc.identity import normalize_email


def test_emails_are_normalized_to_lower_case() -> None:
    assert normalize_email("Alice.Smith@Example.COM") == "alice.smith@example.com"


@pytest.mark.parametrize("raw", ["no-at-sign", "a@", "@example.com", "a b@example.com"])
def test_invalid_emails_are_422(raw: str) -> None:
    with pytest.raises(Problem) as bad:
        normalize_email(raw)
    assert (bad.value.status, bad.value.code) == (422, "invalid_email")
