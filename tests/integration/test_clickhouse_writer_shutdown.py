"""The ClickHouse writer at shutdown, on the real local ClickHouse: a write that has started
lands before a close or a cancellation takes effect, and no aiohttp session is left open
(the worker used to log "ERROR Unclosed client session" when stopped under live traffic).

Each insert goes into a table whose materialised column sleeps 0.4 s per row, so the test
can see the insert running on the server (``system.processes``) and act while it is in flight.
"""

from __future__ import annotations

import asyncio
import gc
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from streams.local.clickhouse import LocalClickHouse
from streams.settings import Settings
from streams.sinks.clickhouse_writer import ClickHouseWriter

pytestmark = pytest.mark.integration

SLOW_S = 0.4


@pytest.fixture
def slow_table(clickhouse: LocalClickHouse, unique: str) -> str:
    clickhouse.sql(f"CREATE DATABASE IF NOT EXISTS {unique}")
    clickhouse.sql(
        f"CREATE TABLE {unique}.slow (id String, slept UInt8 MATERIALIZED sleepEachRow({SLOW_S}))"
        " ENGINE = MergeTree ORDER BY id"
    )
    return f"{unique}.slow"


def _writer(clickhouse: LocalClickHouse, database: str) -> ClickHouseWriter:
    settings = Settings.from_env(
        {"CROSSREC_CLICKHOUSE_URL": clickhouse.url, "CROSSREC_CLICKHOUSE_DATABASE": database}
    )
    return ClickHouseWriter(settings)


def _count(clickhouse: LocalClickHouse, table: str, row_id: str) -> int:
    return int(clickhouse.sql(f"SELECT count() FROM {table} WHERE id = '{row_id}'"))


async def _until_insert_runs(clickhouse: LocalClickHouse, table: str) -> None:
    sql = (
        "SELECT count() FROM system.processes "
        f"WHERE query_kind = 'Insert' AND query LIKE '%{table}%'"
    )
    deadline = time.monotonic() + 10
    while int(await asyncio.to_thread(clickhouse.sql, sql)) == 0:
        assert time.monotonic() < deadline, "the insert never showed up in system.processes"
        await asyncio.sleep(0.02)


@contextmanager
def _unclosed_sessions() -> Iterator[list[str]]:
    """Collects aiohttp's "Unclosed client session" warnings raised while the block runs
    (a session left open warns when it is garbage collected)."""
    found: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        yield found
        gc.collect()
    found += [str(w.message) for w in caught if "Unclosed client session" in str(w.message)]


async def _started_write(
    clickhouse: LocalClickHouse, writer: ClickHouseWriter, table: str, row_id: str
) -> asyncio.Task[None]:
    """A write of one row, returned once ClickHouse is executing it (client already open,
    as in a worker that has been running)."""
    await writer.write(table, ["id"], [["warm-up"]])
    task = asyncio.ensure_future(writer.write(table, ["id"], [[row_id]]))
    await _until_insert_runs(clickhouse, table)
    return task


async def test_closing_mid_write_lands_the_rows_and_leaves_no_session_open(
    clickhouse: LocalClickHouse, unique: str, slow_table: str
) -> None:
    with _unclosed_sessions() as unclosed:
        writer = _writer(clickhouse, unique)
        write = await _started_write(clickhouse, writer, slow_table, "in-flight")
        await writer.close()  # what the worker's shutdown hook did while agents still wrote
        await write
        assert _count(clickhouse, slow_table, "in-flight") == 1
        del writer, write
    assert unclosed == []


async def test_a_write_after_close_lands_and_closes_its_own_client(
    clickhouse: LocalClickHouse, unique: str, slow_table: str
) -> None:
    with _unclosed_sessions() as unclosed:
        writer = _writer(clickhouse, unique)
        await writer.write(slow_table, ["id"], [["before"]])
        await writer.close()
        await writer.write(slow_table, ["id"], [["straggler"]])  # a last batch or a timer
        assert _count(clickhouse, slow_table, "straggler") == 1
        del writer
    assert unclosed == []


async def test_a_cancelled_write_is_durable_before_the_cancel_goes_on(
    clickhouse: LocalClickHouse, unique: str, slow_table: str
) -> None:
    """Faust cancels a stopping agent mid-write and ``take()`` then acks the batch: the
    rows must be in ClickHouse by the time the cancellation reaches the agent."""
    with _unclosed_sessions() as unclosed:
        writer = _writer(clickhouse, unique)
        write = await _started_write(clickhouse, writer, slow_table, "cancelled")
        write.cancel()
        with pytest.raises(asyncio.CancelledError):
            await write
        assert _count(clickhouse, slow_table, "cancelled") == 1
        await writer.close()
        del writer, write
    assert unclosed == []
