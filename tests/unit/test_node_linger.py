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


async def _drained(coalesce: bool) -> dict[int, set[TopicPartition]]:
    """Partition t-0 is due, the others were written 0.2 s later and still linger (1 s)."""
    accumulator = MessageAccumulator(Leaders(), 16_384, 0, 30, linger_ms=1_000)
    if coalesce:
        assert coalesce_by_node(accumulator)
    await accumulator.add_message(TopicPartition("t", 0), b"k", b"early", timeout=1.0)
    for batch in accumulator._batches[TopicPartition("t", 0)]:
        batch._linger_time = 0.0  # written "long ago": due now
    for tp in (TopicPartition("t", 1), TopicPartition("t", 2), TopicPartition("u", 0)):
        await accumulator.add_message(tp, b"k", b"late", timeout=1.0)
    nodes, unknown = accumulator.drain_by_nodes(ignore_nodes=set())
    assert not unknown
    return {node: set(batches) for node, batches in nodes.items()}


def test_aiokafka_alone_sends_only_the_due_batch() -> None:
    assert asyncio.run(_drained(coalesce=False)) == {1: {TopicPartition("t", 0)}}


def test_a_due_batch_takes_the_other_batches_of_its_broker_along() -> None:
    drained = asyncio.run(_drained(coalesce=True))
    # Broker 1's three partitions leave together; broker 2 had nothing due and waits.
    assert drained == {1: {TopicPartition("t", 0), TopicPartition("t", 1), TopicPartition("u", 0)}}


@pytest.mark.parametrize("busy", [True, False])
def test_a_busy_broker_is_left_to_aiokafka(busy: bool) -> None:
    async def run() -> dict[int, object]:
        accumulator = MessageAccumulator(Leaders(), 16_384, 0, 30, linger_ms=1_000)
        coalesce_by_node(accumulator)
        await accumulator.add_message(TopicPartition("t", 0), b"k", b"v", timeout=1.0)
        accumulator._batches[TopicPartition("t", 0)][0]._linger_time = 0.0
        await accumulator.add_message(TopicPartition("t", 1), b"k", b"v", timeout=1.0)
        nodes, _ = accumulator.drain_by_nodes(ignore_nodes={1} if busy else set())
        return dict(nodes)

    nodes = asyncio.run(run())
    assert (1 not in nodes) if busy else (len(nodes[1]) == 2)  # type: ignore[arg-type]


def test_an_accumulator_of_another_shape_is_left_alone() -> None:
    class Other:
        def drain_by_nodes(self, ignore_nodes: object, muted_partitions: object = ()) -> None:
            return None

    other = Other()
    assert not coalesce_by_node(other)
    assert "drain_by_nodes" not in vars(other)
