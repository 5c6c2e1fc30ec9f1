"""Run a real worker process (``crossrec worker``) against the session's Kafka and ClickHouse."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient

from streams.local.clickhouse import LocalClickHouse
from streams.local.kafka import LocalKafka
from streams.local.process import free_port
from streams.settings import Settings
from streams.topic_admin import topic_names


def worker_env(
    kafka: LocalKafka, clickhouse: LocalClickHouse, unique: str, data_dir: Path
) -> dict[str, str]:
    """Settings for an isolated worker: its own topics, consumer group and database."""
    env = dict(os.environ)
    env.update(
        {
            "CROSSREC_KAFKA_BOOTSTRAP": kafka.bootstrap,
            "CROSSREC_APP_ID": f"crossrec-{unique}",
            "CROSSREC_TOPIC_IN": f"{unique}.events.in",
            "CROSSREC_TOPIC_VALID": f"{unique}.events.valid",
            "CROSSREC_TOPIC_RECOMMENDATIONS": f"{unique}.recommendations",
            "CROSSREC_TOPIC_DLQ": f"{unique}.events.dlq",
            "CROSSREC_TOPIC_PARTITIONS": "2",
            "CROSSREC_CLICKHOUSE_URL": clickhouse.url,
            "CROSSREC_CLICKHOUSE_DATABASE": unique,
            "CROSSREC_PSEUDONYM_KEY": f"key-{unique}",
            "CROSSREC_METRICS_PORT": str(free_port()),
            "CROSSREC_WEB_PORT": str(free_port()),
            "CROSSREC_DATA_DIR": str(data_dir),
            "CROSSREC_SINK_BATCH_SECONDS": "0.5",
        }
    )
    return env


def wait_for_topics(env: dict[str, str], proc: subprocess.Popen[bytes], log: Path) -> None:
    """Block until the worker has created its topics (so no test producer auto-creates them
    with the broker's default partition count)."""
    settings = Settings.from_env(env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the worker exited early:\n{log.read_text()[-3000:]}")
        with ThreadPoolExecutor(1) as pool:  # callers may already run an event loop
            existing = pool.submit(asyncio.run, _topics(settings)).result()
        if set(topic_names(settings)) <= existing:
            return
        time.sleep(0.3)
    raise AssertionError("the worker did not create its topics within 60 s")


async def _topics(settings: Settings) -> set[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


@contextmanager
def running_worker(env: dict[str, str], log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``crossrec worker``; on exit SIGTERM it and require a clean, timely shutdown."""
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "worker", "--loglevel", "warning"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for_topics(env, proc, log_path)
            yield proc
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(60)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                    raise AssertionError("the worker did not stop within 60 s of SIGTERM") from None
