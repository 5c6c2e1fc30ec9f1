"""Schema as code against the real local ClickHouse."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import clickhouse_connect
import pytest

from streams.local.clickhouse import LocalClickHouse
from streams.sinks.migrations import SchemaError, apply_migrations, load_migrations

pytestmark = pytest.mark.integration


@pytest.fixture
def client(clickhouse: LocalClickHouse) -> Iterator[Any]:
    c = clickhouse_connect.get_client(host="127.0.0.1", port=clickhouse.http_port)
    yield c
    c.close()


def test_applies_once_and_records_versions(client: Any, unique: str) -> None:
    migrations = load_migrations()
    first = apply_migrations(client, unique, migrations)
    assert first == [m.version for m in migrations]
    assert apply_migrations(client, unique, migrations) == []
    recorded = client.query(f"SELECT version FROM {unique}.schema_migrations ORDER BY version")
    assert [r[0] for r in recorded.result_rows] == first
    assert client.command(f"EXISTS TABLE {unique}.events") == 1


def test_refuses_a_database_with_a_newer_schema(client: Any, unique: str) -> None:
    migrations = load_migrations()
    apply_migrations(client, unique, migrations)
    client.insert(
        f"{unique}.schema_migrations",
        [[9999, "9999_from_the_future", "x"]],
        column_names=["version", "name", "checksum"],
    )
    with pytest.raises(SchemaError, match="9999"):
        apply_migrations(client, unique, migrations)


def test_the_local_server_survives_a_restart_with_its_data(
    clickhouse: LocalClickHouse, unique: str
) -> None:
    clickhouse.sql(f"CREATE DATABASE IF NOT EXISTS {unique}")
    clickhouse.sql(f"CREATE TABLE {unique}.kept (a UInt8) ENGINE = MergeTree ORDER BY a")
    clickhouse.sql(f"INSERT INTO {unique}.kept VALUES (7)")
    clickhouse.stop()
    assert clickhouse.pid() is None
    clickhouse.start()
    assert clickhouse.sql(f"SELECT a FROM {unique}.kept").strip() == "7"
