"""Kafka header names crossrec reads and writes (no Faust import: the benchmark's bare
aiokafka loop and its timing consumer use them too)."""

from __future__ import annotations

TRACE_HEADER = "produced_at_ns"
"""Set by producers (the simulator does) to the wall-clock ns of the original produce; carried
through to the recommendation so the benchmark measures event → recommendation latency."""

TRIGGER_HEADER = "trigger_type"
"""On recommendation messages: the event type that caused it (for analytics)."""
