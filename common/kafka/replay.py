"""Dead-lettered events replayed to the consumer group they failed in.

An event cannot be appended to its topic again: every group reading the topic would see
a second event. ``paystream dlq replay`` appends it instead to ``<topic>.replay``
(``contracts.topics.replay``) with its dead-letter headers: where it was read
(``dlq_origin``), the group it failed in (``dlq_group``) and the dead letter's own place
(``dlq_replayed_from``). Every tracked consumer (``common.kafka.tracked``) also reads
the replay topics of its topics: it hands its handler only the records that name its
group, each as the record it was at its origin (topic, partition, offset, headers), and
passes over the others (their offsets only). The replay topic's offsets are stored with
the effects like any other, so each replayed record is applied once per group.
"""

from __future__ import annotations

from dataclasses import replace

from aiokafka import ConsumerRecord

from common.kafka.headers import DLQ_GROUP, header, origin_of, without_dead_letter_headers
from contracts.topics import REPLAY_SUFFIX


def is_replay(record: ConsumerRecord[bytes, bytes]) -> bool:
    """True for a record read from a replay topic."""
    return record.topic.endswith(REPLAY_SUFFIX)


def replayed_for(record: ConsumerRecord[bytes, bytes], group: str) -> bool:
    """True when a replayed record names ``group`` as the one it failed in."""
    return header(record.headers, DLQ_GROUP) == group.encode()


def as_origin(record: ConsumerRecord[bytes, bytes]) -> ConsumerRecord[bytes, bytes]:
    """A replayed record as it was read at its origin (its topic, partition and offset,
    its headers without the ``dlq_*`` ones): what the handler decodes and applies. A
    record without a readable origin keeps the replay topic's base name and its place."""
    origin = origin_of(record.headers)
    topic, partition, offset = origin or (
        record.topic.removesuffix(REPLAY_SUFFIX),
        record.partition,
        record.offset,
    )
    return replace(
        record,
        topic=topic,
        partition=partition,
        offset=offset,
        headers=tuple(without_dead_letter_headers(record.headers)),
    )
