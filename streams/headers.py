"""Kafka header names crossrec reads and writes (no Faust import: the benchmark's bare
aiokafka loop and its timing consumer use them too)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

TRACE_HEADER = "produced_at_ns"
"""Set by producers (the simulator does) to the wall-clock ns of the original produce; carried
through to the recommendation so the benchmark measures event → recommendation latency."""

TRIGGER_HEADER = "trigger_type"
"""On recommendation messages: the event type that caused it (for analytics)."""

COPY_HEADER = "crossrec_copy"
"""On ``events.valid``: this message is a copy of an event sent to every partition (catalogue
upserts and erasures, which every worker must see, whichever partitions it owns). The event
itself goes where its key sends it, as any event; consumers that need each event once (the
ClickHouse sink) skip the copies."""


def is_copy(headers: Mapping[str, bytes] | Iterable[tuple[str, bytes]] | None) -> bool:
    """Whether a message with ``headers`` is one of ingestion's copies (:data:`COPY_HEADER`);
    Faust hands headers over as a mapping, aiokafka as ``(key, value)`` pairs.

    >>> is_copy([("crossrec_copy", b"1")]), is_copy({"produced_at_ns": b"1"}), is_copy(None)
    (True, False, False)
    """
    if isinstance(headers, Mapping):
        return COPY_HEADER in headers
    return any(key == COPY_HEADER for key, _ in headers or ())
