"""Background workers (decider, projectors, sagas) as processes with probes and metrics.

A worker is an object with ``async run()`` (loops until cancelled) and optional
``checks`` for readiness. It runs inside a small app that serves ``/health``, ``/ready``
and ``/metrics`` on the worker's own port, so Prometheus scrapes it like any service and
the launcher can wait for it.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Protocol

from fastapi import FastAPI

from common.app import S, build_app, serve
from common.health import ReadyCheck

log = logging.getLogger("paystream.worker")


class Loop(Protocol):
    """A loop that is started, run until cancelled, and stopped (a TrackedConsumer)."""

    async def start(self) -> None: ...

    async def run(self) -> None: ...

    async def stop(self) -> None: ...


class Worker(Loop, Protocol):
    checks: dict[str, ReadyCheck]


def exit_if_crashed(task: asyncio.Task[None]) -> None:
    """A done-callback for a process's background loop: if the loop died, exit non-zero
    (a supervisor restarts the process, which resumes from its stored offsets)."""
    if not task.cancelled() and task.exception() is not None:
        log.error("worker crashed", exc_info=task.exception(), extra={"task": task.get_name()})
        os._exit(70)


@asynccontextmanager
async def running(worker: Loop, name: str) -> AsyncIterator[None]:
    """Start ``worker`` and run its loop as a task of this process (beside an API) until
    the block ends; then cancel the loop and stop it. A loop that dies ends the process
    (``exit_if_crashed``)."""
    await worker.start()
    task = asyncio.create_task(worker.run(), name=name)
    task.add_done_callback(exit_if_crashed)
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await worker.stop()


def worker_app(settings: S, factory: Callable[[S], Worker]) -> FastAPI:
    """An app whose lifespan makes the worker (``factory``: its class), starts it and
    cancels it on shutdown.

    If the worker's loop dies, the process exits non-zero: a supervisor restarts it, and
    the restarted worker resumes from its committed offsets.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        worker = factory(settings)
        async with running(worker, settings.service_name):
            app.state.ready_checks.update(worker.checks)
            yield

    return build_app(settings.service_name, lifespan=lifespan)


def serve_worker(factory: Callable[[S], Worker], settings: S) -> None:
    """Run one worker process (``python -m`` its module): its ``worker_app``, served."""
    serve(lambda s: worker_app(s, factory), settings)
