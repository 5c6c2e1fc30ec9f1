"""Start-up of one worker process: schema, metrics endpoint, then the Faust worker."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from streams.settings import Settings

log = logging.getLogger(__name__)


@contextmanager
def clickhouse_client(settings: Settings) -> Iterator[Any]:
    """A sync clickhouse-connect client for start-up work (migrations, reloading erasures),
    closed afterwards."""
    import clickhouse_connect

    client = clickhouse_connect.get_client(
        dsn=settings.clickhouse_url,
        username=settings.clickhouse_user,
        password=settings.clickhouse_password,
    )
    try:
        yield client
    finally:
        client.close()


def run_worker(loglevel: str = "info") -> None:
    """Run the worker in this process until SIGINT/SIGTERM (Faust shuts down cleanly)."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # DESIGN.md: threaded BLAS is slower
    from faust.worker import Worker
    from prometheus_client import start_http_server

    import streams.agents  # noqa: F401  (registers the agents)
    from streams.app import app, settings
    from streams.topic_admin import ensure_topics_sync

    app.conf.datadir.mkdir(parents=True, exist_ok=True)  # Faust does not create parents

    created = ensure_topics_sync(settings)
    if created:
        log.info("created topics %s", created)
    from streams.agents.clickhouse_sink import restore_erasures
    from streams.analytics.setup import prepare_analytics

    with clickhouse_client(settings) as client:
        applied = prepare_analytics(client, settings)
        # The sink's memory of recent erasures, back from their tombstones before anything
        # is consumed, so no late recommendation of an erased user slips in after a restart.
        erasures = restore_erasures(client)
    if applied:
        log.info("applied ClickHouse migrations %s", applied)
    if erasures:
        log.info("reloaded %d recent erasure(s): their late recommendations stay out", erasures)
    from streams.agents.recommend import restore_learner

    restore_learner()
    if settings.gc_freeze_every_s > 0:
        from streams.gc_policy import settle_after_restore

        settle_after_restore()
    if settings.metrics_port:
        start_http_server(settings.metrics_port, addr=settings.listen_host)
    from streams.kafka_config import use_fast_event_loop

    if use_fast_event_loop():
        log.info("event loop: uvloop")
    worker = Worker(app, loglevel=loglevel)
    # Faust's terminal spinner sets the root logger to DEBUG (to animate on every record)
    # whenever the level is WARNING or above: every debug line of Faust and aiokafka is then
    # formatted — measured at ~8 % of the worker's CPU. No spinner, honest levels.
    worker.spinner = None
    worker.execute_from_commandline()
