"""Test helpers that talk to the real Kafka: send commands, read topics to the end."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterable

from common.kafka.consumer import read_records
from common.kafka.partitioner import partition_of
from common.kafka.producer import make_producer, send_envelopes
from common.topics import WALLET_COMMANDS
from contracts.envelope import Envelope
from contracts.wallet import WalletCommand, command_envelope

send_all = send_envelopes  # the name the tests use
__all__ = ["read_records", "read_topic", "send_all", "send_commands", "wait_for", "wallet_in"]


def wallet_in(partition: int, partitions: int) -> str:
    """A new wallet id whose commands (keyed by it) go to ``partition`` of ``partitions``."""
    wallet = str(uuid.uuid4())
    while partition_of(wallet.encode(), partitions) != partition:
        wallet = str(uuid.uuid4())
    return wallet


async def send_commands(bootstrap: str, commands: Iterable[WalletCommand], source: str) -> None:
    """Append ``commands`` to ``wallet-commands`` with a one-off idempotent producer and
    wait for every acknowledgement (tests that drive the decider directly)."""
    producer = make_producer(bootstrap, source)
    await producer.start()
    try:
        await send_envelopes(
            producer, [(WALLET_COMMANDS, command_envelope(c, source)) for c in commands]
        )
    finally:
        await producer.stop()


async def read_topic(
    bootstrap: str, topic: str, keep: Callable[[Envelope], bool] = lambda e: True
) -> list[Envelope]:
    """Every committed envelope of ``topic`` up to its current end, in partition order."""
    envelopes = [Envelope.from_bytes(r.value) for r in await read_records(bootstrap, topic)]
    return [e for e in envelopes if keep(e)]


async def wait_for(
    check: Callable[[], object], timeout: float = 60.0, interval: float = 0.5
) -> None:
    """Await ``check()`` (sync or async) until it is truthy; fail after ``timeout``."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)
