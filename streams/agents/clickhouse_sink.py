"""events.valid → ClickHouse ``events``, in batches acknowledged only once written."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from schemas import InvalidEvent, decode_event
from streams.app import app, events_valid, settings
from streams.sinks.clickhouse_writer import ClickHouseWriter
from streams.sinks.rows import EVENT_COLUMNS, event_row

log = logging.getLogger(__name__)

writer = ClickHouseWriter(settings)


@app.agent(events_valid)
async def sink_events(stream: Any) -> AsyncIterator[int]:
    try:
        async for batch in stream.take(
            settings.sink_batch_rows, within=settings.sink_batch_seconds
        ):
            now = datetime.now(UTC)
            rows = []
            for raw in batch:
                try:
                    rows.append(event_row(decode_event(raw).event, now))
                except InvalidEvent as exc:
                    # Only ingestion writes events.valid: a foreign producer did this. Say so.
                    log.error("events.valid holds a message that breaks the contract: %s", exc)
            await writer.write(f"{settings.clickhouse_database}.events", EVENT_COLUMNS, rows)
            yield len(rows)
    finally:
        await writer.close()
