"""One view of the worker's Prometheus metrics, whether it runs as one process or several.

The supervisor (``crossrec worker``) runs ingest, learn and sink as separate processes, each
writing its counters, histograms and gauges to Prometheus' multiprocess files under
``PROMETHEUS_MULTIPROC_DIR``. The supervisor serves their sum on the metrics port, and the
learner's dashboard and ``/ready`` read the same sum, so a rate of dead letters (counted by
ingestion) or the sink's degraded flag (set by the sink) is visible from the learner. Without
that variable (tests, one role per container) this process's own registry is the whole view.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_dir() -> Path | None:
    """The shared metrics directory, when this process is one of several."""
    raw = os.environ.get(MULTIPROC_ENV)
    return Path(raw) if raw else None


def aggregate_registry(path: Path | None = None) -> CollectorRegistry:
    """Every process's metrics summed (``path`` or the environment's directory), or this
    process's own registry when metrics are not shared."""
    path = path or multiprocess_dir()
    if path is None:
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(path))  # type: ignore[no-untyped-call]
    return registry


@dataclass(frozen=True)
class Families:
    """Metric families with a ``collect()``, so readers treat them like the metric itself."""

    families: tuple[Any, ...]

    def collect(self) -> tuple[Any, ...]:
        return self.families


class MetricsSnapshot:
    """Every metric family at one instant, across all worker processes when they share.

    Read once, then look metrics up by their declared object:
    ``snapshot[EVENTS_IN].collect()``.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.families = list((registry or aggregate_registry()).collect())

    def __getitem__(self, metric: Any) -> Families:
        # prometheus_client names a counter's family without ``_total``.
        name = metric._name
        return Families(tuple(f for f in self.families if f.name == name))
