"""The worker measures itself: its event loop's lag is on /metrics while it runs (real Kafka
and ClickHouse, a real worker process)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from streams.local.clickhouse import LocalClickHouse
from streams.local.kafka import LocalKafka
from tests.integration.resilience_tools import scrape, wait_until
from tests.integration.worker_process import running_worker, worker_env

pytestmark = pytest.mark.integration

TICKS = "crossrec_event_loop_lag_seconds_count"


async def test_the_event_loop_lag_is_measured_while_the_worker_runs(
    kafka: LocalKafka, clickhouse: LocalClickHouse, unique: str, tmp_path: Path
) -> None:
    env = worker_env(kafka, clickhouse, unique, tmp_path)
    port = int(env["CROSSREC_METRICS_PORT"])
    with running_worker(env, tmp_path / "worker.log"):
        first = await wait_until(lambda: asyncio.to_thread(scrape, port, TICKS), bool, 60.0)
        assert first, (tmp_path / "worker.log").read_text()[-3000:]
        await asyncio.sleep(1.0)
        later = await asyncio.to_thread(scrape, port, TICKS)
    # A 100 ms tick: about ten more observations a second, fewer only if the loop was held.
    assert later is not None and later - first >= 5
