"""Stream → ClickHouse: validated events, served recommendations and per-minute model metrics.

Batches are written from inside ``stream.take()`` and the writer retries until ClickHouse has
them, so offsets are acknowledged only after the rows are durable (DESIGN.md). Tables are
ReplacingMergeTree on deterministic ids, so a replay after a crash never double counts.

At shutdown Faust cancels the agents and timers, possibly mid-write, and ``take()`` acks the
batch anyway: a batch that has started to be stored is finished first (the writer's
``finish_despite_cancel``), and the writer is closed only after every agent and timer has
stopped — not in ``on_before_shutdown``, which fires while they still run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from schemas import Forget, InvalidEvent, decode_event, decode_recommendation
from streams.agents import recommend
from streams.app import app, events_valid, recommendations, settings
from streams.headers import TRIGGER_HEADER, is_copy
from streams.metrics import FORGET_SECONDS
from streams.sinks.clickhouse_writer import ClickHouseWriter, finish_despite_cancel
from streams.sinks.erasures import (
    ERASURE_COLUMNS,
    RecentErasures,
    load_tombstones,
    tombstone_rows,
)
from streams.sinks.rows import (
    EVENT_COLUMNS,
    MODEL_METRIC_COLUMNS,
    RECOMMENDATION_COLUMNS,
    ModelMetric,
    event_row,
    model_metric_row,
    recommendation_row,
)

log = logging.getLogger(__name__)

writer = ClickHouseWriter(settings)
_db = settings.clickhouse_database
ERASABLE_TABLES = (f"{_db}.events", f"{_db}.recommendations")
"""Every table that holds per-user rows; a forget event empties them of that pseudonym."""
erasures = RecentErasures(second_pass_after_s=max(5.0, 4 * settings.sink_batch_seconds))
"""Recent forgets: late recommendations for them are dropped, and erased a second time."""


def _take_events(stream: Any) -> Any:
    return stream.take_events(settings.sink_batch_rows, within=settings.sink_batch_seconds)


@app.agent(events_valid)
async def sink_events(stream: Any) -> AsyncIterator[int]:
    async for batch in _take_events(stream):
        now = datetime.now(UTC)
        rows: list[list[Any]] = []
        forgotten: list[tuple[str, float]] = []
        for message in batch:
            if is_copy(message.headers):
                continue  # a copy: the event itself is written from its own partition
            try:
                event = decode_event(message.value or b"").event
            except InvalidEvent as exc:
                # Only ingestion writes events.valid: a foreign producer did this. Say so.
                log.error("events.valid holds a message that breaks the contract: %s", exc)
                continue
            rows.append(event_row(event, now))
            if isinstance(event, Forget):
                forgotten.append((event.user_id, event.ts.timestamp()))
                erasures.record(event.user_id, event.ts.timestamp(), time.monotonic())
        # One unit: cancelled between the insert and the erasure, the batch would be acked
        # with the forget never applied to ClickHouse.
        stored = _store_events(rows, forgotten, now)
        await finish_despite_cancel(stored, writer.finish_on_cancel_s)
        yield len(rows)


async def _store_events(
    rows: list[list[Any]], forgotten: list[tuple[str, float]], now: datetime
) -> None:
    await writer.write(f"{_db}.events", EVENT_COLUMNS, rows)
    if forgotten:  # after the insert, so the forget's own batch is erased too
        started = time.perf_counter()
        await writer.erase_users([user for user, _ in forgotten], tables=ERASABLE_TABLES)
        # The tombstones (the memory of this erasure that survives a restart), then the ack.
        await writer.write(f"{_db}.erasures", ERASURE_COLUMNS, tombstone_rows(forgotten, now))
        FORGET_SECONDS.observe(time.perf_counter() - started)
        log.info("erased %d user(s) from ClickHouse", len(forgotten))


def restore_erasures(client: Any) -> int:
    """Reload recent tombstones into :data:`erasures` (start-up, before any consumption); the
    second pass is rerun for erasures young enough that it may not have run before the stop."""
    now_wall, now = time.time(), time.monotonic()
    tombstones = load_tombstones(client, _db, erasures.capacity)
    for user, forget_ts, erased_at in tombstones:
        recent = now_wall - erased_at < 2 * erasures.second_pass_after_s
        erasures.record(user, forget_ts, now, second_pass=recent)
    return len(tombstones)


@app.agent(recommendations)
async def sink_recommendations(stream: Any) -> AsyncIterator[int]:
    async for batch in _take_events(stream):
        rows = []
        for event in batch:
            try:
                rec = decode_recommendation(event.value or b"")
            except InvalidEvent as exc:
                log.error("recommendations holds a message that breaks the contract: %s", exc)
                continue
            if erasures.suppresses(rec.user_id, rec.event_ts.timestamp()):
                continue  # served before the user's forget: never written back
            trigger = dict(event.headers or {}).get(TRIGGER_HEADER, b"").decode()
            rows.append(recommendation_row(rec, trigger))
        await writer.write(f"{_db}.recommendations", RECOMMENDATION_COLUMNS, rows)
        yield len(rows)


@app.timer(interval=1.0)  # type: ignore[untyped-decorator]
async def erase_late_answers() -> None:
    """Second pass of each erasure: a recommendation insert that raced the first DELETE."""
    for user, forget_ts in erasures.due(time.monotonic()):
        await writer.erase_answers_until(f"{_db}.recommendations", user, forget_ts)


@app.timer(interval=60.0)  # type: ignore[untyped-decorator]
async def sink_model_metrics() -> None:
    now = datetime.now(UTC)
    version = recommend.learner.service.config.model_version
    rows = [
        model_metric_row(ModelMetric(now, version, variant, metric, value, count), now)
        for variant, metric, value, count in recommend.publish_online_metrics()
        if count
    ]
    await writer.write(f"{_db}.model_metrics", MODEL_METRIC_COLUMNS, rows)


# mode stops a service in this order: on_stop (Faust's on_before_shutdown), its children (the
# agents), its futures (the timers), then its exit stack. Closing here, nothing writes after.
app.async_exit_stack.push_async_callback(writer.close)
