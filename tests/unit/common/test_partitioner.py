"""Our murmur2 partitioner picks exactly the partitions aiokafka's (and Java's) pick."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner, murmur2
from hypothesis import given
from hypothesis import strategies as st

from common.kafka.partitioner import Murmur2Partitioner
from common.kafka.partitioner import murmur2 as fast_murmur2


@given(st.binary(max_size=300))
def test_murmur2_equals_the_reference(data: bytes) -> None:
    assert fast_murmur2(data) == murmur2(data) & 0xFFFFFFFF


@given(st.binary(min_size=0, max_size=80), st.integers(min_value=1, max_value=64))
def test_same_partition_as_aiokafka(key: bytes, n: int) -> None:
    partitions = list(range(n))
    assert Murmur2Partitioner()(key, partitions, partitions) == DefaultPartitioner()(
        key, partitions, partitions
    )


def test_known_java_values() -> None:
    # org.apache.kafka.common.utils.UtilsTest#testMurmur2 (signed ints there)
    cases = {b"21": -973932308, b"foobar": -790332482, b"a-little-bit-long-string": -985981536}
    for data, signed in cases.items():
        assert fast_murmur2(data) == signed & 0xFFFFFFFF


def test_no_key_goes_to_an_available_partition() -> None:
    assert Murmur2Partitioner()(None, [0, 1, 2, 3], [2]) == 2
    assert Murmur2Partitioner()(None, [0, 1], []) in (0, 1)
