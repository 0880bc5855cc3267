"""CPU-heavy work (password hashing) run within a bound sized to the machine.

Each call runs in a thread, at most ``slots`` at once (by default one per core this
process may use); the others queue. A call that cannot start within ``max_wait_s`` is
refused with ``503 cpu_busy`` and ``Retry-After`` (problem+json, as every error): a burst
is answered at once, well before the gateway's upstream timeout, instead of queueing
past it into a 504. The refused request has changed nothing and can be sent again.
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from common.errors import Problem
from common.metrics import CPU_WORK_REFUSED
from common.settings import Settings

P = ParamSpec("P")
T = TypeVar("T")


def cores() -> int:
    """The cores this process may run on (its CPU affinity, not the whole machine's)."""
    return len(os.sched_getaffinity(0))


class CpuBound:
    """At most ``slots`` CPU-heavy calls at once; a call waits at most ``max_wait_s``."""

    def __init__(self, slots: int, max_wait_s: float, service: str = "paystream") -> None:
        if slots < 1 or max_wait_s < 0:
            raise ValueError("slots must be >= 1 and max_wait_s >= 0")
        self.slots = slots
        self.max_wait_s = max_wait_s
        self._free = asyncio.Semaphore(slots)
        self._waiting = 0
        self._mean_run_s = 0.0  # moving average of a call's run time, for Retry-After
        self._booked = 0.0  # when the last refused call was told to come back
        self._refused = CPU_WORK_REFUSED.labels(service)

    @classmethod
    def of(cls, settings: Settings) -> CpuBound:
        """The bound ``settings`` ask for (``cpu_work_slots`` 0: one slot per core)."""
        slots = settings.cpu_work_slots or cores()
        return cls(slots, settings.cpu_work_max_wait_s, settings.service_name)

    def retry_after_s(self) -> int:
        """Whole seconds a refused call should wait (at least 1). Each refusal books the
        next free share of the slots' time, so the calls of a refused burst are told to
        come back one after the other at the rate the slots serve them, not all at once
        (which would refuse most of them again)."""
        now = time.monotonic()
        self._booked = max(self._booked, now) + self._mean_run_s / self.slots
        return max(1, math.ceil(self._booked - now))

    async def run(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn(*args, **kwargs)`` in a thread once a slot is free; 503 when none frees
        up within ``max_wait_s``."""
        self._waiting += 1
        try:
            async with asyncio.timeout(self.max_wait_s):
                await self._free.acquire()
        except TimeoutError:
            self._refused.inc()
            raise Problem(
                503,
                "cpu_busy",
                "the service is busy; try again after Retry-After seconds",
                {"Retry-After": str(self.retry_after_s())},
            ) from None
        finally:
            self._waiting -= 1
        try:
            started = time.monotonic()
            result = await asyncio.to_thread(fn, *args, **kwargs)
            elapsed = time.monotonic() - started
            self._mean_run_s = (
                elapsed if not self._mean_run_s else (0.8 * self._mean_run_s + 0.2 * elapsed)
            )
            return result
        finally:
            self._free.release()
