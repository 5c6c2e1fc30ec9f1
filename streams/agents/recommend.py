"""events.valid → learn on every event → recommendations (predict → emit → learn).

Thin: decode, hand the event to the learner's
:class:`~streams.recommend_service.RecommendationService`, publish what it served keyed by the
pseudonymous user with the trace and trigger headers. The learner is checkpointed
periodically and on shutdown, and restored (+ caught up) before the worker starts
(:mod:`streams.checkpoint`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from schemas import InvalidEvent, decode_event, encode_recommendation
from streams.app import app, events_valid, recommendations, settings
from streams.checkpoint import (
    Checkpoint,
    catch_up,
    checkpoint_path,
    discard_unpublished,
    load_checkpoint,
    save_in_background,
)
from streams.headers import TRACE_HEADER, TRIGGER_HEADER
from streams.metrics import ONLINE_METRIC, RECOMMENDATIONS_OUT, STAGE_SECONDS
from streams.model_factory import build_service
from streams.outbox import Outbox, TopicOutbox
from streams.recommend_service import Served

log = logging.getLogger(__name__)


learner = Checkpoint(build_service(settings), settings.topic_valid)
already_learnt: dict[int, int] = {}
"""Per partition, the last offset the restored checkpoint holds: not to be learnt twice."""
outbox: Outbox = TopicOutbox(app)
_learn_seconds = STAGE_SECONDS.labels(stage="learn")
_recommend_seconds = STAGE_SECONDS.labels(stage="recommend")
_produce_seconds = STAGE_SECONDS.labels(stage="produce")


def restore_learner() -> int:
    """Load the last checkpoint (if any) and replay up to the committed offsets; before Faust."""
    global learner, already_learnt
    path = checkpoint_path(settings)
    discard_unpublished(path)
    restored = load_checkpoint(path) or learner
    replayed = asyncio.run(catch_up(restored, settings))
    learner, already_learnt = restored, dict(restored.offsets)
    log.info("learner restored: %d events replayed after the checkpoint", replayed)
    return replayed


@app.agent(events_valid)
async def learn_and_recommend(stream: Any) -> AsyncIterator[list[Served]]:
    async for event in stream.events():
        partition, offset = event.message.partition, event.message.offset
        if offset <= already_learnt.get(partition, -1):
            continue  # the restored checkpoint already holds this event
        try:
            decoded = decode_event(event.value or b"")
        except InvalidEvent as exc:
            log.error("events.valid holds a message that breaks the contract: %s", exc)
            continue
        served = learner.service.handle(decoded.event)
        learner.offsets[partition] = offset
        recommend_s, learn_s = learner.service.last_timings
        _learn_seconds.observe(learn_s)
        if recommend_s is not None:
            _recommend_seconds.observe(recommend_s)
        trace = [(k, v) for k, v in (event.headers or {}).items() if k == TRACE_HEADER]
        for item in served:
            rec = item.recommendation
            started = time.perf_counter()
            headers = [*trace, (TRIGGER_HEADER, item.trigger_type.encode())]
            await outbox.send(
                recommendations, rec.user_id.encode(), encode_recommendation(rec), headers
            )
            _produce_seconds.observe(time.perf_counter() - started)
            RECOMMENDATIONS_OUT.labels(variant=rec.variant).inc()
        yield served


@app.timer(interval=settings.snapshot_every_s)  # type: ignore[untyped-decorator]
async def snapshot_learner() -> None:
    await save_in_background(learner, checkpoint_path(settings), outbox.written)


@app.on_before_shutdown.connect  # type: ignore[arg-type]
async def _snapshot_on_shutdown(sender: Any, *args: Any, signal: Any, **kwargs: Any) -> None:
    """SIGTERM: snapshot the learner, then commit what was processed (a crash between the
    two is covered by catch-up replay and the skip-by-offset in the agent)."""
    if await save_in_background(learner, checkpoint_path(settings), outbox.written):
        log.info("learner snapshot written on shutdown")
    try:
        await app.consumer.commit()
    except Exception as exc:
        log.warning("final offset commit failed (will be redelivered): %s", exc)


def publish_online_metrics() -> list[tuple[str, str, float, int]]:
    """Refresh the Prometheus gauges; return the last minute's window for ClickHouse."""
    metrics = learner.service.metrics
    for variant, metric, value, _ in metrics.as_rows():
        ONLINE_METRIC.labels(variant=variant, metric=metric).set(value)
    return metrics.take_window()
