"""Where agents send what they produce — injected, so agent tests run without a broker.

In the worker, :class:`TopicOutbox` sends to Kafka through Faust's producer. Agent tests
(``agent.test_context()``) swap in :class:`RecordingOutbox` and read what would have been sent;
the agent code under test is the same.

Nothing an agent sends may be lost, so an event's offset must not be committed before what it
produced is written. Faust does not quite guarantee that with ``send_soon``: see
:class:`DrainingProducer`, which the app uses (:class:`DrainingApp`) to close the gap.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any, Protocol

import faust
from aiokafka import AIOKafkaProducer
from faust.exceptions import ProducerSendError
from faust.transport.drivers.aiokafka import Producer as KafkaProducer
from faust.types import AppT, ProducerT
from faust.types.tuples import FutureMessage

from streams.node_linger import NodeLingerProducer

Headers = list[tuple[str, bytes]]


class Outbox(Protocol):
    async def send(
        self,
        topic: Any,
        key: bytes | None,
        value: bytes,
        headers: Headers | None = None,
        partition: int | None = None,
    ) -> None: ...

    def written(self) -> Awaitable[None]:
        """Done once every message sent until this call is written; raises if one was not."""
        ...


@dataclass
class TopicOutbox:
    """Hands messages to Faust's producer buffer without waiting for the broker.

    ``send_soon`` returns at once (measured: awaiting each ``send`` cost ~0.9 ms per message
    on the event loop). Before Faust commits the offsets of the consumed messages it flushes
    the app's producer; with :class:`DrainingApp` that flush waits until Kafka acknowledged
    every message handed over, so nothing is committed before what it produced is written.
    """

    app: AppT

    async def send(
        self,
        topic: Any,
        key: bytes | None,
        value: bytes,
        headers: Headers | None = None,
        partition: int | None = None,
    ) -> None:
        topic.send_soon(key=key, value=value, headers=headers, partition=partition)

    def written(self) -> Awaitable[None]:
        producer = self.app.producer
        if not isinstance(producer, DrainingProducer):
            raise TypeError("only a DrainingApp's producer can tell what it has written")
        return producer.written()


class DrainingProducer(KafkaProducer):
    """Faust's Kafka producer whose ``flush`` — the one before every commit — waits for
    every message handed to ``send_soon`` to be acknowledged by Kafka.

    Why: the consumer commits right after ``await app.producer.flush()``
    (faust ``transport/consumer.py`` ``_commit_offsets``), but Faust's flush is not a full
    drain: ``ProducerBuffer.flush`` returns as soon as no message has left its queue for
    0.1 s (``flush_atmost``), and aiokafka's flush only waits for messages already in its
    batches — not for the one Faust is still handing over while aiokafka waits for room in
    a full batch or for topic metadata. Under broker backpressure a commit could thus cover
    an event whose output was still in Faust's buffer, and a crash would lose that output
    (the event is never redelivered).

    So every message given to ``send_soon`` is kept until its future is done (Faust
    resolves it when Kafka acknowledges the write), and ``flush`` also waits for all those
    not done when it is called. That covers every event a commit can include: the commit
    picks its offsets before it flushes, and an event is acked only after its agent body
    handed its output over. The hot path keeps ``send_soon`` plus a list append (no
    callback per message: done futures are dropped in bulk, at each flush and every
    ``PRUNE_EVERY`` sends); the waiting is paid once per commit, off the agents' path.

    A write that failed (or was cancelled) is never forgotten: every later ``flush`` raises
    :class:`~faust.exceptions.ProducerSendError`, so no offset is committed past it; the
    commit task's error crashes the worker, which resumes from the last good commit.
    ``producer_threaded`` is refused: that mode resolves copies of the futures, not these.

    Its aiokafka producer is a :class:`~streams.node_linger.NodeLingerProducer`: one
    produce request per broker per linger window instead of one per partition batch.
    """

    PRUNE_EVERY = 10_000
    """Sends between two sweeps of done futures when no commit sweeps them (bounds memory)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.app.conf.producer_threaded:
            raise ValueError("DrainingProducer cannot track writes with producer_threaded=True")
        self._handed_over: list[FutureMessage] = []
        self._prune_at = self.PRUNE_EVERY
        self._failed: BaseException | None = None

    @property
    def _producer_type(self) -> type[AIOKafkaProducer]:
        return NodeLingerProducer

    def send_soon(self, fut: FutureMessage) -> None:
        handed_over = self._handed_over
        handed_over.append(fut)
        if len(handed_over) >= self._prune_at:
            self._prune()
        super().send_soon(fut)

    def _prune(self) -> None:
        """Forget the written; remember the first write that failed."""
        kept = []
        for fut in self._handed_over:
            if not fut.done():
                kept.append(fut)
            elif self._failed is None:
                self._failed = _failure(fut)
        self._handed_over = kept
        self._prune_at = len(kept) + self.PRUNE_EVERY

    @property
    def unwritten(self) -> int:
        """Messages handed to ``send_soon`` that Kafka has not acknowledged yet."""
        return sum(not fut.done() for fut in self._handed_over)

    async def flush(self) -> None:
        """Faust's flush, then wait until every message handed over so far is written."""
        waiting = [fut for fut in self._handed_over if not fut.done()]
        await super().flush()
        await self._settle(waiting)
        self._prune()
        if self._failed is not None:
            raise ProducerSendError(
                "a message handed to send_soon was not written: not committing past it"
            ) from self._failed

    def written(self) -> Awaitable[None]:
        """Done once every message handed over until this call is written; raises
        :class:`~faust.exceptions.ProducerSendError` if one was not (or an earlier one).

        The messages are taken at the call, not when awaited: the caller pairs them with
        the state of the learner at the same instant (see :mod:`streams.checkpoint`)."""
        return self._written(list(self._handed_over))

    async def _written(self, handed_over: list[FutureMessage]) -> None:
        await self._settle([fut for fut in handed_over if not fut.done()])
        failure = self._failed or next(
            (f for f in map(_failure, handed_over) if f is not None), None
        )
        if failure is not None:
            raise ProducerSendError("a message handed to send_soon was not written") from failure

    async def _settle(self, waiting: list[FutureMessage]) -> None:
        """Wait until ``waiting`` are done, or give up (and fail) once the buffer stopped."""
        while waiting:
            _, pending = await asyncio.wait(waiting, timeout=1.0)
            waiting = list(pending)
            if waiting and self.buffer.state != "running":
                self._failed = self._failed or ProducerSendError(
                    f"producer buffer is {self.buffer.state} with {len(waiting)} message(s) "
                    "not written"
                )
                return


def _failure(fut: FutureMessage) -> BaseException | None:
    if fut.cancelled():
        return asyncio.CancelledError("a message write was cancelled")
    return fut.exception()


class DrainingApp(faust.App):
    """A ``faust.App`` whose producer is a :class:`DrainingProducer` (Kafka transport only).

    Faust builds its producer lazily (``App._new_producer``), after the worker chose the
    event loop; overriding that factory is the one place to swap the class.
    """

    def _new_producer(self) -> ProducerT:
        return DrainingProducer(self.transport, loop=self.loop, beacon=self.beacon)


@dataclass
class RecordingOutbox:
    """Keeps every message per topic name, for agent tests; ``partitions`` holds, in the
    same order, the partition each was sent to (None: chosen by its key)."""

    sent: dict[str, list[tuple[bytes | None, bytes, Headers | None]]] = field(default_factory=dict)
    partitions: dict[str, list[int | None]] = field(default_factory=dict)

    async def send(
        self,
        topic: Any,
        key: bytes | None,
        value: bytes,
        headers: Headers | None = None,
        partition: int | None = None,
    ) -> None:
        name = topic.get_topic_name()
        self.sent.setdefault(name, []).append((key, value, headers))
        self.partitions.setdefault(name, []).append(partition)

    def written(self) -> Awaitable[None]:
        """Kept is written."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done
