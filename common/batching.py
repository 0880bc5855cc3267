"""Group calls: the calls made while a batch is being handled go together in the next one.

    counts = GroupCall(count_many, concurrency=1)   # count_many(items) -> one result each
    result = await counts(item)

Used where every call would otherwise cost its own round trip (the gateway's rate-limit
counts in Redis, the command API's idempotency claims in Postgres). No timer: an idle
caller's batch leaves at once (one turn of the event loop later, so the calls made in
the same turn join it); under load, batches grow by themselves with the time a batch
takes. At most ``concurrency`` batches are in flight. ``handle`` returns one outcome per
item, in order: a value, or an exception instance that is raised to that caller only.
If ``handle`` itself raises, every caller of that batch gets the exception.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

In = TypeVar("In")
Out = TypeVar("Out")


class GroupCall(Generic[In, Out]):
    def __init__(
        self,
        handle: Callable[[list[In]], Awaitable[Sequence[Out | BaseException]]],
        concurrency: int = 1,
        max_batch: int = 1000,
    ) -> None:
        self._handle = handle
        self._concurrency = concurrency
        self._max_batch = max_batch
        self._queue: list[tuple[In, asyncio.Future[Out]]] = []
        self._running: set[asyncio.Task[None]] = set()

    async def __call__(self, item: In) -> Out:
        fut: asyncio.Future[Out] = asyncio.get_running_loop().create_future()
        self._queue.append((item, fut))
        self._launch()
        return await asyncio.shield(fut)  # a cancelled caller leaves its batch alone

    def _launch(self) -> None:
        if self._queue and len(self._running) < self._concurrency:
            task = asyncio.create_task(self._run())
            self._running.add(task)
            task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._launch()

    async def _run(self) -> None:
        # taken when the task runs, not when it was made: the calls of this turn join
        batch, self._queue = self._queue[: self._max_batch], self._queue[self._max_batch :]
        if not batch:
            return
        try:
            outcomes = await self._handle([item for item, _ in batch])
        except BaseException as exc:
            for _, fut in batch:
                if not fut.done():
                    fut.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for (_, fut), outcome in zip(batch, outcomes, strict=True):
            if fut.done():
                continue
            if isinstance(outcome, BaseException):
                fut.set_exception(outcome)
            else:
                fut.set_result(outcome)
