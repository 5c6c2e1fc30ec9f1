"""Shared fixtures. Integration fixtures start the REAL local Kafka and ClickHouse once per
session on free ports, and fail (never skip) with the reason when a service cannot start."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from streams.local.clickhouse import LocalClickHouse
from streams.local.kafka import LocalKafka
from streams.local.process import ServiceError, free_port

# Property tests check behaviour; speed is measured by bench/, never by a test. Hypothesis's
# default 200 ms deadline per example is such a timing check, which a loaded machine can
# fail (test_parse_record_accepts_or_rejects_cleanly failed once under load, passing alone).
settings.register_profile("crossrec", deadline=None)
settings.load_profile("crossrec")


@pytest.fixture(scope="session")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    broker = LocalKafka(
        tmp_path_factory.mktemp("kafka"), port=free_port(), controller_port=free_port()
    )
    try:
        broker.start()
    except ServiceError as exc:
        pytest.fail(f"the local Kafka broker could not start: {exc}")
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
def clickhouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalClickHouse]:
    server = LocalClickHouse(
        tmp_path_factory.mktemp("clickhouse"), http_port=free_port(), tcp_port=free_port()
    )
    try:
        server.start()
    except ServiceError as exc:
        pytest.fail(f"the local ClickHouse server could not start: {exc}")
    yield server
    server.stop()


@pytest.fixture
def unique(request: pytest.FixtureRequest) -> str:
    """A short name unique to this test, for topics, consumer groups and databases."""
    return f"t{os.getpid()}_{abs(hash(request.node.nodeid)) % 10**8}"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent
