"""A downstream consumer of paystream's public topics (docs/events.md), runnable as is:

    python examples/events_consumer.py --bootstrap 127.0.0.1:19092 --group my-system \\
        --topic transaction-events --topic wallet-events

It prints one JSON line per new event. What it shows: its own consumer group,
``read_committed``, offsets committed only after the events were handled (at least
once), duplicates dropped by ``event_id``, and a tolerant reader (unknown fields, unknown
types and newer schema versions are skipped, never fatal). The decoding uses the
message contracts (``contracts``); a real system keeps its seen ``event_id``s in its own
store, in the transaction of its effect, not in memory.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Mapping

import msgspec
from aiokafka import AIOKafkaConsumer

from contracts.envelope import Envelope
from contracts.message import Message, from_payload
from contracts.topics import PUBLIC

# what this consumer understands: topic -> message type name -> class
KNOWN: dict[str, Mapping[str, type[Message]]] = {
    t.name: {m.__name__: m for m in t.messages} for t in PUBLIC
}


def handle(topic: str, envelope: Envelope, seen: set[str]) -> Message | None:
    """The event of ``envelope`` if it is new and understood, else None."""
    if envelope.event_id in seen:
        return None  # delivered again (at least once): already handled
    kind = KNOWN.get(topic, {}).get(envelope.type)
    if kind is None or envelope.schema_version > kind.SCHEMA_VERSION:
        return None  # a type or version this consumer does not know yet
    event: Message = from_payload(envelope.payload, kind)
    seen.add(envelope.event_id)
    return event


async def consume(
    bootstrap: str, group: str, topics: list[str], idle_exit: float | None = None
) -> None:
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        group_id=group,  # one group per downstream system: it gets every event once
        isolation_level="read_committed",  # never see an aborted or pending transaction
        enable_auto_commit=False,  # commit after handling, not before
        auto_offset_reset="earliest",  # a new group starts from the beginning
    )
    await consumer.start()
    seen: set[str] = set()
    last = time.monotonic()
    try:
        while idle_exit is None or time.monotonic() - last < idle_exit:
            batch = await consumer.getmany(timeout_ms=500, max_records=500)
            if not consumer.assignment():
                last = time.monotonic()  # still joining the group: not idle yet
            for tp, records in batch.items():
                for record in records:
                    try:
                        envelope = Envelope.from_bytes(record.value or b"")
                        event = handle(tp.topic, envelope, seen)
                    except msgspec.ValidationError as exc:
                        print(f"skipped {tp.topic}:{record.offset}: {exc}", file=sys.stderr)
                        continue
                    if event is not None:
                        line = {
                            "topic": tp.topic,
                            "key": envelope.key,
                            "event_id": envelope.event_id,
                            "type": envelope.type,
                            "payload": msgspec.to_builtins(event),
                        }
                        print(json.dumps(line), flush=True)
            if batch:
                await consumer.commit()  # the batch is handled: move the group on
                last = time.monotonic()
    finally:
        await consumer.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="Print paystream's public events.")
    parser.add_argument("--bootstrap", default="127.0.0.1:19092")
    parser.add_argument("--group", required=True, help="your system's consumer group")
    parser.add_argument("--topic", action="append", choices=sorted(KNOWN), required=True)
    parser.add_argument("--idle-exit", type=float, help="stop after this many idle seconds")
    args = parser.parse_args()
    asyncio.run(consume(args.bootstrap, args.group, args.topic, args.idle_exit))


if __name__ == "__main__":
    main()
