"""Faust agents: thin loops that call pure functions and send what they produce.

Importing this package registers every agent on :data:`streams.app.app`.
"""

from streams import web  # noqa: F401  (health, readiness, dashboard views)
from streams.agents import clickhouse_sink, gc_timers, ingest, monitor, recommend

__all__ = ["clickhouse_sink", "gc_timers", "ingest", "monitor", "recommend"]
