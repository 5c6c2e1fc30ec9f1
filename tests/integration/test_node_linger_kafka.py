"""NodeLingerProducer on the real broker: the same staggered sends to 8 partitions (two
topics, 4 partitions each, one broker) reach Kafka in far fewer produce requests than with
aiokafka's producer, and every message is written."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from streams.local.kafka import LocalKafka
from streams.node_linger import NodeLingerProducer
from tests.integration.kafka_io import consume

pytestmark = pytest.mark.integration

ROUNDS = 10
LINGER_MS = 50


async def _send_staggered(
    producer_type: type[AIOKafkaProducer], bootstrap: str, topics: list[str]
) -> int:
    """ROUNDS rounds of one message to each of the topics' 8 partitions, 5 ms apart (all
    within one linger), each round acknowledged before the next; return how many produce
    requests went out."""
    producer = producer_type(bootstrap_servers=bootstrap, acks="all", linger_ms=LINGER_MS)
    await producer.start()
    requests = 0
    send_request = producer._sender._send_produce_req

    async def counted(node_id: int, batches: Any) -> Any:
        nonlocal requests
        requests += 1
        return await send_request(node_id, batches)

    producer._sender._send_produce_req = counted
    try:
        for topic in topics:  # metadata first: the first sends would otherwise wait for it
            await producer.partitions_for(topic)
        n = 0
        for _ in range(ROUNDS):
            pending = []
            for topic in topics:
                for partition in range(4):
                    pending.append(await producer.send(topic, b"%d" % n, partition=partition))
                    n += 1
                    await asyncio.sleep(0.005)
            await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return requests


async def test_fewer_requests_every_message_written(kafka: LocalKafka, unique: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap)
    await admin.start()
    names = {kind: [f"{unique}.{kind}.a", f"{unique}.{kind}.b"] for kind in ("plain", "node")}
    try:
        await admin.create_topics([NewTopic(t, 4, 1) for ts in names.values() for t in ts])
    finally:
        await admin.close()
    plain = await _send_staggered(AIOKafkaProducer, kafka.bootstrap, names["plain"])
    node = await _send_staggered(NodeLingerProducer, kafka.bootstrap, names["node"])
    # aiokafka: each partition's batch leaves when its own linger is up, 5 ms after the
    # previous one (~8 requests a round); NodeLingerProducer: all together (~1 a round).
    assert node * 3 < plain, (node, plain)
    values = []
    for topic in names["node"]:
        records = await consume(kafka.bootstrap, topic, 4 * ROUNDS, timeout=30)
        values += [int(r.value) for r in records]
    assert sorted(values) == list(range(8 * ROUNDS))
