"""Metrics of several worker processes read as one (Prometheus multiprocess files)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from prometheus_client import REGISTRY, CollectorRegistry, Counter

from streams.shared_metrics import MULTIPROC_ENV, MetricsSnapshot, aggregate_registry
from streams.web import counter_total, sink_degraded

_CHILD = """
from streams.metrics import EVENTS_IN, SINK_DEGRADED
EVENTS_IN.inc({n})
SINK_DEGRADED.set({degraded})
"""


def _run_child(metrics_dir: Path, n: int, degraded: int) -> None:
    env = {**os.environ, MULTIPROC_ENV: str(metrics_dir)}
    code = _CHILD.format(n=n, degraded=degraded)
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60)


def test_counters_of_several_processes_are_summed_and_gauges_combined(tmp_path: Path) -> None:
    from streams.metrics import EVENTS_IN

    _run_child(tmp_path, 3, degraded=0)
    _run_child(tmp_path, 4, degraded=1)
    snapshot = MetricsSnapshot(aggregate_registry(tmp_path))
    assert counter_total(snapshot[EVENTS_IN]) == 7
    # Gauges are "live": a finished process's value is dropped only once it is marked dead,
    # which the supervisor does; here both are still on file and the max wins.
    assert sink_degraded(snapshot)


def test_without_shared_files_the_own_registry_is_the_view(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    counter = Counter("crossrec_test_things_total", "things", registry=registry)
    counter.inc(2)
    assert counter_total(MetricsSnapshot(registry)[counter]) == 2
    if MULTIPROC_ENV not in os.environ:
        assert aggregate_registry() is REGISTRY
