"""Reading back from the real local ClickHouse in integration tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

import clickhouse_connect

from streams.local.clickhouse import LocalClickHouse


async def wait_for_rows(
    server: LocalClickHouse,
    sql: str,
    until: int,
    parameters: Mapping[str, Any] | None = None,
    timeout: float = 60.0,
) -> list[tuple[Any, ...]]:
    """Poll ``sql`` until it returns at least ``until`` rows (tables may not exist yet)."""
    client = clickhouse_connect.get_client(host="127.0.0.1", port=server.http_port)
    rows: list[tuple[Any, ...]] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            try:
                result = client.query(sql, parameters=dict(parameters or {}))
                rows = [tuple(r) for r in result.result_rows]
            except Exception:
                rows = []
            if len(rows) >= until:
                break
            await asyncio.sleep(0.3)
    finally:
        client.close()
    return rows
