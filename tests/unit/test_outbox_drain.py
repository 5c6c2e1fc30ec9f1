"""The flush before every offset commit waits for every message the outbox handed over.

No broker: Faust's real app, producer and ``ProducerBuffer`` run as in the worker; only the
Kafka end is a stand-in (:class:`SlowBroker`), a topic whose ``publish_message`` — the call
through which Faust's buffer hands a message to aiokafka — can block (aiokafka waiting for
room in a full batch, or for metadata) and whose writes are acknowledged when the test says.
Faust's consumer commits right after ``await app.producer.flush()``
(faust ``transport/consumer.py``, ``_commit_offsets``), so "flush has returned" is "the commit
may go ahead".
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import faust
import pytest
from faust.exceptions import ProducerSendError
from faust.types.tuples import TP, FutureMessage, RecordMetadata

import streams.app
from streams.outbox import DrainingApp, DrainingProducer, TopicOutbox

FAUST_GIVES_UP_AFTER_S = 0.1  # ProducerBuffer.flush_atmost: wait_for(message_sent, 0.1)


class SlowBroker(faust.Topic):
    """The Kafka end of the producer: takes a message over only while ``accepting`` is set,
    and acknowledges the writes taken over when the test calls :meth:`acknowledge` (or at
    once, with ``auto_acknowledge``)."""

    def __init__(self, app: faust.App) -> None:
        super().__init__(app, topics=["out"], key_type=bytes, value_type=bytes)
        self.accepting = asyncio.Event()
        self.auto_acknowledge = False
        self.handed_over: list[FutureMessage] = []
        self.written: list[bytes] = []

    async def publish_message(self, fut: FutureMessage, wait: bool = False) -> Any:
        await self.accepting.wait()  # backpressure: aiokafka has no room for it yet
        self.handed_over.append(fut)
        if self.auto_acknowledge:
            self.acknowledge()
        return fut

    def acknowledge(self, count: int | None = None, error: BaseException | None = None) -> None:
        """Kafka answers the first ``count`` writes taken over (all by default)."""
        answered = self.handed_over[:count]
        del self.handed_over[: len(answered)]
        for fut in answered:
            if error is not None:
                fut.set_exception(error)
                continue
            self.written.append(fut.message.value)
            fut.set_result(RecordMetadata("out", 0, TP("out", 0), len(self.written), 0.0, 0))


@asynccontextmanager
async def producer_and_broker(
    kind: type[faust.App], tmp_path: Path, *, accepting: bool
) -> AsyncIterator[tuple[Any, SlowBroker]]:
    """An app of ``kind`` with its own producer's buffer hand-over task running (no
    connection: the broker address is never contacted), and the stand-in Kafka end;
    ``accepting``: it takes messages over from the start."""
    app = kind(
        f"outbox-{kind.__name__}",
        broker="kafka://127.0.0.1:9",
        store="memory://",
        datadir=str(tmp_path),
        web_enabled=False,
        autodiscover=False,
    )
    broker = SlowBroker(app)
    if accepting:
        broker.accepting.set()
    producer = app.producer
    await producer.buffer.start()
    try:
        yield producer, broker
    finally:
        await producer.buffer.stop()


async def until(condition: Callable[[], bool], timeout: float = 2.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)


async def send_three(broker: SlowBroker) -> None:
    outbox = TopicOutbox(broker.app)
    for value in (b"a", b"b", b"c"):
        await outbox.send(broker, b"user", value, [("trace", b"1")])


async def test_the_worker_app_drains_before_commit() -> None:
    assert isinstance(streams.app.app, DrainingApp)


async def test_faust_alone_lets_a_commit_pass_unwritten_messages(tmp_path: Path) -> None:
    """The gap this module closes, pinned down on Faust's own producer: if this test fails,
    Faust's flush waits for its buffer now and DrainingProducer may no longer be needed."""
    async with producer_and_broker(faust.App, tmp_path, accepting=False) as (
        producer,
        broker,
    ):
        assert not isinstance(producer, DrainingProducer)
        await send_three(broker)
        await asyncio.wait_for(producer.flush(), timeout=10 * FAUST_GIVES_UP_AFTER_S)
        assert broker.written == []  # flush is over, the commit would go ahead: all 3 unwritten
        broker.auto_acknowledge = True
        broker.accepting.set()
        await until(lambda: len(broker.written) == 3)


async def test_flush_waits_until_kafka_acknowledged_every_message(tmp_path: Path) -> None:
    async with producer_and_broker(DrainingApp, tmp_path, accepting=False) as (
        producer,
        broker,
    ):
        await send_three(broker)
        flush = asyncio.ensure_future(producer.flush())
        await asyncio.sleep(5 * FAUST_GIVES_UP_AFTER_S)
        assert not flush.done(), "the commit would go ahead with messages still in the buffer"

        broker.accepting.set()  # taken over by "aiokafka", not acknowledged yet
        await until(lambda: len(broker.handed_over) == 3)
        await asyncio.sleep(2 * FAUST_GIVES_UP_AFTER_S)
        assert not flush.done(), "taken over is not written: aiokafka may still lose it"

        broker.acknowledge()
        await asyncio.wait_for(flush, timeout=1.0)
        assert broker.written == [b"a", b"b", b"c"]
        assert producer.unwritten == 0


async def test_flush_does_not_wait_for_messages_sent_after_it_began(tmp_path: Path) -> None:
    """Under steady load the commit must not starve: it waits for what was handed over
    before it began (later messages come from events that commit does not include)."""
    async with producer_and_broker(DrainingApp, tmp_path, accepting=True) as (
        producer,
        broker,
    ):
        await TopicOutbox(broker.app).send(broker, None, b"before")
        await until(lambda: len(broker.handed_over) == 1)
        flush = asyncio.ensure_future(producer.flush())
        await asyncio.sleep(0)
        await TopicOutbox(broker.app).send(broker, None, b"after")
        await until(lambda: len(broker.handed_over) == 2)
        broker.acknowledge(count=1)
        await asyncio.wait_for(flush, timeout=1.0)
        assert (broker.written, producer.unwritten) == ([b"before"], 1)
        broker.acknowledge()
        await asyncio.sleep(0)  # done-callbacks run on the next loop turn
        assert producer.unwritten == 0


async def test_a_failed_write_stops_every_later_commit(tmp_path: Path) -> None:
    async with producer_and_broker(DrainingApp, tmp_path, accepting=True) as (
        producer,
        broker,
    ):
        await send_three(broker)
        await until(lambda: len(broker.handed_over) == 3)
        broker.acknowledge(count=1)
        broker.acknowledge(error=RuntimeError("NotLeaderForPartition, out of retries"))
        for _ in range(2):  # not only the next commit: none may pass the lost messages
            with pytest.raises(ProducerSendError) as caught:
                await producer.flush()
            assert isinstance(caught.value.__cause__, RuntimeError)
        assert (broker.written, producer.unwritten) == ([b"a"], 0)


async def test_a_failure_swept_between_commits_still_stops_the_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Done writes are dropped every PRUNE_EVERY sends, not only at a flush: a failure must
    survive that sweep."""
    monkeypatch.setattr(DrainingProducer, "PRUNE_EVERY", 2)
    async with producer_and_broker(DrainingApp, tmp_path, accepting=True) as (
        producer,
        broker,
    ):
        await TopicOutbox(broker.app).send(broker, None, b"lost")
        await until(lambda: len(broker.handed_over) == 1)
        broker.acknowledge(error=RuntimeError("MessageSizeTooLarge"))
        broker.auto_acknowledge = True
        for value in (b"x", b"y", b"z"):  # the sweeps run here
            await TopicOutbox(broker.app).send(broker, None, value)
        await until(lambda: len(broker.written) == 3)
        with pytest.raises(ProducerSendError):
            await producer.flush()


async def test_written_waits_for_what_was_handed_over_before_the_call(tmp_path: Path) -> None:
    """What a checkpoint waits for before it is published (streams.checkpoint): the output
    of the events learnt so far, not of those learnt while it waits."""
    async with producer_and_broker(DrainingApp, tmp_path, accepting=True) as (
        producer,
        broker,
    ):
        outbox = TopicOutbox(broker.app)
        await outbox.send(broker, None, b"learnt")
        written = asyncio.ensure_future(outbox.written())
        await outbox.send(broker, None, b"learnt later")
        await until(lambda: len(broker.handed_over) == 2)
        await asyncio.sleep(2 * FAUST_GIVES_UP_AFTER_S)
        assert not written.done()
        broker.acknowledge(count=1)
        await asyncio.wait_for(written, timeout=1.0)
        assert producer.unwritten == 1

        failed = asyncio.ensure_future(outbox.written())
        broker.acknowledge(error=RuntimeError("NotLeaderForPartition, out of retries"))
        with pytest.raises(ProducerSendError):
            await asyncio.wait_for(failed, timeout=2.0)
        with pytest.raises(ProducerSendError):  # and every later one: the event is lost
            await asyncio.wait_for(outbox.written(), timeout=2.0)
