"""The separate consumer that receives the pipeline's output and notes when each arrived.

For every output message it keeps the broker timestamp (CreateTime, set by the producing
process when it sent the message: the worker's or the bare loop's clock of "processed") and,
when the message carries the trace header, ``receipt - produced_at`` in ns, with the receipt
taken by ``time.time_ns()`` right after the fetch returned. Copies (``events.valid`` carries a
marked copy of each catalogue upsert and erasure on every partition, see
:data:`~streams.headers.COPY_HEADER`) are not counted: one event, one output.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from streams.headers import TRACE_HEADER, is_copy


@dataclass
class TopicRecord:
    """What arrived on one output topic during a phase."""

    count: int = 0
    first_ms: int | None = None
    last_ms: int | None = None
    latencies_ns: list[int] = field(default_factory=list)

    def add(self, timestamp_ms: int, latency_ns: int | None) -> None:
        self.count += 1
        if self.first_ms is None or timestamp_ms < self.first_ms:
            self.first_ms = timestamp_ms
        if self.last_ms is None or timestamp_ms > self.last_ms:
            self.last_ms = timestamp_ms
        if latency_ns is not None:
            self.latencies_ns.append(latency_ns)


def trace_ns(headers: Any) -> int | None:
    """The ``produced_at_ns`` header as an int, or ``None`` when absent or garbled.

    >>> trace_ns([("produced_at_ns", b"123"), ("x", b"y")])
    123
    >>> trace_ns([("produced_at_ns", b"soon")]) is None
    True
    """
    for key, value in headers or ():
        if key == TRACE_HEADER:
            try:
                return int(value)
            except (TypeError, ValueError):
                return None
    return None


class OutputCollector:
    """Consume ``start`` offsets onwards of some topics in the background, until stopped."""

    def __init__(self, options: dict[str, Any], start: dict[TopicPartition, int]) -> None:
        self.start_offsets = start
        self.records: dict[str, TopicRecord] = {tp.topic: TopicRecord() for tp in start}
        self._consumer = AIOKafkaConsumer(
            **options,
            enable_auto_commit=False,
            group_id=None,
            fetch_max_wait_ms=50,
            max_partition_fetch_bytes=4 * 1024 * 1024,
        )
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._consumer.start()
        self._consumer.assign(list(self.start_offsets))
        for tp, offset in self.start_offsets.items():
            self._consumer.seek(tp, offset)
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            batch = await self._consumer.getmany(timeout_ms=100, max_records=5000)
            received = time.time_ns()
            for tp, messages in batch.items():
                record = self.records[tp.topic]
                for msg in messages:
                    if is_copy(msg.headers):
                        continue
                    sent = trace_ns(msg.headers)
                    record.add(msg.timestamp, None if sent is None else received - sent)

    async def caught_up(self, ends: dict[TopicPartition, int], timeout: float = 15.0) -> bool:
        """Wait until this consumer's position reached ``ends`` on every partition."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._task is not None and self._task.done():
                self._task.result()  # re-raise what killed the consumer
            positions = [await self._consumer.position(tp) for tp in ends]
            if all(pos >= end for pos, end in zip(positions, ends.values(), strict=True)):
                return True
            await asyncio.sleep(0.1)
        return False

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._consumer.stop()
