"""The two measurements, applied alike to the worker and to the bare loop.

*Drain*: produce a batch as fast as possible and time the pipeline from its first output to
its last (broker timestamps of the output topics, written by the pipeline's own producer),
confirmed by the consumer group's lag reaching zero. *Paced*: produce at a fixed rate for a
fixed time while a separate consumer receives the output, and take produce → receipt latency
from the ``produced_at_ns`` header each output carries.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from simulator.output import produce_to_kafka
from simulator.payload import Emitted
from streams.bench.collector import OutputCollector, TopicRecord
from streams.bench.kafka_probe import BenchError, KafkaProbe
from streams.bench.stats import latency_summary, rate


@dataclass(frozen=True)
class Pipeline:
    """A system under test as the instruments see it: where to write, what to watch."""

    name: str
    input_topic: str
    group_id: str
    consumed_topics: tuple[str, ...]
    outputs: dict[str, str]  # stage label -> topic
    processed_stage: str  # label whose message count is "events processed"
    latency_stages: tuple[str, ...]  # labels to take latency from, preferred first
    alive: Callable[[], bool]


@dataclass
class Observation:
    """Raw result of one phase, before it is turned into figures."""

    produced: int
    produce_s: float
    produce_rate: float | None
    drained_at: float | None
    records: dict[str, TopicRecord]
    collector_caught_up: bool
    backlog: int


async def observe(
    probe: KafkaProbe,
    pipeline: Pipeline,
    messages: list[Emitted],
    produce_rate: float | None,
    drain_timeout: float,
) -> Observation:
    """Produce ``messages`` (at ``produce_rate`` or flat out); watch the outputs until drained."""
    options = probe.options
    topic_of = {topic: label for label, topic in pipeline.outputs.items()}
    start = await probe.end_offsets(pipeline.outputs.values())
    collector = OutputCollector(options, start)
    await collector.start()
    try:
        producer_options = {k: v for k, v in options.items() if k != "bootstrap_servers"}
        sent = await produce_to_kafka(
            options["bootstrap_servers"],
            pipeline.input_topic,
            messages,
            produce_rate,
            producer_options=producer_options,
        )
        if sent.failed:
            raise BenchError(f"{sent.failed} messages could not be produced: {sent.first_error}")
        drained_at = await probe.wait_drained(
            pipeline.group_id, list(pipeline.consumed_topics), drain_timeout, pipeline.alive
        )
        backlog = 0
        if drained_at is None:
            backlog = await probe.lag(pipeline.group_id, pipeline.consumed_topics) or -1
        ends = await probe.end_offsets(pipeline.outputs.values())
        caught_up = await collector.caught_up(ends)
    finally:
        await collector.stop()
    records = {topic_of[topic]: record for topic, record in collector.records.items()}
    return Observation(
        produced=sent.acked,
        produce_s=round(sent.elapsed_s, 3),
        produce_rate=rate(sent.acked, sent.elapsed_s),
        drained_at=drained_at,
        records=records,
        collector_caught_up=caught_up,
        backlog=backlog,
    )


def throughput(pipeline: Pipeline, obs: Observation) -> dict[str, Any]:
    """Events processed per second between the first and the last output of the phase.

    ``events_per_s`` ends at the last output message; ``events_per_s_until_lag_zero`` ends
    when the group had committed everything (later by up to a commit interval: a lower bound).
    """
    processed = obs.records[pipeline.processed_stage]
    lasts = [r.last_ms for r in obs.records.values() if r.last_ms is not None]
    figures: dict[str, Any] = {
        "produced": obs.produced,
        "produce_s": obs.produce_s,
        "produce_rate": obs.produce_rate,
        "processed": processed.count,
        "outputs": {label: r.count for label, r in obs.records.items()},
        "drained": obs.drained_at is not None,
        "backlog_at_timeout": obs.backlog,
        "events_per_s": None,
        "window_s": None,
        "events_per_s_until_lag_zero": None,
        "lag_zero_after_last_output_s": None,
    }
    if processed.first_ms is None or not lasts:
        return figures
    window = (max(lasts) - processed.first_ms) / 1000
    figures["window_s"] = round(window, 3)
    figures["events_per_s"] = rate(processed.count, window)
    if obs.drained_at is not None:
        figures["events_per_s_until_lag_zero"] = rate(
            processed.count, obs.drained_at - processed.first_ms / 1000
        )
        figures["lag_zero_after_last_output_s"] = round(obs.drained_at - max(lasts) / 1000, 3)
    return figures


def latency(pipeline: Pipeline, obs: Observation) -> dict[str, Any]:
    """Latency per output stage, and which stage the headline figure comes from."""
    per_stage = {
        label: latency_summary(obs.records[label].latencies_ns) for label in pipeline.latency_stages
    }
    measured = next((label for label in pipeline.latency_stages if per_stage[label]["count"]), None)
    return {"measured_stage": measured, "headline": per_stage.get(measured or ""), **per_stage}


async def drain_phase(
    probe: KafkaProbe, pipeline: Pipeline, messages: list[Emitted], drain_timeout: float
) -> dict[str, Any]:
    obs = await observe(probe, pipeline, messages, None, drain_timeout)
    return throughput(pipeline, obs)


async def paced_phase(
    probe: KafkaProbe,
    pipeline: Pipeline,
    messages: list[Emitted],
    events_per_s: float,
    drain_timeout: float,
) -> dict[str, Any]:
    started = time.monotonic()
    obs = await observe(probe, pipeline, messages, events_per_s, drain_timeout)
    figures = throughput(pipeline, obs)
    figures.update(
        target_rate=events_per_s,
        duration_s=round(len(messages) / events_per_s, 3),
        phase_s=round(time.monotonic() - started, 3),
        latency_ms=latency(pipeline, obs),
    )
    return figures
