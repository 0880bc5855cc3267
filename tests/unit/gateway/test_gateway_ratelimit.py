"""The window math of the rate limiter (the counting itself happens in Redis)."""

from __future__ import annotations

import pytest

from common.ratewindow import Quota
from gateway.ratelimit import decide


def test_under_the_limit_the_request_passes_with_what_is_left() -> None:
    decision = decide([Quota(limit=100, count=58, reset_ms=37_200)], window_s=60)
    assert decision.allowed
    assert decision.headers() == {
        "RateLimit-Limit": "100",
        "RateLimit-Remaining": "42",
        "RateLimit-Reset": "38",
        "RateLimit-Policy": "100;w=60",
    }


def test_the_request_that_reaches_the_limit_still_passes() -> None:
    decision = decide([Quota(limit=5, count=5, reset_ms=1000)], window_s=60)
    assert decision.allowed and decision.headers()["RateLimit-Remaining"] == "0"


def test_over_the_limit_it_is_refused_with_retry_after_the_window_end() -> None:
    decision = decide([Quota(limit=5, count=6, reset_ms=1_400)], window_s=2)
    assert not decision.allowed
    headers = decision.headers()
    assert headers["Retry-After"] == "2" and headers["RateLimit-Reset"] == "2"
    assert headers["RateLimit-Remaining"] == "0"


def test_reset_is_never_zero_seconds() -> None:
    assert Quota(limit=1, count=2, reset_ms=0).reset_s == 1


def test_the_tightest_quota_is_reported() -> None:
    ip = Quota(limit=100, count=10, reset_ms=50_000)
    user = Quota(limit=20, count=18, reset_ms=30_000)
    decision = decide([ip, user], window_s=60)
    assert decision.allowed and decision.quota == user


def test_any_exceeded_quota_refuses_and_reports_the_one_freeing_last() -> None:
    ip = Quota(limit=100, count=101, reset_ms=5_000)
    user = Quota(limit=20, count=21, reset_ms=30_000)
    other = Quota(limit=1000, count=1, reset_ms=59_000)
    decision = decide([ip, user, other], window_s=60)
    assert not decision.allowed and decision.quota == user


def test_deciding_needs_a_quota() -> None:
    with pytest.raises(ValueError):
        decide([], window_s=60)
