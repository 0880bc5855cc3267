"""The bound on CPU-heavy work: at most ``slots`` calls at once, a refusal with 503 and
Retry-After for a call that cannot start in time, nothing run for a refused call."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from common.cpu import CpuBound, cores
from common.errors import Problem
from common.settings import Settings


class Work:
    """A blocking job that records how many of its kind run at once."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.running = 0
        self.most = 0
        self.done = 0
        self._lock = threading.Lock()

    def __call__(self, value: int) -> int:
        with self._lock:
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(self.seconds)
        with self._lock:
            self.running -= 1
            self.done += 1
        return value * 2


async def test_no_more_than_slots_calls_run_at_once_and_each_returns_its_result() -> None:
    # given a bound of 2 slots with room to wait for all
    bound, work = CpuBound(2, max_wait_s=5), Work(0.05)
    # when 8 calls come together
    results = await asyncio.gather(*(bound.run(work, i) for i in range(8)))
    # then all ran, never more than 2 at once, each with its own result
    assert results == [i * 2 for i in range(8)]
    assert (work.most, work.done) == (2, 8)


async def test_a_call_that_cannot_start_in_time_is_refused_503_with_retry_after() -> None:
    # given a bound of 1 slot whose calls may wait 0.1 s, and a call that takes 0.5 s
    bound, work = CpuBound(1, max_wait_s=0.1), Work(0.5)
    first = asyncio.create_task(bound.run(work, 1))
    await asyncio.sleep(0.05)  # the first call holds the slot
    # when a second call comes
    with pytest.raises(Problem) as refused:
        await bound.run(work, 2)
    # then it is refused as busy, with a Retry-After in whole seconds, and never ran
    assert (refused.value.status, refused.value.code) == (503, "cpu_busy")
    assert int(refused.value.headers["Retry-After"]) >= 1
    assert await first == 2
    assert work.done == 1


async def test_the_refused_calls_of_a_burst_are_told_to_come_back_one_after_the_other() -> None:
    # given a bound of 1 slot that has measured calls of about 0.5 s, its slot taken
    bound, work = CpuBound(1, max_wait_s=0), Work(0.5)
    await bound.run(work, 1)
    holder = asyncio.create_task(bound.run(work, 2))
    await asyncio.sleep(0.05)
    # when 6 calls are refused at once
    waits = []
    for i in range(6):
        with pytest.raises(Problem) as refused:
            await bound.run(work, i)
        waits.append(int(refused.value.headers["Retry-After"]))
    await holder
    # then their Retry-After grow with their place, at the slot's pace (0.5 s a call):
    # spread over 3 s instead of all coming back together
    assert waits == sorted(waits) and waits[0] == 1
    assert waits[-1] in (3, 4)


async def test_a_refused_call_frees_nothing_and_later_calls_run() -> None:
    # given a burst on a 1-slot bound where most calls are refused
    bound, work = CpuBound(1, max_wait_s=0.05), Work(0.1)
    outcomes = await asyncio.gather(*(bound.run(work, i) for i in range(6)), return_exceptions=True)
    served = [o for o in outcomes if not isinstance(o, BaseException)]
    refused = [o for o in outcomes if isinstance(o, Problem)]
    assert len(served) + len(refused) == 6 and refused and served
    # when the burst is over, then a retried call is served at once: no slot leaked
    assert await bound.run(work, 7) == 14
    assert work.most == 1


def test_the_bound_is_sized_to_the_machine_unless_settings_say_otherwise() -> None:
    assert CpuBound.of(Settings()).slots == cores() >= 1
    sized = CpuBound.of(Settings(cpu_work_slots=3, cpu_work_max_wait_s=0.5))
    assert (sized.slots, sized.max_wait_s) == (3, 0.5)
