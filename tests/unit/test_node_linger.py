"""Produce batches leave per broker: once one partition's batch is due, the batches of the
same broker's other partitions go in the same request (aiokafka's real accumulator, with a
stand-in for the cluster metadata that says which broker leads which partition)."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka.producer.message_accumulator import MessageAccumulator
from aiokafka.structs import TopicPartition

from streams.node_linger import coalesce_by_node

LEADERS = {
    TopicPartition("t", 0): 1,
    TopicPartition("t", 1): 1,
    TopicPartition("t", 2): 2,
    TopicPartition("u", 0): 1,
}


class Leaders:
    """Cluster metadata as far as the accumulator asks: the leader of a partition."""

    def leader_for_partition(self, tp: TopicPartition) -> int | None:
        return LEADERS.get(tp)


async def _drained(
    coalesce: bool, late: tuple[TopicPartition, ...], busy: frozenset[int] = frozenset()
) -> dict[int, set[TopicPartition]]:
    """Partition t-0 is due; the ``late`` ones were written after it and still linger (1 s).
    What the accumulator hands the sender when the ``busy`` brokers have a request out."""
    accumulator = MessageAccumulator(Leaders(), 16_384, 0, 30, linger_ms=1_000)
    if coalesce:
        assert coalesce_by_node(accumulator)
    await accumulator.add_message(TopicPartition("t", 0), b"k", b"early", timeout=1.0)
    for batch in accumulator._batches[TopicPartition("t", 0)]:
        batch._linger_time = 0.0  # written "long ago": due now
    for tp in late:
        await accumulator.add_message(tp, b"k", b"late", timeout=1.0)
    nodes, unknown = accumulator.drain_by_nodes(ignore_nodes=set(busy))
    assert not unknown
    return {node: set(batches) for node, batches in nodes.items()}


LATE = (TopicPartition("t", 1), TopicPartition("t", 2), TopicPartition("u", 0))


def test_aiokafka_alone_sends_only_the_due_batch() -> None:
    assert asyncio.run(_drained(False, LATE)) == {1: {TopicPartition("t", 0)}}


def test_a_due_batch_takes_the_other_batches_of_its_broker_along() -> None:
    drained = asyncio.run(_drained(True, LATE))
    # Broker 1's three partitions leave together; broker 2 had nothing due and waits.
    assert drained == {1: {TopicPartition("t", 0), TopicPartition("t", 1), TopicPartition("u", 0)}}


@pytest.mark.parametrize("busy", [True, False])
def test_a_busy_broker_is_left_to_aiokafka(busy: bool) -> None:
    nodes = asyncio.run(
        _drained(True, (TopicPartition("t", 1),), frozenset({1}) if busy else frozenset())
    )
    assert (1 not in nodes) if busy else (len(nodes[1]) == 2)


def test_an_accumulator_of_another_shape_is_left_alone() -> None:
    class Other:
        def drain_by_nodes(self, ignore_nodes: object, muted_partitions: object = ()) -> None:
            return None

    other = Other()
    assert not coalesce_by_node(other)
    assert "drain_by_nodes" not in vars(other)
