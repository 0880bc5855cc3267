"""GroupCall: calls made while a batch runs go together; each caller gets its own outcome."""

from __future__ import annotations

import asyncio

import pytest

from common.batching import GroupCall


async def test_calls_of_one_turn_and_those_made_meanwhile_are_batched() -> None:
    batches: list[list[int]] = []
    release = asyncio.Event()

    async def handle(items: list[int]) -> list[int | BaseException]:
        batches.append(items)
        if len(batches) == 1:
            await release.wait()
        return [i * 10 for i in items]

    call = GroupCall(handle, concurrency=1)
    first = [asyncio.create_task(call(i)) for i in range(3)]  # one turn: one batch
    await asyncio.sleep(0.01)
    later = [asyncio.create_task(call(i)) for i in range(3, 6)]  # while it runs
    await asyncio.sleep(0.01)
    assert batches == [[0, 1, 2]]  # one batch in flight at a time
    release.set()
    assert await asyncio.gather(*first, *later) == [0, 10, 20, 30, 40, 50]
    assert batches == [[0, 1, 2], [3, 4, 5]]


async def test_an_exception_outcome_reaches_its_caller_only() -> None:
    async def handle(items: list[int]) -> list[int | BaseException]:
        return [ValueError(i) if i == 1 else i for i in items]

    call = GroupCall(handle)
    results = await asyncio.gather(*(call(i) for i in range(3)), return_exceptions=True)
    assert results[0] == 0 and results[2] == 2
    assert isinstance(results[1], ValueError)


async def test_a_failing_batch_fails_its_callers_and_the_next_batch_still_runs() -> None:
    calls = 0

    async def handle(items: list[int]) -> list[int | BaseException]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("down")
        return items

    call = GroupCall(handle)
    with pytest.raises(RuntimeError):
        await call(1)
    assert await call(2) == 2


async def test_batches_are_capped() -> None:
    sizes: list[int] = []

    async def handle(items: list[int]) -> list[int | BaseException]:
        sizes.append(len(items))
        return items

    call = GroupCall(handle, concurrency=1, max_batch=4)
    assert await asyncio.gather(*(call(i) for i in range(10))) == list(range(10))
    assert max(sizes) == 4 and sum(sizes) == 10
