"""Start-up of a worker process: topics and schema, then one role or the supervisor of all."""

from __future__ import annotations

import logging
import os

from streams.settings import Settings

log = logging.getLogger(__name__)


def prepare_clickhouse(settings: Settings) -> list[int]:
    """Apply pending migrations and the analytics settings (idempotent) before any write."""
    import clickhouse_connect

    from streams.analytics.setup import prepare_analytics

    client = clickhouse_connect.get_client(
        dsn=settings.clickhouse_url,
        username=settings.clickhouse_user,
        password=settings.clickhouse_password,
    )
    try:
        return prepare_analytics(client, settings)
    finally:
        client.close()


def prepare(settings: Settings) -> None:
    """Create missing topics and apply migrations: before any consumer or writer starts."""
    from streams.topic_admin import ensure_topics_sync

    created = ensure_topics_sync(settings)
    if created:
        log.info("created topics %s", created)
    applied = prepare_clickhouse(settings)
    if applied:
        log.info("applied ClickHouse migrations %s", applied)


def run_worker(settings: Settings, loglevel: str = "info", supervised: bool = False) -> int:
    """Run until SIGINT/SIGTERM: the supervisor (role ``all``) or one role in this process.

    ``supervised``: started by the supervisor, which already prepared topics and schema and
    serves the metrics of all its processes.
    """
    if settings.worker_role == "all":
        from streams.supervisor import Supervisor

        return Supervisor(settings, loglevel).run()
    run_role(settings, loglevel, supervised)
    return 0


def run_role(settings: Settings, loglevel: str, supervised: bool) -> None:
    """One role's agents in this process, on its own consumer group (Faust worker)."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # DESIGN.md: threaded BLAS is slower
    from faust.worker import Worker
    from prometheus_client import start_http_server

    from streams.agents import register
    from streams.app import app

    register(settings.worker_role)
    app.conf.datadir.mkdir(parents=True, exist_ok=True)  # Faust does not create parents
    if not supervised:
        prepare(settings)
    if settings.worker_role == "learn":
        from streams.agents.recommend import restore_learner

        restore_learner()
    if settings.metrics_port and not supervised:
        start_http_server(settings.metrics_port, addr=settings.listen_host)
    worker = Worker(app, loglevel=loglevel)
    # Faust's terminal spinner sets the root logger to DEBUG (to animate on every record)
    # whenever the level is WARNING or above: every debug line of Faust and aiokafka is then
    # formatted — measured at ~8 % of the worker's CPU. No spinner, honest levels.
    worker.spinner = None
    worker.execute_from_commandline()
