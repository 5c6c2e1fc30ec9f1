"""Faust agents: thin loops that call pure functions and send what they produce.

Importing a module registers its agents on :data:`streams.app.app`; a worker process imports
only the modules of its role (:func:`register`), so an ingest process never loads the learner.
"""

from __future__ import annotations

import importlib

ROLE_MODULES: dict[str, tuple[str, ...]] = {
    "ingest": ("streams.agents.ingest",),
    "learn": ("streams.agents.recommend", "streams.agents.model_metrics", "streams.web"),
    "sink": ("streams.agents.clickhouse_sink",),
}
"""What each role runs; every role also measures its own consumer lag (monitor)."""


def register(role: str) -> None:
    """Import (and so register) the agents, timers and pages of ``role``."""
    for module in (*ROLE_MODULES[role], "streams.agents.monitor"):
        importlib.import_module(module)
