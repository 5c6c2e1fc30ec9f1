"""Two workers in one consumer group (docs/runbook.md, "Scale") on the real local Kafka.

events.valid is keyed by user, so each worker learns the users of its partitions; but each
worker needs the whole catalogue, so ingestion copies catalogue upserts to every partition.
Here every catalogue upsert is keyed onto partition 0 and the users sit on both partitions:
without the copies, the worker owning partition 1 would know no item and answer nobody.
The ClickHouse sink writes each catalogue event once (it skips the copies).
"""

from __future__ import annotations

import asyncio
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiokafka.partitioner import DefaultPartitioner

from schemas import (
    Click,
    ItemUpsert,
    decode_recommendation,
    encode_event,
    pseudonymise,
)
from streams.headers import is_copy
from streams.local.clickhouse import LocalClickHouse
from streams.local.kafka import LocalKafka
from streams.local.process import free_port
from tests.integration.clickhouse_io import wait_for_rows
from tests.integration.kafka_io import consume, produce
from tests.integration.worker_process import running_worker, worker_env

pytestmark = pytest.mark.integration

START = datetime(2026, 11, 29, 10, tzinfo=UTC)
PARTITIONS = [0, 1]  # worker_env's CROSSREC_TOPIC_PARTITIONS


def _partition(key: bytes) -> int:
    """The partition the worker's producer picks for ``key`` (aiokafka's default)."""
    partition: int = DefaultPartitioner()(key, PARTITIONS, PARTITIONS)
    return partition


def _catalogue(n: int) -> list[ItemUpsert]:
    """Courses whose events.valid key (``item:<id>``) lands on partition 0."""
    ids = (f"course-{i:05d}" for i in range(100_000))
    chosen = [i for i in ids if _partition(b"item:" + i.encode()) == 0][:n]
    return [
        ItemUpsert(
            event_id=f"two-workers-item-{item_id}",
            ts=START,
            item_id=item_id,
            domain="course",
            partner_id=None,
            title=f"Course {item_id}",
            tags=("cooking", f"t{n % 7}"),
            price=20.0,
            active=True,
        )
        for n, item_id in enumerate(chosen)
    ]


def _users(key: bytes, per_partition: int) -> dict[str, int]:
    """Raw user id -> the partition of its pseudonym, ``per_partition`` users on each."""
    users: dict[str, int] = {}
    counts = dict.fromkeys(PARTITIONS, 0)
    for i in range(10_000):
        raw = f"user-two-workers-{i}"
        partition = _partition(pseudonymise(key, raw).encode())
        if counts[partition] < per_partition:
            users[raw] = partition
            counts[partition] += 1
    return users


def _ready(port: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


async def _until_ready(*ports: str, timeout: float = 90.0) -> None:
    """Both workers own a partition (with two partitions: one each, after the rebalance)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all([await asyncio.to_thread(_ready, port) for port in ports]):
            return
        await asyncio.sleep(0.5)
    raise AssertionError("the two workers did not both own a partition in time")


async def test_each_of_two_workers_knows_the_whole_catalogue(
    kafka: LocalKafka, clickhouse: LocalClickHouse, unique: str, tmp_path: Path
) -> None:
    env_a = worker_env(kafka, clickhouse, unique, tmp_path / "a")
    env_a["CROSSREC_EXPERIMENT"] = "two:full=1"
    env_b = {
        **env_a,
        "CROSSREC_METRICS_PORT": str(free_port()),
        "CROSSREC_WEB_PORT": str(free_port()),
        "CROSSREC_DATA_DIR": str(tmp_path / "b"),
    }
    key = env_a["CROSSREC_PSEUDONYM_KEY"].encode()
    catalogue = _catalogue(40)
    users = _users(key, per_partition=6)
    clicks = [
        Click(
            event_id=f"two-workers-click-{n}",
            ts=START + timedelta(seconds=10 + n),
            user_id=raw,
            item_id=catalogue[n % len(catalogue)].item_id,
            surface="home",
        )
        for n, raw in enumerate(users)
    ]
    topic_in = env_a["CROSSREC_TOPIC_IN"]

    with (
        running_worker(env_a, tmp_path / "a.log"),
        running_worker(env_b, tmp_path / "b.log"),
    ):
        await _until_ready(env_a["CROSSREC_WEB_PORT"], env_b["CROSSREC_WEB_PORT"])
        await produce(kafka.bootstrap, topic_in, [(None, encode_event(i)) for i in catalogue])
        # Every catalogue event and all its copies in events.valid before any click: a click
        # ingested earlier could reach its partition before the copy of its item (the test
        # waited for only as many records as items, and once lost an answer that way).
        await consume(
            kafka.bootstrap,
            env_a["CROSSREC_TOPIC_VALID"],
            len(catalogue) * (1 + len(PARTITIONS)),
        )
        await produce(
            kafka.bootstrap, topic_in, [(c.user_id.encode(), encode_event(c)) for c in clicks]
        )
        records = await consume(
            kafka.bootstrap,
            env_a["CROSSREC_TOPIC_RECOMMENDATIONS"],
            len(clicks),
            timeout=60,
        )
        valid = await consume(
            kafka.bootstrap,
            env_a["CROSSREC_TOPIC_VALID"],
            len(catalogue) * (1 + len(PARTITIONS)) + len(clicks),
        )
        stored = await wait_for_rows(
            clickhouse,
            f"SELECT event_id FROM `{unique}`.events WHERE event_type = 'item'",
            until=len(catalogue),
        )

    answered = {decode_recommendation(r.value or b"").user_id for r in records}
    by_pseudonym = {pseudonymise(key, raw): partition for raw, partition in users.items()}
    assert answered <= set(by_pseudonym)
    # Every user is new; even the first click a worker sees, on a model that has learnt
    # nothing yet, is answered from the clicked item's tags (content similarity).
    assert answered == set(by_pseudonym)
    items = {i.item_id for i in catalogue}
    for record in records:
        rec = decode_recommendation(record.value or b"")
        assert rec.items and {i.item_id for i in rec.items} <= items
    assert sorted(stored) == sorted((i.event_id,) for i in catalogue), "each written once"
    copies = [r for r in valid if is_copy(r.headers)]
    assert len(copies) == len(catalogue) * len(PARTITIONS)
    assert {r.partition for r in copies} == set(PARTITIONS)
