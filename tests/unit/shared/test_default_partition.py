"""The partition a keyed message is packed for is the one the producer's own partitioner picks,
so messages sent in pre-built batches keep the placement (and per-key order) of `send`."""

from aiokafka.partitioner import DefaultPartitioner
from hypothesis import given
from hypothesis import strategies as st

from shared.kafka import default_partition


@given(key=st.binary(min_size=0, max_size=64), count=st.integers(min_value=1, max_value=64))
def test_agrees_with_the_producers_default_partitioner(key: bytes, count: int) -> None:
    partitions = list(range(count))
    assert default_partition(key, partitions) == DefaultPartitioner()(key, partitions, partitions)


def test_picks_from_the_partitions_given_in_their_order() -> None:
    # a key whose murmur2 lands on index 1 of 3 gets the second listed partition, whatever its number
    key = next(k for k in (str(i).encode() for i in range(1000)) if default_partition(k, [0, 1, 2]) == 1)
    assert default_partition(key, [10, 20, 30]) == 20
