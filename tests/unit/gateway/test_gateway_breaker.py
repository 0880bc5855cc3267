"""The circuit breaker state machine, driven by a fake clock."""

from __future__ import annotations

from gateway.breaker import BreakerState, CircuitBreaker


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(
    threshold: int = 3, reset: float = 10.0
) -> tuple[CircuitBreaker, FakeClock, list[BreakerState]]:
    clock = FakeClock()
    changes: list[BreakerState] = []
    return CircuitBreaker(threshold, reset, clock=clock, on_change=changes.append), clock, changes


def test_it_opens_after_the_threshold_of_consecutive_failures() -> None:
    breaker, _, changes = make(threshold=3)
    # given two failures, the breaker still lets calls through
    for _ in range(2):
        assert breaker.allow()
        breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED and breaker.allow()
    # when the third consecutive failure comes
    breaker.record_failure()
    # then it refuses calls
    assert breaker.state is BreakerState.OPEN
    assert not breaker.allow()
    assert changes == [BreakerState.OPEN]


def test_a_success_resets_the_failure_count() -> None:
    breaker, _, _ = make(threshold=3)
    breaker.record_failure()
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED


def test_after_the_reset_timeout_one_probe_goes_through_and_its_success_closes() -> None:
    breaker, clock, changes = make(threshold=1, reset=10.0)
    breaker.record_failure()
    clock.now += 9.5
    assert not breaker.allow()
    assert breaker.retry_after() == 0.5
    # when the reset timeout has passed
    clock.now += 0.5
    assert breaker.state is BreakerState.HALF_OPEN
    # then exactly one probe is let through
    assert breaker.allow()
    assert not breaker.allow()
    # and its success closes the breaker for everybody
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED
    assert breaker.allow() and breaker.allow()
    assert changes == [BreakerState.OPEN, BreakerState.HALF_OPEN, BreakerState.CLOSED]


def test_a_failed_probe_opens_it_again_for_a_full_timeout() -> None:
    breaker, clock, _ = make(threshold=2, reset=10.0)
    breaker.record_failure()
    breaker.record_failure()
    clock.now += 10
    assert breaker.allow()
    # when the probe fails (a single failure suffices in half-open)
    breaker.record_failure()
    # then the breaker is open again, counted from now
    assert breaker.state is BreakerState.OPEN
    assert breaker.retry_after() == 10.0
    clock.now += 9.9
    assert not breaker.allow()


def test_a_probe_without_outcome_frees_the_slot_for_the_next() -> None:
    breaker, clock, _ = make(threshold=1, reset=1.0)
    breaker.record_failure()
    clock.now += 1
    assert breaker.allow()
    # when the probe's client went away before an answer
    breaker.release()
    # then another request may probe
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.allow()
