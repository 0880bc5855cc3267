"""``paystream dlq show`` and ``paystream dlq replay``: the dead letters of a topic.

Replay of a command topic appends each dead letter to the partition it came from again
(its own value, key and headers, without the ``dlq_*`` ones): a command is applied once
per ``command_id`` (or idempotency key), so one already applied meanwhile changes
nothing. An event appended again would be a second event for every group that reads the
topic, so a dead-lettered event goes to ``<topic>.replay`` instead, for the one consumer
group its ``dlq_group`` header names (``common.kafka.replay``); a dead letter already
appended there (its ``dlq_replayed_from`` is this dead letter's place: a replay that was
cut short) is not appended again. Then the replayed records are deleted from the
dead-letter topic (Kafka's DeleteRecords: its start offset moves past them, so its depth
reads 0). A dead event without a group (dead-lettered before the header existed) is
left, and so is what follows it in its partition (a deletion is a prefix).
"""

from __future__ import annotations

from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete
from rich.console import Console
from rich.table import Table

from common.kafka.consumer import read_records
from common.kafka.headers import (
    DLQ_ERROR,
    DLQ_GROUP,
    DLQ_ORIGIN,
    DLQ_REPLAYED_FROM,
    Headers,
    header,
    message_type,
    origin_of,
    without_dead_letter_headers,
)
from common.kafka.producer import make_producer
from common.topics import PROVIDER_COMMANDS, WALLET_COMMANDS, dlq, replay

COMMAND_TOPICS = (WALLET_COMMANDS, PROVIDER_COMMANDS)
Records = list[ConsumerRecord[bytes, bytes]]


def dlq_name(topic: str) -> str:
    return topic if topic.endswith(".dlq") else dlq(topic)


async def dlq_show(bootstrap: str, topic: str, limit: int, console: Console) -> int:
    """The records of ``topic``'s dead-letter topic (``topic`` may name it already)."""
    name = dlq_name(topic)
    records = await read_records(bootstrap, name)
    table = Table(
        "origin", "group", "type", "key", "error", title=f"{name}: {len(records)} records"
    )
    for record in records[:limit]:
        table.add_row(
            (header(record.headers, DLQ_ORIGIN) or b"").decode(),
            (header(record.headers, DLQ_GROUP) or b"").decode(errors="replace"),
            message_type(record.headers),
            (record.key or b"").decode(errors="replace"),
            (header(record.headers, DLQ_ERROR) or b"").decode(errors="replace"),
        )
    console.print(table)
    return 0


async def dlq_replay(bootstrap: str, topic: str, console: Console) -> int:
    """Replay the dead letters of ``topic`` (see module doc), then delete them from its
    dead-letter topic; 1 when some were left there."""
    name = dlq_name(topic)
    origin_topic = name.removesuffix(".dlq")
    records = await read_records(bootstrap, name)
    left: Records
    if origin_topic in COMMAND_TOPICS:
        target = origin_topic
        sends = [(record, without_dead_letter_headers(record.headers)) for record in records]
        replayed, left = records, []
    else:
        target = replay(origin_topic)
        sends, replayed, left = await event_sends(bootstrap, records, target)
    await append(bootstrap, target, sends)
    await delete_prefix(bootstrap, replayed, left)
    before = len(replayed) - len(sends)
    console.print(
        f"replayed {len(replayed)} records from {name} to {target}"
        + (f" ({before} of them appended there before)" if before else "")
    )
    if left:
        console.print(f"[red]{len(left)} records left in {name}[/]: they name no consumer group")
    return 1 if left else 0


async def event_sends(
    bootstrap: str, records: Records, target: str
) -> tuple[list[tuple[ConsumerRecord[bytes, bytes], Headers]], Records, Records]:
    """(what to append to the replay topic ``target``, the dead letters replayed, those
    left): a dead letter already appended there is replayed without a second append."""
    done = {header(r.headers, DLQ_REPLAYED_FROM) for r in await read_records(bootstrap, target)}
    sends: list[tuple[ConsumerRecord[bytes, bytes], Headers]] = []
    replayed: Records = []
    left: Records = []
    for record in records:
        if header(record.headers, DLQ_GROUP) is None:
            left.append(record)
            continue
        replayed.append(record)
        place = f"{record.topic}:{record.partition}:{record.offset}".encode()
        if place not in done:
            sends.append((record, [*(record.headers or ()), (DLQ_REPLAYED_FROM, place)]))
    return sends, replayed, left


async def append(
    bootstrap: str, target: str, sends: list[tuple[ConsumerRecord[bytes, bytes], Headers]]
) -> None:
    """Each (dead letter, headers): its value and key on ``target``, in the partition it
    was read from."""
    if not sends:
        return
    producer = make_producer(bootstrap, "paystream-dlq-replay")
    await producer.start()
    try:
        for record, headers in sends:
            origin = origin_of(record.headers)
            await producer.send_and_wait(
                target,
                record.value,
                key=record.key,
                partition=origin[1] if origin else None,
                headers=headers,
            )
    finally:
        await producer.stop()


async def delete_prefix(bootstrap: str, replayed: Records, left: Records) -> None:
    """Delete the replayed records from their dead-letter topic, in each partition up to
    its first record that is ``left``."""
    stops: dict[TopicPartition, int] = {}
    for record in left:
        tp = TopicPartition(record.topic, record.partition)
        stops[tp] = min(stops.get(tp, record.offset), record.offset)
    ends: dict[TopicPartition, int] = {}
    for record in replayed:
        tp = TopicPartition(record.topic, record.partition)
        if record.offset < stops.get(tp, record.offset + 1):
            ends[tp] = max(ends.get(tp, 0), record.offset + 1)
    if not ends:
        return
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_records({tp: RecordsToDelete(end) for tp, end in ends.items()})
    finally:
        await admin.close()
