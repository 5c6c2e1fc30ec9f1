"""The local Kafka and ClickHouse that ``crossrec up`` and ``crossrec kafka|clickhouse`` manage,
placed and configured from settings."""

from __future__ import annotations

from streams.local.clickhouse import LocalClickHouse
from streams.local.kafka import LocalKafka
from streams.settings import Settings


def local_kafka(settings: Settings) -> LocalKafka:
    return LocalKafka(
        settings.data_dir / "kafka",
        port=settings.local_kafka_port,
        controller_port=settings.local_kafka_port + 1,
    )


def local_clickhouse(settings: Settings) -> LocalClickHouse:
    return LocalClickHouse(
        settings.data_dir / "clickhouse",
        http_port=settings.local_clickhouse_http_port,
        tcp_port=settings.local_clickhouse_tcp_port,
    )


def start_clickhouse(server: LocalClickHouse, settings: Settings) -> None:
    """Declare the read-only analyst user (this server reads users from files only), start."""
    from streams.sinks.access import write_analyst_users_xml

    server.data_dir.mkdir(parents=True, exist_ok=True)
    write_analyst_users_xml(server.data_dir, settings)
    server.start()
