"""Issue 'Survive crashes, outages and hostile input': 5 % hostile input through a real worker.

~10,000 simulator messages, 5 % of them hostile (the simulator's own mixer, byte-identical
replays of earlier valid events included), go through ``crossrec worker`` on the real local
Kafka. Every valid event reaches ``events.valid`` exactly once and pseudonymised; every hostile
payload reaches ``events.dlq`` with its original bytes and a reason (replays as
``duplicate``); the worker never crashes; valid-event throughput is printed.
"""

from __future__ import annotations

import os
import re
import time
from collections import Counter
from pathlib import Path

import pytest

from schemas import decode_event, is_pseudonym
from simulator.hostile import REPLAYED_ID
from simulator.ledger import Ledger
from streams.local.clickhouse import LocalClickHouse
from streams.local.kafka import LocalKafka
from tests.integration.resilience_tools import (
    originals,
    produce_all,
    read_topic,
    simulated,
    wait_until,
    worker_log_problems,
)
from tests.integration.worker_process import running_worker, worker_env

pytestmark = pytest.mark.integration

MESSAGES = int(os.environ.get("CROSSREC_TEST_HOSTILE_MESSAGES", "10000"))
MIN_VALID_PER_S = 100.0


async def test_hostile_input_is_dead_lettered_and_valid_events_pass_exactly_once(
    kafka: LocalKafka, clickhouse: LocalClickHouse, unique: str, tmp_path: Path
) -> None:
    env = worker_env(kafka, clickhouse, unique, tmp_path)
    log = tmp_path / "worker.log"
    messages = simulated(seed=31, n=MESSAGES, hostile=0.05)
    hostile = [m for m in messages if m.kind is not None]
    assert any(m.kind == REPLAYED_ID for m in hostile), "the mix must contain replayed ids"
    ledger = Ledger()

    with running_worker(env, log) as worker:
        started = time.time()
        await produce_all(kafka.bootstrap, env["CROSSREC_TOPIC_IN"], messages, ledger)
        valid = await wait_until(
            lambda: read_topic(kafka.bootstrap, env["CROSSREC_TOPIC_VALID"]),
            lambda recs: len(recs) >= ledger.valid_events,
            timeout=120,
            interval=1.0,
        )
        dead = await wait_until(
            lambda: read_topic(kafka.bootstrap, env["CROSSREC_TOPIC_DLQ"]),
            lambda recs: len(recs) >= ledger.hostile,
            timeout=60,
            interval=1.0,
        )
        still_alive = worker.poll() is None
        # Late extras (a doubled event, a doubled dead letter) would show up now.
        valid = await read_topic(kafka.bootstrap, env["CROSSREC_TOPIC_VALID"])
        dead = await read_topic(kafka.bootstrap, env["CROSSREC_TOPIC_DLQ"])
    tail = log.read_text(errors="replace")[-3000:]

    # --- zero crashes
    assert still_alive, f"the worker died under hostile input\n{tail}"
    assert not worker_log_problems(log), "\n".join(worker_log_problems(log)[:20])

    # --- every valid event exactly once, pseudonymised
    assert ledger.payloads == len(messages)
    kept = originals(valid)  # without the copies of catalogue upserts and erasures
    events = [decode_event(r.value or b"").event for r in kept]
    seen = Counter(e.event_id for e in events)
    doubled = {i: n for i, n in seen.items() if n > 1}
    assert not doubled, f"{len(doubled)} valid events repeated on events.valid"
    missing = ledger.event_ids - set(seen)
    extra = set(seen) - ledger.event_ids
    assert not missing, (
        f"{len(missing)} of {ledger.valid_events} valid events never arrived\n{tail}"
    )
    assert not extra, f"{len(extra)} events on events.valid were never produced as valid"
    raw_ids = re.compile("|".join(re.escape(u) for u in sorted(ledger.users)).encode())
    for record, event in zip(kept, events, strict=True):
        if event.user_id is not None:
            assert is_pseudonym(event.user_id), event
            assert record.key == event.user_id.encode()
        assert raw_ids.search(record.value or b"") is None, "a raw user id on events.valid"
        assert raw_ids.search(record.key or b"") is None, "a raw user id as a key"

    # --- every hostile payload dead-lettered once, original bytes, with a reason
    assert Counter(r.value for r in dead) == Counter(m.payload for m in hostile)
    replayed = Counter(m.payload for m in hostile if m.kind == REPLAYED_ID)
    duplicates: Counter[bytes | None] = Counter()
    for record in dead:
        headers = dict(record.headers)
        assert headers.get("error_code"), "a dead letter without error_code"
        assert headers.get("error_reason"), "a dead letter without error_reason"
        if headers["error_code"] == b"duplicate":
            duplicates[record.value] += 1
    assert duplicates == replayed, "replayed ids are dead-lettered as 'duplicate', nothing else"

    # --- throughput (producer timestamps of events.valid: when the worker emitted them)
    first_emit = min(r.timestamp for r in valid) / 1000.0
    last_emit = max(r.timestamp for r in valid) / 1000.0
    rate = ledger.valid_events / max(last_emit - started, 1e-3)
    steady = ledger.valid_events / max(last_emit - first_emit, 1e-3)
    codes = Counter(dict(r.headers)["error_code"].decode() for r in dead)
    print(
        f"\nhostile run: {ledger.valid_events} valid + {ledger.hostile} hostile messages; "
        f"valid-event throughput {rate:,.0f} ev/s from produce start (worker's consumer "
        f"group join included), {steady:,.0f} ev/s first → last events.valid; "
        f"dead letters by code {dict(sorted(codes.items()))}"
    )
    assert rate > MIN_VALID_PER_S, f"valid-event throughput {rate:.0f}/s"
