"""Sinks for the simulated stream: a JSONL file, or Kafka at a controlled rate.

Both sinks record a message in the optional :class:`~simulator.ledger.Ledger` only once it
is written (file) or acknowledged by the broker (Kafka, ``acks="all"``), so the ledger never
counts a message that did not leave.

Rate control is a token bucket expressed as a schedule: message *n* is due at
``start + n / rate``; the producer sleeps when ahead of schedule and may catch up at most
``burst`` messages when behind, which keeps the average rate accurate even though
``asyncio.sleep`` has millisecond granularity.

>>> clock = iter([0.0, 0.0, 0.0, 0.0]).__next__
>>> pacer = Pacer(rate=1000.0, burst=1, clock=clock)
>>> [round(pacer.delay(), 4) for _ in range(3)]
[0.0, 0.001, 0.002]
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from simulator.ledger import Ledger
from simulator.payload import Emitted

PRODUCED_AT_HEADER = "produced_at_ns"


class ProduceError(RuntimeError):
    """Kafka could not be reached or refused the producer (the cause is chained)."""


class ProgressBar:
    """A carriage-return progress line on stderr, redrawn at most every ``interval`` s."""

    def __init__(
        self,
        total: int | None,
        *,
        enabled: bool = True,
        stream: TextIO | None = None,
        interval: float = 0.25,
        width: int = 30,
    ) -> None:
        self.total = total
        self.enabled = enabled
        self.stream = stream if stream is not None else sys.stderr
        self.interval = interval
        self.width = width
        self.count = 0
        self._start = time.monotonic()
        self._last_draw = 0.0

    def update(self, n: int = 1) -> None:
        """Advance by ``n`` and redraw if due."""
        self.count += n
        if self.enabled:
            now = time.monotonic()
            if now - self._last_draw >= self.interval:
                self._last_draw = now
                self._draw(now)

    def _draw(self, now: float) -> None:
        elapsed = max(now - self._start, 1e-9)
        rate = self.count / elapsed
        if self.total:
            frac = min(1.0, self.count / self.total)
            filled = int(frac * self.width)
            bar = "#" * filled + "." * (self.width - filled)
            line = f"\r[{bar}] {frac:6.1%} {self.count}/{self.total} {rate:,.0f} msg/s"
        else:
            line = f"\r{self.count} messages {rate:,.0f} msg/s"
        self.stream.write(line)
        self.stream.flush()

    def close(self) -> None:
        """Final redraw and newline."""
        if self.enabled:
            self._draw(time.monotonic())
            self.stream.write("\n")
            self.stream.flush()


def write_jsonl(
    path: str | Path,
    messages: Iterable[Emitted],
    *,
    ledger: Ledger | None = None,
    total: int | None = None,
    progress: bool = True,
) -> int:
    """Write one payload per line; return the number of lines written.

    Payloads never contain a raw newline (valid events are compact JSON, hostile ones are
    built without), so each line is exactly one message's bytes.
    """
    bar = ProgressBar(total, enabled=progress)
    written = 0
    with open(path, "wb", buffering=1 << 20) as fh:
        for message in messages:
            fh.write(message.payload)
            fh.write(b"\n")
            written += 1
            if ledger is not None:
                ledger.record(message)
            bar.update()
    bar.close()
    return written


def read_jsonl(path: str | Path) -> list[bytes]:
    """The payloads of a JSONL file written by ``write_jsonl``."""
    with open(path, "rb") as fh:
        return [line[:-1] if line.endswith(b"\n") else line for line in fh]


class Pacer:
    """Token-bucket schedule: ``delay()`` books one message and says how long to wait.

    ``rate`` is messages per second; ``burst`` is how many messages may be sent back to back
    after a stall (default: 50 ms worth, at least 1).
    """

    def __init__(
        self,
        rate: float,
        *,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be > 0")
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, rate * 0.05)
        self.clock = clock
        self._interval = 1.0 / rate
        self._next: float | None = None

    def delay(self) -> float:
        """Seconds to wait before sending the next message (0 when it may go now)."""
        now = self.clock()
        if self._next is None:
            self._next = now
        # Behind schedule: forgive all but ``burst`` messages of backlog.
        earliest = now - (self.burst - 1) * self._interval
        self._next = max(self._next, earliest)
        wait = self._next - now
        self._next += self._interval
        return wait if wait > 1e-9 else 0.0  # float noise is not a reason to wait


@dataclass
class ProduceResult:
    """What ``produce_to_kafka`` achieved."""

    acked: int
    failed: int
    elapsed_s: float
    first_error: str | None = None

    @property
    def rate(self) -> float:
        """Acknowledged messages per wall-clock second."""
        return self.acked / self.elapsed_s if self.elapsed_s > 0 else 0.0


def _as_emitted(message: Emitted | bytes) -> Emitted:
    if isinstance(message, bytes):
        return Emitted(message, None, "raw", None)
    return message


async def produce_to_kafka(
    bootstrap: str,
    topic: str,
    payloads: Iterable[Emitted | bytes],
    rate: float | None,
    *,
    ledger: Ledger | None = None,
    total: int | None = None,
    progress: bool = False,
    linger_ms: int = 5,
    max_batch_size: int = 256 * 1024,
    producer_options: dict[str, Any] | None = None,
) -> ProduceResult:
    """Send every payload to ``topic``; at ``rate`` messages/s, or as fast as possible.

    Key: the raw user id for valid events (so one user's events stay ordered in one
    partition), ``None`` otherwise.  Header ``produced_at_ns``: wall clock at send time, for
    end-to-end latency.  Plain ``bytes`` are accepted and recorded as hostile kind ``raw``.
    """
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        linger_ms=linger_ms,
        max_batch_size=max_batch_size,
        **(producer_options or {}),
    )
    pacer = Pacer(rate) if rate is not None else None
    bar = ProgressBar(total, enabled=progress)
    pending: set[asyncio.Future[Any]] = set()
    acked = 0
    failed = 0
    first_error: str | None = None

    def on_done(fut: asyncio.Future[Any], message: Emitted) -> None:
        nonlocal acked, failed, first_error
        pending.discard(fut)
        if fut.cancelled() or fut.exception() is not None:
            failed += 1
            if first_error is None:
                first_error = "cancelled" if fut.cancelled() else repr(fut.exception())
            return
        acked += 1
        if ledger is not None:
            ledger.record(message)
        bar.update()

    try:
        await producer.start()
    except Exception as exc:
        await producer.stop()
        raise ProduceError(f"cannot start a Kafka producer for {bootstrap!r}: {exc}") from exc
    start = time.monotonic()
    try:
        for raw in payloads:
            message = _as_emitted(raw)
            if pacer is not None:
                wait = pacer.delay()
                if wait > 0.001:
                    await asyncio.sleep(wait)
            headers = [(PRODUCED_AT_HEADER, str(time.time_ns()).encode())]
            fut = await producer.send(
                topic, value=message.payload, key=message.key, headers=headers
            )
            pending.add(fut)
            fut.add_done_callback(lambda f, m=message: on_done(f, m))
        await producer.flush()
        if pending:
            await asyncio.gather(*list(pending), return_exceptions=True)
    finally:
        await producer.stop()
        bar.close()
    return ProduceResult(acked, failed, time.monotonic() - start, first_error)
