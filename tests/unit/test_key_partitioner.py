"""The producers' partitioner puts every key where kafka's default one does."""

from __future__ import annotations

import random

import pytest
from kafka.partitioner import DefaultPartitioner

from infra.adapters.kafka.clients import KeyHashPartitioner


class Cluster:
    """The part of kafka-python's ClusterMetadata a partitioner reads."""

    def __init__(self, partitions: dict[str, set[int]]) -> None:
        self.partitions = partitions

    def topics(self) -> set[str]:
        return set(self.partitions)

    def partitions_for_topic(self, topic: str) -> set[int] | None:
        return set(self.partitions[topic]) if topic in self.partitions else None

    def available_partitions_for_topic(self, topic: str) -> set[int] | None:
        return self.partitions_for_topic(topic)


def keys() -> list[bytes]:
    rng = random.Random(7)
    accounts = [f"acct-{n:07d}".encode() for n in range(3_000)]
    texts = ["", "a", "ab", "abc", "Zoë", "账户-42", "emoji-\U0001f600", "x" * 300]
    noise = [rng.randbytes(rng.randrange(0, 64)) for _ in range(3_000)]
    return accounts + [t.encode() for t in texts] + noise


@pytest.mark.parametrize("count", [1, 2, 3, 6, 7, 12, 64])
def test_every_key_lands_on_the_default_partitioners_choice(count: int) -> None:
    # given a topic of `count` partitions and both partitioners
    cluster = Cluster({"t": set(range(count))})
    default, remembering = DefaultPartitioner(), KeyHashPartitioner(keys=1_000)
    for _ in range(2):  # the second time from the remembered hashes
        for key in keys():
            # then each key goes where the default would send it
            expected = default.partition("t", key, key, b"v", b"v", cluster)
            assert remembering.partition("t", key, key, b"v", b"v", cluster) == expected


def test_a_remembered_key_follows_the_topic_when_partitions_are_added() -> None:
    # given keys partitioned over 6 partitions, then the topic grown to 12 with gaps in the ids
    cluster = Cluster({"t": set(range(6))})
    default, remembering = DefaultPartitioner(), KeyHashPartitioner()
    for key in keys():
        remembering.partition("t", key, key, None, None, cluster)
    cluster.partitions["t"] = {0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 13}
    # then each key moves exactly as with the default partitioner
    for key in keys():
        expected = default.partition("t", key, key, None, None, cluster)
        assert remembering.partition("t", key, key, None, None, cluster) == expected


def test_unkeyed_records_and_unknown_topics_are_the_default_partitioners_business() -> None:
    cluster = Cluster({"t": {0, 1, 2}})
    partitioner = KeyHashPartitioner()
    assert partitioner.partition("t", None, None, b"v", b"v", cluster) in {0, 1, 2}
    with pytest.raises(ValueError, match="not found"):
        partitioner.partition("unknown", b"k", b"k", b"v", b"v", cluster)
