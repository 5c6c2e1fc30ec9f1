"""Issue 'Survive crashes, outages and hostile input': the Kafka broker restarts mid-run.

The session broker is stopped while the worker is busy, stays down for
``CROSSREC_TEST_KAFKA_DOWN_S`` seconds (default 10) and comes back with the same data and ports.
The worker must reconnect by itself and resume: every valid event the producer got an
acknowledgement for reaches ``events.valid`` and ClickHouse (``events FINAL``, once each).
The producer counts only acknowledged sends in the ledger and sends again, after the restart,
whatever it could not deliver while the broker was down — as a real app would. (Users who
sent ``forget`` are erased from ClickHouse by design and checked to be gone.) Kafka is
restarted in ``finally``: other tests share it.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from pathlib import Path

import pytest

from schemas import decode_event
from simulator.ledger import Ledger
from streams.local.clickhouse import LocalClickHouse
from streams.local.kafka import LocalKafka
from tests.integration.resilience_tools import (
    counts_by_type,
    erased,
    kept,
    produce_all,
    produce_counted,
    pseudonyms,
    read_topic,
    simulated,
    stored_event_ids,
    stored_ids_of,
    wait_until,
    worker_log_problems,
)
from tests.integration.worker_process import running_worker, worker_env

pytestmark = pytest.mark.integration

DOWN_S = float(os.environ.get("CROSSREC_TEST_KAFKA_DOWN_S", "10"))
BEFORE, DURING, AFTER = 3_000, 500, 1_500


async def test_worker_resumes_after_a_broker_restart_with_nothing_lost(
    kafka: LocalKafka, clickhouse: LocalClickHouse, unique: str, tmp_path: Path
) -> None:
    env = worker_env(kafka, clickhouse, unique, tmp_path)
    log = tmp_path / "worker.log"
    messages = simulated(seed=53, n=BEFORE + DURING + AFTER)
    before, during, after = (
        messages[:BEFORE], messages[BEFORE : BEFORE + DURING], messages[BEFORE + DURING :]
    )  # fmt: skip
    topic_in, topic_valid = env["CROSSREC_TOPIC_IN"], env["CROSSREC_TOPIC_VALID"]
    ledger = Ledger()
    alive_during: list[bool] = []

    with running_worker(env, log) as worker:
        await produce_all(kafka.bootstrap, topic_in, before, ledger)
        # Stop the broker while the worker is mid-stream: some events are through, not all.
        await wait_until(
            lambda: read_topic(kafka.bootstrap, topic_valid),
            lambda recs: len(recs) >= BEFORE // 3,
            timeout=60,
            interval=0.3,
        )
        kafka.stop()
        try:
            down_at = time.monotonic()
            unsent = await produce_counted(
                kafka.bootstrap, topic_in, during, ledger, timeout_s=min(3.0, DOWN_S / 3)
            )
            while time.monotonic() - down_at < DOWN_S:
                alive_during.append(worker.poll() is None)
                await asyncio.sleep(0.5)
        finally:  # LocalKafka.start runs its own event loop: not on this one
            await asyncio.to_thread(kafka.start)
        restarted_at = time.monotonic()
        await produce_all(kafka.bootstrap, topic_in, [*unsent, *after], ledger)

        valid = await wait_until(
            lambda: read_topic(kafka.bootstrap, topic_valid),
            lambda recs: _ids(recs) >= ledger.event_ids,
            timeout=120,
            interval=1.0,
        )
        resumed_s = time.monotonic() - restarted_at
        forgotten = pseudonyms(env["CROSSREC_PSEUDONYM_KEY"], ledger.forgotten_users)
        expected = kept(messages, ledger)
        stored = await wait_until(
            lambda: asyncio.to_thread(stored_event_ids, clickhouse, unique, forgotten),
            lambda ids: len(ids) >= expected.valid_events,
            timeout=60,
        )
        by_type = counts_by_type(clickhouse, unique, forgotten)
        not_erased = stored_ids_of(clickhouse, unique, erased(messages, ledger))
        alive_after = worker.poll() is None
    tail = log.read_text(errors="replace")[-3000:]

    repeats = sum(n - 1 for n in Counter(_event_ids(valid)).values())
    print(
        f"\nKafka down {DOWN_S:.0f} s: {len(during) - len(unsent)} of {len(during)} sends "
        f"acknowledged while down; every event on events.valid {resumed_s:.1f} s after the "
        f"restart; {repeats} repeats on events.valid (at-least-once), "
        f"{len(stored)} distinct in events FINAL"
    )
    assert all(alive_during) and alive_after, f"the worker died with the broker\n{tail}"
    assert not worker_log_problems(log), "\n".join(worker_log_problems(log)[:20])
    lost = ledger.event_ids - _ids(valid)
    assert not lost, f"{len(lost)} of {ledger.valid_events} events never reached events.valid"
    assert _ids(valid) == ledger.event_ids, "events.valid holds events never produced"
    assert set(stored) == expected.event_ids, (
        f"{len(expected.event_ids - set(stored))} events missing from ClickHouse\n{tail}"
    )
    assert all(n == 1 for n in stored.values()), "an event counted twice in events FINAL"
    assert by_type == expected.by_type
    assert not not_erased, f"forgotten users' events still in ClickHouse: {sorted(not_erased)}"


def _event_ids(records: list) -> list[str]:  # type: ignore[type-arg]
    return [decode_event(r.value or b"").event.event_id for r in records]


def _ids(records: list) -> set[str]:  # type: ignore[type-arg]
    return set(_event_ids(records))
