"""The learner's per-minute online quality → ClickHouse ``model_metrics`` (the learn role).

The figures live in the learner's memory, so the learner's process writes them, with its own
writer (retried until ClickHouse has them, like every sink).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from streams.agents import recommend
from streams.app import app, settings
from streams.sinks.clickhouse_writer import ClickHouseWriter
from streams.sinks.rows import MODEL_METRIC_COLUMNS, ModelMetric, model_metric_row

writer = ClickHouseWriter(settings)


@app.timer(interval=60.0)  # type: ignore[untyped-decorator]
async def sink_model_metrics() -> None:
    now = datetime.now(UTC)
    version = recommend.learner.service.config.model_version
    rows = [
        model_metric_row(ModelMetric(now, version, variant, metric, value, count), now)
        for variant, metric, value, count in recommend.publish_online_metrics()
        if count
    ]
    await writer.write(f"{settings.clickhouse_database}.model_metrics", MODEL_METRIC_COLUMNS, rows)


@app.on_before_shutdown.connect  # type: ignore[arg-type]
async def _close_writer(sender: Any, *args: Any, signal: Any, **kwargs: Any) -> None:
    await writer.close()
