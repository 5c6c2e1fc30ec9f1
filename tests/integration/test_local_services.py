"""The local service managers give clear errors instead of half-started servers."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from streams.local.clickhouse import LocalClickHouse
from streams.local.kafka import LocalKafka
from streams.local.process import ServiceError, free_port

pytestmark = pytest.mark.integration


def test_kafka_refuses_a_taken_port(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        broker = LocalKafka(tmp_path, port=port, controller_port=free_port())
        with pytest.raises(ServiceError, match=f"port {port}.*already taken"):
            broker.start()


def test_clickhouse_refuses_a_taken_port(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        with pytest.raises(ServiceError, match="already taken"):
            LocalClickHouse(tmp_path, http_port=port, tcp_port=free_port()).start()


def test_running_kafka_round_trips(kafka: LocalKafka) -> None:
    assert kafka.pid() is not None
    assert kafka.round_trip_ok()
