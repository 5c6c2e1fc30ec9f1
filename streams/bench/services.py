"""Kafka and ClickHouse for the benchmark: the ones given, or our own on free ports.

Our own servers live in the benchmark's temporary directory and are stopped on the way out,
whatever happened (error, Ctrl-C).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from streams.local.clickhouse import LocalClickHouse
from streams.local.kafka import LocalKafka
from streams.local.process import free_port


@dataclass(frozen=True)
class Endpoints:
    bootstrap: str
    clickhouse_url: str
    own_kafka: bool
    own_clickhouse: bool


@contextmanager
def bench_services(
    bootstrap: str | None,
    clickhouse_url: str | None,
    workdir: Path,
    progress: Callable[[str], None],
) -> Iterator[Endpoints]:
    """Yield where Kafka and ClickHouse answer; start (and later stop) the missing ones."""
    kafka: LocalKafka | None = None
    clickhouse: LocalClickHouse | None = None
    try:
        if bootstrap is None:
            kafka = LocalKafka(workdir / "kafka", port=free_port(), controller_port=free_port())
            progress(f"starting Kafka on {kafka.bootstrap} ...")
            kafka.start()
            bootstrap = kafka.bootstrap
        if clickhouse_url is None:
            clickhouse = LocalClickHouse(
                workdir / "clickhouse", http_port=free_port(), tcp_port=free_port()
            )
            progress(f"starting ClickHouse on {clickhouse.url} ...")
            clickhouse.start()
            clickhouse_url = clickhouse.url
        yield Endpoints(bootstrap, clickhouse_url, kafka is not None, clickhouse is not None)
    finally:
        if clickhouse is not None:
            progress("stopping ClickHouse ...")
            clickhouse.stop()
        if kafka is not None:
            progress("stopping Kafka ...")
            kafka.stop()
