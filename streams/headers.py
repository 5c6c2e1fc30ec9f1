"""Kafka header names crossrec reads and writes (no Faust import: the benchmark's bare
aiokafka loop and its timing consumer use them too)."""

from __future__ import annotations

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
