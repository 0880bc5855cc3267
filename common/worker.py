"""Background workers (decider, projectors, sagas) as processes with probes and metrics.

A worker is an object with ``async run()`` (loops until cancelled) and optional
``checks`` for readiness. It runs inside a small app that serves ``/health``, ``/ready``
and ``/metrics`` on the worker's own port, so Prometheus scrapes it like any service and
the launcher can wait for it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Protocol

from fastapi import FastAPI

from common.app import build_app
from common.health import ReadyCheck
from common.settings import Settings

log = logging.getLogger("paystream.worker")


class Worker(Protocol):
    checks: dict[str, ReadyCheck]

    async def start(self) -> None: ...

    async def run(self) -> None: ...

    async def stop(self) -> None: ...


def worker_app(settings: Settings, factory: Callable[[Settings], Awaitable[Worker]]) -> FastAPI:
    """An app whose lifespan starts the worker and cancels it on shutdown.

    If the worker's loop dies, the process exits non-zero: a supervisor restarts it, and
    the restarted worker resumes from its committed offsets.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        worker = await factory(settings)
        await worker.start()
        app.state.ready_checks.update(worker.checks)
        task = asyncio.create_task(worker.run(), name=settings.service_name)

        def crashed(t: asyncio.Task[None]) -> None:
            if not t.cancelled() and t.exception() is not None:
                log.error("worker crashed", exc_info=t.exception())
                import os

                os._exit(70)

        task.add_done_callback(crashed)
        try:
            yield
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await worker.stop()

    return build_app(settings.service_name, lifespan=lifespan)
