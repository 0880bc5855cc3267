"""When a schedule's runs fall: ISO 8601 intervals (month ends), cron in a time zone
across DST, the catch-up rule, and the 422s of a recurrence that is not one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from common.errors import Problem
from transaction_svc.schedules.plan import next_after, timing_of
from transaction_svc.schedules.timing import Timing

UTC_ = "UTC"


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def occurrences(timing: Timing, after: datetime, n: int) -> list[datetime]:
    found, t = [], after
    for _ in range(n):
        nxt = timing.first_at_or_after(t)
        assert nxt is not None
        found.append(nxt)
        t = nxt + timedelta(microseconds=1)
    return found


def test_p1m_from_a_month_end_falls_on_each_months_last_day_not_drifting() -> None:
    timing = timing_of("P1M", None, UTC_, at(2027, 1, 31, 9), 60)
    got = occurrences(timing, at(2027, 1, 31, 9), 4)
    assert got == [at(2027, 1, 31, 9), at(2027, 2, 28, 9), at(2027, 3, 31, 9), at(2027, 4, 30, 9)]


def test_p1m_in_a_leap_year_falls_on_29_february() -> None:
    timing = timing_of("P1M", None, UTC_, at(2028, 1, 31), 60)
    assert timing.first_at_or_after(at(2028, 2, 1)) == at(2028, 2, 29)


def test_a_short_interval_counts_from_the_start_over_many_occurrences() -> None:
    timing = timing_of("PT1M", None, UTC_, at(2027, 1, 1), 60)
    assert timing.first_at_or_after(at(2027, 1, 1, 10, 0, 30)) == at(2027, 1, 1, 10, 1)
    assert timing.first_at_or_after(at(2027, 3, 5, 7, 59)) == at(2027, 3, 5, 7, 59)


def test_p1d_keeps_the_local_time_across_the_spring_dst_change() -> None:
    # Berlin: 09:00 CET is 08:00 UTC; after 29 March 2026 09:00 CEST is 07:00 UTC
    timing = timing_of("P1D", None, "Europe/Berlin", at(2026, 3, 28, 8), 60)
    assert occurrences(timing, at(2026, 3, 28, 8), 2) == [at(2026, 3, 28, 8), at(2026, 3, 29, 7)]


def test_cron_runs_at_local_time_in_its_zone_across_both_dst_changes() -> None:
    timing = timing_of(None, "30 9 * * *", "America/New_York", at(2026, 3, 7), 60)
    # 09:30 EST = 14:30 UTC; from 8 March (DST) 09:30 EDT = 13:30 UTC
    assert occurrences(timing, at(2026, 3, 7), 2) == [
        at(2026, 3, 7, 14, 30),
        at(2026, 3, 8, 13, 30),
    ]
    fall = timing.first_at_or_after(at(2026, 11, 1, 12))
    assert fall == at(2026, 11, 1, 14, 30)


def test_cron_never_runs_before_the_start() -> None:
    timing = timing_of(None, "0 * * * *", UTC_, at(2027, 1, 1, 10, 30), 60)
    assert timing.first_at_or_after(at(2027, 1, 1)) == at(2027, 1, 1, 11)


def test_catch_up_runs_a_missed_stretch_once_then_the_next_future_occurrence() -> None:
    timing = timing_of("PT1M", None, UTC_, at(2027, 1, 1), 60)
    # the 10:00 run ran only at 10:05:30 (everything was down): 10:01..10:05 are not run
    nxt = next_after(timing, at(2027, 1, 1, 10), at(2027, 1, 1, 10, 5, 30), 1, None, None)
    assert nxt == at(2027, 1, 1, 10, 6)
    on_time = next_after(timing, at(2027, 1, 1, 10), at(2027, 1, 1, 10, 0, 0, 50), 1, None, None)
    assert on_time == at(2027, 1, 1, 10, 1)


def test_max_runs_and_end_at_end_a_schedule() -> None:
    timing = timing_of("P1D", None, UTC_, at(2027, 1, 1), 60)
    assert next_after(timing, at(2027, 1, 3), at(2027, 1, 3), 3, 3, None) is None
    assert next_after(timing, at(2027, 1, 3), at(2027, 1, 3), 3, None, at(2027, 1, 3, 12)) is None
    assert next_after(timing, at(2027, 1, 3), at(2027, 1, 3), 3, 4, at(2027, 1, 4)) == at(
        2027, 1, 4
    )


def test_no_occurrence_past_the_year_9999_is_none_not_an_error() -> None:
    last = at(9999, 12, 31, 23, 59)
    assert timing_of("P1Y", None, UTC_, at(9999, 6, 1), 60).first_at_or_after(last) is None
    every_minute = timing_of(None, "* * * * *", UTC_, last, 60)
    assert every_minute.first_at_or_after(last + timedelta(seconds=1)) is None


@pytest.mark.parametrize(
    ("interval", "cron", "zone", "code"),
    [
        ("P1X", None, UTC_, "invalid_interval"),
        ("PT0S", None, UTC_, "invalid_interval"),
        ("PT30S", None, UTC_, "interval_too_short"),
        ("P1.5M", None, UTC_, "invalid_interval"),
        ("P99999999Y", None, UTC_, "invalid_interval"),
        ("P1000000000D", None, UTC_, "invalid_interval"),
        (None, "61 * * * *", UTC_, "invalid_cron"),
        (None, "every day", UTC_, "invalid_cron"),
        ("P1D", "0 9 * * *", UTC_, "interval_or_cron"),
        (None, None, UTC_, "interval_or_cron"),
        ("P1D", None, "Mars/Olympus", "unknown_timezone"),
    ],
)
def test_a_recurrence_that_is_not_one_is_a_422_with_its_code(
    interval: str | None, cron: str | None, zone: str, code: str
) -> None:
    with pytest.raises(Problem) as caught:
        timing_of(interval, cron, zone, at(2027, 1, 1), 60)
    assert (caught.value.status, caught.value.code) == (422, code)
