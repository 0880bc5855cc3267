"""``Prefer: wait`` is read one way everywhere (common.prefer)."""

from __future__ import annotations

import pytest

from common.prefer import MAX_WAIT_S, prefer_wait


@pytest.mark.parametrize(
    ("prefer", "seconds"),
    [
        ("wait=10", 10.0),
        ("respond-async, wait=3", 3.0),
        ("WAIT = 7", 7.0),
        ('wait="4"', 4.0),
        ("wait=0", 0.0),
        ("wait=300", float(MAX_WAIT_S)),
        ("wait=" + "9" * 5000, float(MAX_WAIT_S)),
    ],
)
def test_a_wait_is_read_and_capped_at_thirty_seconds(prefer: str, seconds: float) -> None:
    assert prefer_wait(prefer, default=5.0) == seconds


@pytest.mark.parametrize("prefer", [None, "", "respond-async", "wait=abc", "wait=-1", "wait=²"])
def test_no_valid_wait_means_the_callers_default(prefer: str | None) -> None:
    assert prefer_wait(prefer) == 0.0
    assert prefer_wait(prefer, default=5.0) == 5.0
