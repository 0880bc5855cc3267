"""Kafka's default partitioning (murmur2 of the key, as the Java client does), faster.

aiokafka's ``DefaultPartitioner`` computes murmur2 a byte at a time in Python: ~18 µs
for a 36-byte id on our hosts, and every keyed send pays it (four per transfer). This
one reads the key four bytes at a time (``struct``) and picks exactly the same
partition (a property test checks it against aiokafka's), in a few microseconds.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Sequence

_M = 0x5BD1E995
_MASK = 0xFFFFFFFF


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 (``org.apache.kafka.common.utils.Utils.murmur2``), unsigned 32 bit."""
    length = len(data)
    h = (0x9747B28C ^ length) & _MASK
    for k in struct.unpack_from(f"<{length // 4}I", data):
        k = (k * _M) & _MASK
        k ^= k >> 24
        h = ((h * _M) & _MASK) ^ ((k * _M) & _MASK)
    tail = length & 3
    if tail:
        base = length - tail
        if tail == 3:
            h ^= data[base + 2] << 16
        if tail >= 2:
            h ^= data[base + 1] << 8
        h = ((h ^ data[base]) * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    return h ^ (h >> 15)


def partition_of(key: bytes, partitions: int) -> int:
    """The partition a message keyed ``key`` goes to, of a topic of ``partitions``."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


class Murmur2Partitioner:
    """Drop-in for aiokafka's ``DefaultPartitioner``: same partitions, less CPU."""

    def __call__(
        self, key: bytes | None, all_partitions: Sequence[int], available: Sequence[int]
    ) -> int:
        if key is None:
            return random.choice(available or all_partitions)
        return all_partitions[partition_of(key, len(all_partitions))]
