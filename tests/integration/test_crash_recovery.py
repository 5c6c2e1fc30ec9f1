"""SIGKILL the worker mid-stream: after restart (snapshot + catch-up replay) it serves exactly
what an uninterrupted learner serves — every trigger answered, repeats only with the same
rec_id and the same items."""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path

import pytest

from schemas import decode_event, decode_recommendation
from simulator.payload import encode_all
from simulator.traffic import Traffic
from simulator.world import World
from streams.local.clickhouse import LocalClickHouse
from streams.local.kafka import LocalKafka
from streams.model_factory import build_service
from streams.settings import Settings
from tests.integration.kafka_io import consume, produce
from tests.integration.worker_process import running_worker, worker_env

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    "snapshot_every_s",
    [
        "1",  # restore from a snapshot taken just before the crash
        "3600",  # no snapshot at all: rebuild by catch-up replay up to the committed offsets
    ],
)
async def test_killed_worker_resumes_exactly(
    kafka: LocalKafka,
    clickhouse: LocalClickHouse,
    unique: str,
    tmp_path: Path,
    snapshot_every_s: str,
) -> None:
    env = worker_env(kafka, clickhouse, unique, tmp_path)
    env["CROSSREC_TOPIC_PARTITIONS"] = "1"  # one partition: a total order to compare against
    env["CROSSREC_SNAPSHOT_EVERY_S"] = snapshot_every_s
    # Faust's own settings: a killed member leaves the group in seconds, not a minute.
    env["BROKER_SESSION_TIMEOUT"] = "6"
    env["BROKER_HEARTBEAT_INTERVAL"] = "1"
    world = World(seed=23, n_users=200, n_items=300)
    emitted = list(itertools.islice(encode_all(Traffic(world, seed=23)), 2_400))
    messages = [(e.key, e.payload) for e in emitted]
    first, second = messages[:1_400], messages[1_400:]
    topic_in, topic_valid = env["CROSSREC_TOPIC_IN"], env["CROSSREC_TOPIC_VALID"]
    topic_recs = env["CROSSREC_TOPIC_RECOMMENDATIONS"]

    with running_worker(env, tmp_path / "worker-1.log") as worker:
        await produce(kafka.bootstrap, topic_in, first)
        await consume(kafka.bootstrap, topic_valid, len(first))
        await asyncio.sleep(3.5)  # offsets committed (and maybe a snapshot), more traffic, crash
        await produce(kafka.bootstrap, topic_in, second[:300])
        await asyncio.sleep(0.5)
        worker.kill()
        worker.wait()
    with running_worker(env, tmp_path / "worker-2.log"):
        await produce(kafka.bootstrap, topic_in, second[300:])
        want = len(messages)
        while True:  # duplicates may precede the last distinct events
            valid = await consume(kafka.bootstrap, topic_valid, want)
            ids = {decode_event(r.value or b"").event.event_id for r in valid}
            if len(ids) >= len(messages) or len(valid) < want:
                break
            want = len(valid) + len(messages) - len(ids)
        expected = _uninterrupted(env, [r.value or b"" for r in valid])
        received = await _until_answered(kafka.bootstrap, topic_recs, set(expected))

    logs = (tmp_path / "worker-2.log").read_text()[-3000:]
    # Ingestion is at-least-once across a crash (its de-duplication window is not
    # checkpointed), so events.valid may repeat an event; the learner ignores repeats.
    assert len(ids) == len(messages), logs
    assert expected, "the traffic triggers recommendations"
    missing = set(expected) - {source for source, _, _ in received}
    assert not missing, f"{len(missing)} triggers never answered\n{logs}"
    for source, rec_id, items in received:
        assert (rec_id, items) == expected[source], f"{source}: differs from uninterrupted run"


def _uninterrupted(env: dict[str, str], valid: list[bytes]) -> dict[str, tuple[str, list[str]]]:
    """What one learner that never crashed serves for the same validated events."""
    service = build_service(Settings.from_env(env))
    out = {}
    for raw in valid:
        for served in service.handle(decode_event(raw).event):
            rec = served.recommendation
            out[rec.source_event_id] = (rec.rec_id, [i.item_id for i in rec.items])
    return out


async def _until_answered(
    bootstrap: str, topic: str, wanted: set[str], timeout: float = 90.0
) -> list[tuple[str, str, list[str]]]:
    deadline = time.monotonic() + timeout
    while True:
        records = await consume(bootstrap, topic, expected=10**9, timeout=5.0)
        recs = [decode_recommendation(r.value or b"") for r in records]
        got = [(r.source_event_id, r.rec_id, [i.item_id for i in r.items]) for r in recs]
        if wanted <= {g[0] for g in got} or time.monotonic() > deadline:
            return got
