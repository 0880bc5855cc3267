"""The retry schedule of webhook deliveries: exponential, capped, jittered, bounded by a
horizon."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from transaction_svc.settings import TransactionSettings
from transaction_svc.webhooks.schedule import RetrySchedule

SCHEDULE = RetrySchedule(base_s=10, cap_s=3600, horizon_s=86400)
T0 = datetime(2026, 12, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("failures", "ceiling"),
    [(1, 10), (2, 20), (3, 40), (4, 80), (9, 2560), (10, 3600), (11, 3600), (500, 3600)],
)
def test_the_delay_doubles_per_failure_up_to_the_cap(failures: int, ceiling: float) -> None:
    # with no jitter drawn the delay is the ceiling; with the largest draw, half of it
    assert SCHEDULE.delay(failures, 0.0) == ceiling
    assert SCHEDULE.delay(failures, 0.999999) == pytest.approx(ceiling / 2, rel=1e-5)


@given(failures=st.integers(1, 10_000), draw=st.floats(0, 1, exclude_max=True))
def test_every_delay_is_between_half_the_ceiling_and_it(failures: int, draw: float) -> None:
    ceiling = min(3600, 10 * 2 ** min(failures - 1, 62))
    assert ceiling / 2 <= SCHEDULE.delay(failures, draw) <= ceiling


def test_retries_stop_at_the_horizon() -> None:
    # given a delivery recorded at T0 with the default 24 h horizon
    give_up_at = SCHEDULE.give_up_at(T0)
    assert give_up_at == T0 + timedelta(hours=24)
    # when it keeps failing, each retry is scheduled after the one before, until a retry
    # would fall past the horizon: then it is given up
    now, failures, times = T0, 0, []
    while True:
        failures += 1
        at = SCHEDULE.next_attempt(failures, now, give_up_at, draw=0.5)
        if at is None:
            break
        assert at > now
        times.append(at)
        now = at
    assert times[-1] <= give_up_at
    assert now + timedelta(seconds=SCHEDULE.delay(failures, 0.5)) > give_up_at
    assert 25 < len(times) < 40  # about an hour apart once capped


def test_the_schedule_comes_from_the_settings() -> None:
    settings = TransactionSettings(
        webhook_retry_base_s=0.5, webhook_retry_max_s=4, webhook_retry_horizon_s=60
    )
    assert RetrySchedule.of(settings) == RetrySchedule(base_s=0.5, cap_s=4, horizon_s=60)
    assert TransactionSettings().webhook_retry_horizon_s == 86400  # 24 h by default
