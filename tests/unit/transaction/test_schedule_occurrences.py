"""A schedule's runs as the scheduler takes them, driven by a clock the test moves (no
waiting): at each pass a run is due when its occurrence has come, and the next one is
``next_after``'s. Many occurrences of an interval, a cron in a time zone, the catch-up
rule, pause and resume, ``end_at`` and ``max_runs``; the idempotency key of a run is the
schedule and its occurrence."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from infra.testing.clock import FakeClock
from transaction_svc.schedules.plan import key_of, next_after, resume_at, timing_of
from transaction_svc.schedules.timing import Timing


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@dataclass
class Schedule:
    """What the scheduler's tables hold of a schedule, moved on as its passes move it."""

    timing: Timing
    next_run_at: datetime | None
    max_runs: int | None = None
    end_at: datetime | None = None
    runs: list[tuple[datetime, datetime]] = field(default_factory=list)  # (slot, ran at)

    def run_due(self, now: datetime) -> None:
        """One pass at ``now``: the due run, if any, and the next occurrence."""
        if self.next_run_at is None or self.next_run_at > now:
            return
        slot = self.next_run_at
        self.runs.append((slot, now))
        self.next_run_at = next_after(
            self.timing, slot, now, len(self.runs), self.max_runs, self.end_at
        )


def passes(schedule: Schedule, clock: FakeClock, every: timedelta, until: datetime) -> None:
    while clock() <= until:
        schedule.run_due(clock())
        clock.advance(every)


def created(
    timing: Timing, now: datetime, max_runs: int | None = None, end_at: datetime | None = None
) -> Schedule:
    """As ``POST /schedules`` makes it at ``now``: its first run the first occurrence."""
    return Schedule(timing, timing.first_at_or_after(max(timing.start, now)), max_runs, end_at)


def test_an_hourly_interval_runs_once_at_each_of_many_occurrences() -> None:
    # given a PT1H schedule from 2027-01-01 00:00, and a scheduler passing every minute
    start = at(2027, 1, 1)
    clock = FakeClock(start - timedelta(minutes=5))
    schedule = created(timing_of("PT1H", None, "UTC", start, 60), clock())
    # when three days pass
    passes(schedule, clock, timedelta(minutes=1), start + timedelta(days=3, minutes=30))
    # then each of the 73 occurrences ran once, on time, counted from the start
    assert [slot for slot, _ in schedule.runs] == [start + timedelta(hours=n) for n in range(73)]
    assert all(ran == slot for slot, ran in schedule.runs)
    # and every run has its own key, made of the schedule and the occurrence
    keys = {key_of("s1", slot) for slot, _ in schedule.runs}
    assert len(keys) == 73 and key_of("s1", start) == "schedule:s1:2027-01-01T00:00:00+00:00"


def test_a_run_s_key_is_its_occurrence_whatever_zone_it_is_read_in() -> None:
    slot = at(2027, 3, 1, 8)
    berlin = slot.astimezone(ZoneInfo("Europe/Berlin"))
    assert key_of("s1", berlin) == key_of("s1", slot) != key_of("s1", slot + timedelta(hours=1))


def test_a_weekday_cron_in_berlin_runs_at_nine_local_across_the_spring_dst_change() -> None:
    # given "0 9 * * 1-5" in Europe/Berlin from Thursday 26 March 2026 (DST starts Sunday)
    start = at(2026, 3, 26)
    clock = FakeClock(start)
    schedule = created(timing_of(None, "0 9 * * 1-5", "Europe/Berlin", start, 60), clock())
    # when a week passes, the scheduler passing every ten minutes
    passes(schedule, clock, timedelta(minutes=10), at(2026, 4, 2, 12))
    # then it ran on Thu, Fri, Mon, Tue, Wed, Thu at 09:00 local: 08:00 UTC, then 07:00
    assert [slot for slot, _ in schedule.runs] == [
        at(2026, 3, 26, 8), at(2026, 3, 27, 8), at(2026, 3, 30, 7), at(2026, 3, 31, 7),
        at(2026, 4, 1, 7), at(2026, 4, 2, 7),
    ]  # fmt: skip


def test_occurrences_missed_while_nothing_ran_are_one_late_run_then_the_next_on_time() -> None:
    # given a PT1H schedule that ran at 10:00, and then nothing ran until 15:30
    start = at(2027, 1, 1)
    clock = FakeClock(at(2027, 1, 1, 10))
    schedule = created(timing_of("PT1H", None, "UTC", start, 60), clock())
    schedule.run_due(clock())
    clock.set(at(2027, 1, 1, 15, 30))
    # when the scheduler passes again, and on every minute until 17:00
    passes(schedule, clock, timedelta(minutes=1), at(2027, 1, 1, 17))
    # then the 11:00 slot ran once, late, for 11:00 to 15:00; then 16:00 and 17:00 on time
    assert schedule.runs == [
        (at(2027, 1, 1, 10), at(2027, 1, 1, 10)),
        (at(2027, 1, 1, 11), at(2027, 1, 1, 15, 30)),
        (at(2027, 1, 1, 16), at(2027, 1, 1, 16)),
        (at(2027, 1, 1, 17), at(2027, 1, 1, 17)),
    ]


def test_a_paused_schedule_skips_what_fell_while_paused_and_resumes_on_the_next() -> None:
    # given a P1D schedule at 09:00 that ran on 1 and 2 January, then was paused
    start = at(2027, 1, 1, 9)
    clock = FakeClock(start)
    timing = timing_of("P1D", None, "UTC", start, 60)
    schedule = created(timing, clock(), max_runs=5)
    passes(schedule, clock, timedelta(hours=1), at(2027, 1, 2, 12))
    schedule.next_run_at = None  # paused
    # when five days pass paused, and it is resumed on 7 January at 10:00
    passes(schedule, clock, timedelta(hours=1), at(2027, 1, 7, 10))
    assert len(schedule.runs) == 2
    schedule.next_run_at = resume_at(timing, clock(), len(schedule.runs), 5, None)
    passes(schedule, clock, timedelta(hours=1), at(2027, 1, 20))
    # then it runs again from 8 January, the missed days not run, until its 5 runs are done
    assert [slot.day for slot, _ in schedule.runs] == [1, 2, 8, 9, 10]
    assert schedule.next_run_at is None
    # and resuming a schedule that has no run left leaves it none (completed)
    assert resume_at(timing, clock(), 5, 5, None) is None
    assert resume_at(timing, at(2027, 2, 1), 2, None, at(2027, 1, 31)) is None


def test_end_at_and_max_runs_end_a_schedule_at_the_right_run() -> None:
    start = at(2027, 1, 1)
    # given a PT15M schedule ending at 01:00 (an occurrence: it runs), and one of 3 runs
    clock = FakeClock(start)
    ending = created(timing_of("PT15M", None, "UTC", start, 60), clock(), end_at=at(2027, 1, 1, 1))
    passes(ending, clock, timedelta(minutes=5), at(2027, 1, 1, 3))
    clock = FakeClock(start)
    counted = created(timing_of("PT15M", None, "UTC", start, 60), clock(), max_runs=3)
    passes(counted, clock, timedelta(minutes=5), at(2027, 1, 1, 3))
    # then the first ran at 00:00 to 01:00 (five runs) and the second three times, and
    # neither has a next run
    assert [s.minute + 60 * s.hour for s, _ in ending.runs] == [0, 15, 30, 45, 60]
    assert [s for s, _ in counted.runs] == [start + timedelta(minutes=15 * n) for n in range(3)]
    assert ending.next_run_at is None and counted.next_run_at is None
