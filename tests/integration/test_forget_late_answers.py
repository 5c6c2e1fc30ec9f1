"""Right to be forgotten vs recommendations still in flight, on the real Kafka + ClickHouse.

A recommendation served before the learner saw a user's forget can reach the sink after the
DELETE ran (it travels on another topic). It must not write the user back — not even when it
arrives after the worker restarted — while an answer to an event after the forget (the user
came back) is new data and is kept.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from schemas import (
    Forget,
    Recommendation,
    RecommendedItem,
    encode_event,
    encode_recommendation,
    pseudonymise,
)
from streams.local.clickhouse import LocalClickHouse
from streams.local.kafka import LocalKafka
from tests.integration.clickhouse_io import wait_for_rows
from tests.integration.kafka_io import produce
from tests.integration.resilience_tools import scrape, wait_until
from tests.integration.worker_process import running_worker, worker_env

pytestmark = pytest.mark.integration


def _answer(rec_id: str, user: str, event_ts: datetime) -> bytes:
    item = RecommendedItem(
        item_id="course-0001", domain="course", partner=None, score=1.0, p_click=0.1,
        reason="popular",
    )  # fmt: skip
    rec = Recommendation(
        rec_id=rec_id,
        user_id=user,
        items=(item,),
        variant="full",
        model_version="test",
        source_event_id=f"src-{rec_id}",
        event_ts=event_ts,
        generated_at=event_ts,
    )
    return encode_recommendation(rec)


async def _forget_processed(metrics_port: int, timeout: float = 60.0) -> None:
    erased = await wait_until(
        lambda: asyncio.to_thread(scrape, metrics_port, "crossrec_forget_seconds_count"),
        bool,
        timeout,
        interval=0.3,
    )
    assert erased, "the sink never erased the forgotten user"


Messages = list[tuple[bytes | None, bytes]]


def _forget_then_late_answers(
    env: dict[str, str], unique: str
) -> tuple[bytes, Messages, list[str]]:
    """A forget of "late-user"; then answers to an event of theirs before it (to drop), to
    one after it (the user came back: kept) and to another user's earlier event (kept)."""
    key = env["CROSSREC_PSEUDONYM_KEY"].encode()
    gone, other = pseudonymise(key, "late-user"), pseudonymise(key, "other-user")
    forget_ts = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    before, after = forget_ts - timedelta(seconds=1), forget_ts + timedelta(seconds=1)
    forget = Forget(event_id=f"{unique}-forget", ts=forget_ts, user_id="late-user")
    late: Messages = [
        (gone.encode(), _answer(f"r-{unique}-late", gone, before)),
        (gone.encode(), _answer(f"r-{unique}-back", gone, after)),
        (other.encode(), _answer(f"r-{unique}-other", other, before)),
    ]
    return encode_event(forget), late, [f"r-{unique}-back", f"r-{unique}-other"]


async def _forget(kafka: LocalKafka, env: dict[str, str], forget: bytes) -> None:
    """Send the forget and wait until the sink has erased the user."""
    await produce(kafka.bootstrap, env["CROSSREC_TOPIC_IN"], [(None, forget)])
    await _forget_processed(int(env["CROSSREC_METRICS_PORT"]))


async def _answers_after_a_few_batches(
    kafka: LocalKafka, clickhouse: LocalClickHouse, env: dict[str, str], late: Messages
) -> tuple[str, list[tuple[str, ...]]]:
    """Deliver the late answers; the recommendation rows a few sink batches later (well
    before the second erasure pass), and the query that reads them."""
    await produce(kafka.bootstrap, env["CROSSREC_TOPIC_RECOMMENDATIONS"], late)
    database = env["CROSSREC_CLICKHOUSE_DATABASE"]
    sql = f"SELECT rec_id FROM {database}.recommendations FINAL ORDER BY rec_id"
    await wait_for_rows(clickhouse, sql, until=2)
    await asyncio.sleep(1.5)  # the late answer would be in by now
    return sql, await wait_for_rows(clickhouse, sql, until=2)


async def test_answers_served_before_a_forget_are_never_written_back(
    kafka: LocalKafka, clickhouse: LocalClickHouse, unique: str, tmp_path: Path
) -> None:
    env = worker_env(kafka, clickhouse, unique, tmp_path)
    forget, late, expected = _forget_then_late_answers(env, unique)
    with running_worker(env, tmp_path / "worker.log"):
        await _forget(kafka, env, forget)
        sql, soon = await _answers_after_a_few_batches(kafka, clickhouse, env, late)
        await asyncio.sleep(6)  # past the second erasure pass
        rows = await wait_for_rows(clickhouse, sql, until=2)

    log = (tmp_path / "worker.log").read_text()[-3000:]
    assert sorted(r[0] for r in soon) == expected, log
    assert sorted(r[0] for r in rows) == expected, log


async def test_a_restarted_worker_still_keeps_out_answers_served_before_a_forget(
    kafka: LocalKafka, clickhouse: LocalClickHouse, unique: str, tmp_path: Path
) -> None:
    env = worker_env(kafka, clickhouse, unique, tmp_path)
    forget, late, expected = _forget_then_late_answers(env, unique)
    with running_worker(env, tmp_path / "first.log"):
        await _forget(kafka, env, forget)
    # The forget is committed; the worker that remembered it is gone. A new one starts, and
    # only then do the answers served before the forget reach the sink.
    with running_worker(env, tmp_path / "second.log"):
        _, rows = await _answers_after_a_few_batches(kafka, clickhouse, env, late)

    log = (tmp_path / "second.log").read_text()[-3000:]
    assert sorted(r[0] for r in rows) == expected, log
