"""The shared rule of failed HTTP deliveries (common.retry): which answers are tried again,
the backoff with its jitter, Retry-After, and giving up by attempts and by the horizon."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.retry import GiveUp, RetryPolicy, is_final, retry_after_ms

NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
HOUR_MS = 3_600_000
# a webhook-like policy: 10 s doubling to 1 h, half of it drawn off at random, 24 h horizon
JITTERED = RetryPolicy(base_ms=10_000, cap_ms=HOUR_MS, max_age_ms=24 * HOUR_MS, jitter=0.5)


@pytest.mark.parametrize(
    ("status", "final"),
    [(None, False), (500, False), (503, False), (408, False), (429, False), (302, False),
     (400, True), (401, True), (404, True), (410, True), (422, True)],
)  # fmt: skip
def test_only_a_4xx_but_408_and_429_is_final(status: int | None, final: bool) -> None:
    assert is_final(status) is final


@pytest.mark.parametrize(
    ("attempts", "ceiling"),
    [(1, 10_000), (2, 20_000), (3, 40_000), (9, 2_560_000), (10, HOUR_MS), (10**6, HOUR_MS)],
)
def test_the_backoff_doubles_to_the_cap_and_jitter_takes_off_up_to_half(
    attempts: int, ceiling: int
) -> None:
    # with no jitter drawn the wait is the ceiling; with the largest draw, half of it
    assert JITTERED.backoff_ms(attempts, draw=0.0) == ceiling
    assert JITTERED.backoff_ms(attempts, draw=0.999999) == pytest.approx(ceiling / 2, rel=1e-5)


def test_a_410_is_given_up_after_one_attempt_whatever_the_limits() -> None:
    step = JITTERED.after_failure(attempts=1, status=410, retry_after_ms=None, age_ms=0)
    assert step is GiveUp.REFUSED


def test_retry_after_wins_over_a_shorter_jittered_backoff() -> None:
    # given a 503 asking for 30 s after the first attempt (backoff 5 to 10 s)
    step = JITTERED.after_failure(attempts=1, status=503, retry_after_ms=30_000, age_ms=0,
                                  draw=0.9)  # fmt: skip
    assert step == 30_000
    # and a Retry-After shorter than the backoff does not shorten it
    assert JITTERED.after_failure(attempts=1, status=503, retry_after_ms=1, age_ms=0,
                                  draw=0.0) == 10_000  # fmt: skip


def test_without_an_attempt_limit_only_the_horizon_gives_up() -> None:
    # given a delivery failing again and again at draw 0.5, from its first due time
    age, attempts = 0, 0
    while True:
        attempts += 1
        step = JITTERED.after_failure(attempts=attempts, status=None, retry_after_ms=None,
                                      age_ms=age, draw=0.5)  # fmt: skip
        if isinstance(step, GiveUp):
            break
        age += step
    # then it is given up as expired, once the next wait would pass the horizon
    assert step is GiveUp.EXPIRED
    assert age <= JITTERED.max_age_ms < age + JITTERED.backoff_ms(attempts, 0.5)
    assert 35 < attempts < 45  # 45 min apart once capped: 1 h less a quarter drawn off
    assert JITTERED.give_up_at(NOW) == NOW + timedelta(hours=24)


def test_a_policy_with_a_negative_bound_or_a_jitter_past_one_is_refused() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(base_ms=-1, cap_ms=10, max_age_ms=10)
    with pytest.raises(ValueError):
        RetryPolicy(base_ms=1, cap_ms=10, max_age_ms=10, jitter=1.5)


@given(
    attempts=st.integers(min_value=1, max_value=10**6),
    status=st.one_of(st.none(), st.integers(min_value=100, max_value=599)),
    retry_after=st.one_of(st.none(), st.integers(min_value=0, max_value=10**9)),
    age_ms=st.integers(min_value=0, max_value=10**9),
    draw=st.floats(min_value=0, max_value=1, exclude_max=True),
    max_attempts=st.one_of(st.none(), st.integers(min_value=1, max_value=100)),
)
def test_a_delivery_is_never_tried_again_past_its_limits_nor_sooner_than_asked(
    attempts: int, status: int | None, retry_after: int | None, age_ms: int, draw: float,
    max_attempts: int | None,
) -> None:  # fmt: skip
    policy = RetryPolicy(base_ms=200, cap_ms=60_000, max_age_ms=HOUR_MS, jitter=0.5,
                         max_attempts=max_attempts)  # fmt: skip
    step = policy.after_failure(attempts=attempts, status=status, retry_after_ms=retry_after,
                                age_ms=age_ms, draw=draw)  # fmt: skip
    if is_final(status):
        assert step is GiveUp.REFUSED
    elif isinstance(step, GiveUp):
        exhausted = max_attempts is not None and attempts >= max_attempts
        assert step is (GiveUp.ATTEMPTS_EXHAUSTED if exhausted else GiveUp.EXPIRED)
    else:
        assert max_attempts is None or attempts < max_attempts
        assert age_ms + step <= HOUR_MS
        assert step >= max(100, retry_after or 0)  # half the base at most drawn off
        assert step >= policy.backoff_ms(attempts, draw)


def test_retry_after_is_read_as_seconds_or_an_http_date() -> None:
    assert retry_after_ms("3", NOW) == 3000
    assert retry_after_ms(" 0 ", NOW) == 0
    later = NOW + timedelta(seconds=90)
    assert retry_after_ms(later.strftime("%a, %d %b %Y %H:%M:%S GMT"), NOW) == 90_000
    assert retry_after_ms("Wed, 02 Dec 2026 02:00:00 GMT", NOW) == 0  # already past
    assert [retry_after_ms(v, NOW) for v in (None, "", "-1", "soon", "1.5")] == [None] * 5
