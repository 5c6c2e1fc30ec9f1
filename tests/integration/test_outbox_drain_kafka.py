"""DrainingProducer on the real broker: Faust's own Kafka path resolves every message's future,
so the flush before a commit ends — and when it has, Kafka holds every message.

With a plain ``faust.App`` the same flush returned with all 3000 messages still unwritten
(2 runs out of 2: the first sends to a new topic wait for its metadata, longer than the
0.1 s Faust's buffer waits), which is the loss window this producer closes.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from streams.local.kafka import LocalKafka
from streams.outbox import DrainingApp, DrainingProducer
from tests.integration.kafka_io import consume

pytestmark = pytest.mark.integration

MESSAGES = 3000


async def test_after_flush_kafka_holds_every_message_handed_over(
    kafka: LocalKafka, unique: str, tmp_path: Path
) -> None:
    app = DrainingApp(
        f"{unique}-drain",
        broker=f"kafka://{kafka.bootstrap}",
        store="memory://",
        datadir=str(tmp_path),
        web_enabled=False,
        autodiscover=False,
        producer_acks=-1,
        producer_linger_ms=5,
    )
    topic = app.topic(f"{unique}.out", key_type=bytes, value_type=bytes)
    producer = app.producer
    assert isinstance(producer, DrainingProducer)
    await producer.start()
    try:
        sent = [  # as TopicOutbox sends; a new topic: the first sends wait for its metadata
            topic.send_soon(key=b"user-%d" % (i % 7), value=b"%d" % i, headers=[("n", b"1")])
            for i in range(MESSAGES)
        ]
        await asyncio.wait_for(producer.flush(), timeout=60)
        unwritten = [fut for fut in sent if not fut.done() or fut.exception() is not None]
        assert (len(unwritten), producer.unwritten) == (0, 0)
    finally:
        await producer.stop()
    records = await consume(kafka.bootstrap, f"{unique}.out", MESSAGES, timeout=30)
    assert sorted(int(r.value) for r in records) == list(range(MESSAGES))
