"""What the worker measures about itself: consumer lag every few seconds, and event-loop lag
(how late a 100 ms tick fires) all the time (Prometheus + dashboard).

Why the loop lag: every agent shares one event loop, so anything that holds it — a GC pause,
the fork of a snapshot, encoding a large sink batch — delays every event in flight; the
stage histograms only see the stage that was running. The tick's lateness is that delay.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping

from streams.app import app
from streams.metrics import CONSUMER_LAG, LOOP_LAG_SECONDS

log = logging.getLogger(__name__)


def lag_by_topic(
    partitions: Iterable[tuple[str, int | None, int | None]],
) -> dict[str, int]:
    """Sum per topic of (high-water mark − next offset to read), from
    ``(topic, highwater, last_read_offset)`` triples; unknown high-water counts as 0.

    >>> lag_by_topic([("a", 10, 4), ("a", 5, None), ("b", None, 3)])
    {'a': 10, 'b': 0}
    """
    lag: dict[str, int] = defaultdict(int)
    for topic, highwater, read in partitions:
        behind = 0 if highwater is None else highwater - (0 if read is None else read + 1)
        lag[topic] += max(0, behind)
    return dict(lag)


def current_lag() -> Mapping[str, int]:
    consumer = app.consumer
    # Faust keeps the last offset handed to streams in ``_read_offset`` (no public API).
    read_offsets: Mapping[object, int | None] = getattr(consumer, "_read_offset", {})
    triples = []
    for tp in consumer.assignment():
        try:
            highwater = consumer.highwater(tp)
        except Exception:  # not fetched yet
            highwater = None
        triples.append((tp.topic, highwater, read_offsets.get(tp)))
    return lag_by_topic(triples)


@app.timer(interval=5.0)  # type: ignore[untyped-decorator]
async def measure_lag() -> None:
    for topic, lag in current_lag().items():
        CONSUMER_LAG.labels(topic=topic).set(lag)


LOOP_TICK_S = 0.1


@app.task  # type: ignore[untyped-decorator]
async def measure_loop_lag() -> None:
    loop = asyncio.get_running_loop()
    while True:
        started = loop.time()
        await asyncio.sleep(LOOP_TICK_S)
        LOOP_LAG_SECONDS.observe(max(0.0, loop.time() - started - LOOP_TICK_S))
