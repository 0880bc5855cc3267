"""``paystream dlq show`` and ``paystream dlq replay``: the dead letters of a topic.

Replay appends each dead letter to the partition it came from again (its own value, key
and headers, without the ``dlq_*`` ones), then deletes the replayed records from the
dead-letter topic (Kafka's DeleteRecords: its start offset moves to where the replay
read up to, and its depth reads 0). Only command topics are replayed: a command is
applied once per ``command_id`` (or idempotency key), so one already applied meanwhile
changes nothing; an event appended again would be a second event in the log every
consumer and the decider's state rebuild read.
"""

from __future__ import annotations

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete
from rich.console import Console
from rich.table import Table

from common.kafka.consumer import read_records
from common.kafka.headers import DLQ_ERROR, DLQ_ORIGIN, header, message_type
from common.kafka.producer import make_producer
from common.topics import PROVIDER_COMMANDS, WALLET_COMMANDS, dlq

REPLAYABLE = (WALLET_COMMANDS, PROVIDER_COMMANDS)


def dlq_name(topic: str) -> str:
    return topic if topic.endswith(".dlq") else dlq(topic)


async def dlq_show(bootstrap: str, topic: str, limit: int, console: Console) -> int:
    """The records of ``topic``'s dead-letter topic (``topic`` may name it already)."""
    name = dlq_name(topic)
    records = await read_records(bootstrap, name)
    table = Table("origin", "type", "key", "error", title=f"{name}: {len(records)} records")
    for record in records[:limit]:
        table.add_row(
            (header(record.headers, DLQ_ORIGIN) or b"").decode(),
            message_type(record.headers),
            (record.key or b"").decode(errors="replace"),
            (header(record.headers, DLQ_ERROR) or b"").decode(errors="replace"),
        )
    console.print(table)
    return 0


async def dlq_replay(bootstrap: str, topic: str, console: Console) -> int:
    """Append the dead letters of a command topic to their origin again, then delete them
    from the dead-letter topic; 2 for a topic that is not replayed (see module doc)."""
    name = dlq_name(topic)
    origin_topic = name.removesuffix(".dlq")
    if origin_topic not in REPLAYABLE:
        console.print(
            f"[red]{origin_topic} is not replayed[/]: only command topics are "
            f"({', '.join(REPLAYABLE)}); an event appended again is a second event"
        )
        return 2
    records = await read_records(bootstrap, name)
    producer = make_producer(bootstrap, "paystream-dlq-replay")
    await producer.start()
    try:
        for record in records:
            origin = (header(record.headers, DLQ_ORIGIN) or b"").decode()
            partition = int(origin.split(":")[1]) if origin.count(":") == 2 else None
            kept = [(k, v) for k, v in record.headers or () if k not in (DLQ_ERROR, DLQ_ORIGIN)]
            await producer.send_and_wait(
                origin_topic, record.value, key=record.key, partition=partition, headers=kept
            )
    finally:
        await producer.stop()
    ends: dict[TopicPartition, int] = {}
    for record in records:
        tp = TopicPartition(record.topic, record.partition)
        ends[tp] = max(ends.get(tp, 0), record.offset + 1)
    if ends:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            await admin.delete_records({tp: RecordsToDelete(end) for tp, end in ends.items()})
        finally:
            await admin.close()
    console.print(f"replayed {len(records)} records from {name} to {origin_topic}")
    return 0
