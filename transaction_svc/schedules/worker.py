"""The scheduler worker (``transaction_scheduler``): a process of transaction_svc that
runs schedules' due runs (``scheduler.Scheduler``) with the command API's own state, so
each run takes the same path as a client's POST. Several may run at once: each claims
only what no other holds (docs/schedules.md)."""

from __future__ import annotations

from contextlib import AsyncExitStack

from common.health import ReadyCheck
from common.worker import serve_worker
from transaction_svc.app_state import opened_state
from transaction_svc.schedules.scheduler import Scheduler
from transaction_svc.settings import TransactionSettings


class SchedulerWorker:
    def __init__(self, settings: TransactionSettings) -> None:
        self.settings = settings
        self.checks: dict[str, ReadyCheck] = {}
        self._opened = AsyncExitStack()
        self._scheduler: Scheduler | None = None

    async def start(self) -> None:
        state, checks = await self._opened.enter_async_context(opened_state(self.settings))
        self.checks.update(checks)
        self._scheduler = Scheduler(state)

    async def run(self) -> None:
        assert self._scheduler is not None  # started
        await self._scheduler.run_forever(self.settings.scheduler_poll_s)

    async def stop(self) -> None:
        await self._opened.aclose()


if __name__ == "__main__":
    serve_worker(SchedulerWorker, TransactionSettings(service_name="transaction_scheduler"))
