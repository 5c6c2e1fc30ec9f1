"""Keep a dead letter small enough for the producer, whatever the input weighed.

A dead letter carries the original bytes plus headers saying why it was refused. The input
was accepted by the broker, but its copy with those headers can still exceed the producer's
request limit; Kafka would refuse the write, and since the worker does not commit past a
write that failed (:class:`streams.outbox.DrainingProducer`), one such input would stop the
worker at every restart. So a dead letter over the budget keeps the first bytes of its key
and value and says, in a ``truncated`` header, how long they were.

>>> fit(b"k", b"x" * 10, [("error_code", b"too_large")], budget=40)
(b'k', b'xxxxxxxxxx', [('error_code', b'too_large')])
>>> key, value, headers = fit(b"k", b"x" * 100, [], budget=60)
>>> key, len(value), headers
(b'k', 35, [('truncated', b'key=1 value=100')])
"""

from __future__ import annotations

from streams.kafka_config import PRODUCER_MAX_REQUEST_BYTES

Headers = list[tuple[str, bytes]]

RECORD_OVERHEAD_BYTES = 16_384
"""Room left for the record batch's own framing (a generous bound)."""

BUDGET_BYTES = PRODUCER_MAX_REQUEST_BYTES - RECORD_OVERHEAD_BYTES


def size(key: bytes | None, value: bytes, headers: Headers) -> int:
    """Bytes of key, value and headers (names and values)."""
    return len(key or b"") + len(value) + sum(len(k.encode()) + len(v) for k, v in headers)


def fit(
    key: bytes | None, value: bytes, headers: Headers, budget: int = BUDGET_BYTES
) -> tuple[bytes | None, bytes, Headers]:
    """``key``, ``value`` and ``headers`` unchanged when they fit in ``budget`` bytes; else the
    key and value cut to fit (the key keeps at most a quarter of the room) with a
    ``truncated`` header giving their original lengths. The headers are kept whole: the
    caller bounds them (the reason is cut to 2,000 bytes), far below the budget."""
    if size(key, value, headers) <= budget:
        return key, value, headers
    note = ("truncated", f"key={len(key or b'')} value={len(value)}".encode())
    kept = [*headers, note]
    room = max(0, budget - size(None, b"", kept))
    cut_key = None if key is None else key[: min(len(key), room // 4)]
    cut_value = value[: max(0, room - len(cut_key or b""))]
    return cut_key, cut_value, kept
